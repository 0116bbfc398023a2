"""Channels and time for the simulated PBX: what any Asterisk module would share.

Holds the clock (read once per command: see :func:`instant`), the live channels, the event
listeners, and the channel events every module raises (Newchannel, Newstate, Hangup).
:class:`telephony.simulator.pbx.Pbx` builds app_queue on top of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from telephony.simulator import wire
from telephony.simulator.channels import Channel, ChannelNamer, ChannelState

HANGUP_NORMAL = (16, "Normal Clearing")  # an answered call ending (recorded)

Listener = Callable[[wire.AmiEvent], None]
T = TypeVar("T")
S = TypeVar("S", bound="Switch")
P = ParamSpec("P")


def instant(command: Callable[Concatenate[S, P], T]) -> Callable[Concatenate[S, P], T]:
    """Run a command at one instant: every event it causes carries the same PBX time, so time
    on the wire never runs backwards inside a sequence. Nested commands share the outer instant."""

    def run(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._at is not None:
            return command(self, *args, **kwargs)
        self._at = self._clock()
        try:
            return command(self, *args, **kwargs)
        finally:
            self._at = None

    run.__doc__ = command.__doc__
    return run


class Switch:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._at: float | None = None
        self.boot_time = clock()
        self.namer = ChannelNamer()
        self.channels: dict[str, Channel] = {}  # every live channel by name
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def now(self) -> float:
        return self._clock() if self._at is None else self._at

    def publish(self, ev: wire.AmiEvent) -> None:
        for listener in self._listeners:
            listener(ev)

    def _chan_event(self, name: str, chan: Channel, *body: tuple[str, str]) -> None:
        self.publish(wire.event(name, wire.CALL, self.now(), chan.snapshot(), body))

    def _new_channel(self, endpoint: str, num: str, name: str, context: str, exten: str, linkedid: str = "",
                     state: ChannelState = ChannelState.DOWN) -> Channel:
        chan_name, uid = self.namer.next(endpoint, self.now())
        chan = Channel(chan_name, uid, linkedid or uid, num, name, context, exten, state=state, created_at=self.now())
        self.channels[chan_name] = chan
        self._chan_event("Newchannel", chan)
        return chan

    def _set_state(self, chan: Channel, state: ChannelState) -> None:
        chan.state = state
        self._chan_event("Newstate", chan)

    def _hangup(self, chan: Channel, cause: tuple[int, str] = HANGUP_NORMAL) -> None:
        self.channels.pop(chan.name, None)
        self._chan_event("Hangup", chan, ("Cause", str(cause[0])), ("Cause-txt", cause[1]))

