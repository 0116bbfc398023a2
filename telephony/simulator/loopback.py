"""An AMI link to the simulated PBX without the socket: same bytes, same parsers, no I/O, no clock.

The PBX's events are encoded as Asterisk writes them and read back through
:class:`~telephony.framing.FrameReader` and :func:`~telephony.translate.translate`; an action is
encoded by :mod:`telephony.actions`, parsed by the simulator's own action handlers
(:mod:`telephony.simulator.actions`, as its AMI server does), and its answer settles through
:class:`~telephony.pending.PendingActions` exactly as in :class:`~telephony.session.AmiSession`.
What is left out is only what a socket adds: latency and partial reads. A run driven by a
virtual clock (scripts/busy_hour.py) therefore stays deterministic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from telephony.actions import Action, Response
from telephony.events import DomainEvent, PbxLinkUp
from telephony.frames import TERMINATOR, encode_frame, parse_frame
from telephony.framing import FrameReader
from telephony.pending import PendingActions
from telephony.simulator import actions as pbx_actions
from telephony.simulator.pbx import Pbx
from telephony.simulator.wire import AmiEvent
from telephony.translate import translate


class LoopbackLink:
    """Delivers the PBX's events to ``on_event`` as domain events, and sends actions to the PBX
    (it satisfies the ``Sender`` protocol of routing.steering and routing.handler_desk)."""

    def __init__(self, pbx: Pbx, on_event: Callable[[DomainEvent], object], pbx_version: str = "11.0.0") -> None:
        self.pbx = pbx
        self._on_event = on_event
        self._reader = FrameReader(expect_banner=False)
        self._pending = PendingActions()
        pbx.subscribe(self._from_pbx)
        on_event(PbxLinkUp(at=pbx.now(), pbx_version=pbx_version))

    def _from_pbx(self, event: AmiEvent) -> None:
        self._receive(event.encode())

    def _receive(self, data: bytes) -> None:
        for frame in self._reader.feed(data):
            if "ActionID" in frame and self._pending.answer(frame):
                continue
            event = translate(frame, self.pbx.now())
            if event is not None:
                self._on_event(event)

    async def send(self, action: Action, timeout: float | None = None) -> Response:
        """Answered at once: the PBX handles the action in the same instant it is sent."""
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending.add(action, future)
        request = parse_frame(action.encode().removesuffix(TERMINATOR))
        reply = pbx_actions.handle(self.pbx, pbx_actions.Action.of(request))
        for fields in reply.frames:
            self._receive(encode_frame(fields))
        if reply.after is not None:  # as the simulator's server: after the answer is written
            reply.after()
        return await future
