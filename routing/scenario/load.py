"""The hour's calls, drawn once from the profile's seed, and the people who play them.

:func:`draw_calls` fixes everything random before a run: when each call arrives, on which line,
and how long its phone rings, its talk, the handler's wrap-up after it and the caller's patience.
Both runs of scripts/busy_hour.py take the same list, so they differ only in how the calls were
routed (common random numbers: a call that was answered in one run and abandoned in the other
was the same caller with the same patience).

:class:`People` plays those callers and the handlers against the simulated PBX, reacting to its
events on timers of the PBX clock, never inside an event callback.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from routing.scenario.profile import LINES, Profile
from telephony.simulator.calls import Phase
from telephony.simulator.pbx import Pbx
from telephony.simulator.timers import Timers
from telephony.simulator.wire import AmiEvent


@dataclass(frozen=True, slots=True)
class Arrival:
    """One call of the hour; every duration in seconds."""

    at: float  # from the start of the hour
    line: str
    number: str
    ring: float  # AgentCalled to the handler answering
    talk: float
    wrapup: float  # the answering handler's pause after it
    patience: float  # in the queue, before the caller hangs up


def draw_calls(profile: Profile) -> list[Arrival]:
    """The hour's calls in arrival order: per line and interval, a Poisson process at the
    interval's rate (memoryless, so starting each interval afresh is exact)."""
    rng = random.Random(profile.seed)
    calls = []
    for line in LINES:
        load = profile.lines[line]
        for i, per_hour in enumerate(load.arrivals_per_hour):
            start, end = i * profile.interval_seconds, (i + 1) * profile.interval_seconds
            t = start
            while per_hour > 0 and (t := t + rng.expovariate(per_hour / 3600)) < end:
                calls.append(Arrival(t, line, f"07700{rng.randrange(10**6):06d}", profile.ring_seconds.draw(rng),
                                     load.talk_seconds.draw(rng), load.wrapup_seconds.draw(rng), load.patience_seconds.draw(rng)))
    return sorted(calls, key=lambda a: (a.at, a.line))


class People:
    """The hour's callers and handlers. Callers dial at their time and hang up when their
    patience runs out; a handler answers after the call's ring time, talks, hangs up, then
    pauses for wrap-up (with the reason intake reads as wrap-up) and comes back ready."""

    def __init__(self, pbx: Pbx, calls: list[Arrival], queue_of: dict[str, str], wrapup_reason: str, start: float) -> None:
        self._pbx = pbx
        self._queue_of = queue_of
        self._wrapup_reason = wrapup_reason
        self.timers = Timers(pbx.now)
        self._by_call: dict[str, Arrival] = {}  # PBX call id (caller Uniqueid) -> its draws
        self._to_place = len(calls)
        for arrival in calls:
            self.timers.at(start + arrival.at, functools.partial(self._dial, arrival))
        pbx.subscribe(self._on_event)

    @property
    def all_dialled(self) -> bool:
        return self._to_place == 0

    def _dial(self, arrival: Arrival) -> None:
        self._to_place -= 1
        self._by_call[self._pbx.arrive(self._queue_of[arrival.line], arrival.number)] = arrival

    def _on_event(self, ev: AmiEvent) -> None:
        arrival = self._by_call.get(ev.get("Uniqueid"))
        if arrival is None:
            return
        call_id, member = ev.get("Uniqueid"), ev.get("Interface")
        if ev.name == "QueueCallerJoin":
            self.timers.after(arrival.patience, lambda: self._give_up(call_id))
        elif ev.name == "AgentCalled":
            leg = ev.get("DestUniqueid")
            self.timers.after(arrival.ring, lambda: self._answer(member, leg))
        elif ev.name == "AgentConnect":
            self.timers.after(arrival.talk, lambda: self._hang_up(call_id, member))
        elif ev.name == "AgentComplete":
            self.timers.after(0, lambda: self._wrap_up(member, arrival.wrapup))

    def _give_up(self, call_id: str) -> None:
        call = self._pbx.calls.get(call_id)
        if call is not None and call.phase in (Phase.WAITING, Phase.RINGING):
            self._pbx.hangup_caller(call_id)

    def _answer(self, member: str, leg: str) -> None:
        # Only if this phone still rings for this leg: the caller may have given up meanwhile.
        if any(c.attempt and c.attempt.member == member and c.attempt.channel.uniqueid == leg for c in self._pbx.calls.values()):
            self._pbx.answer(member)

    def _hang_up(self, call_id: str, member: str) -> None:
        call = self._pbx.calls.get(call_id)
        if call is not None and call.phase is Phase.CONNECTED:
            self._pbx.hangup_member(member)

    def _wrap_up(self, member: str, seconds: float) -> None:
        self._pbx.members.pause(member, True, reason=self._wrapup_reason)
        self.timers.after(seconds, lambda: self._pbx.members.pause(member, False))
