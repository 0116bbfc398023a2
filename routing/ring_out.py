"""Ring-outs: a handler whose phone rings for queue calls and is not answered is taken out of
distribution, so the next 999 caller does not spend the queue's ring timeout on the same phone.

Asterisk tells us with AgentRingNoAnswer (the registry's ``RingStopped(reason="rang-out")``):
the member's phone rang for the queue's timeout, or declined the call. A caller who hangs up
while the phone rings is *not* a ring-out: Asterisk sends no AgentRingNoAnswer then (recorded,
tests/fixtures/ami/README.md fact 3) and the registry says ``abandoned``.

:class:`RingOuts` is the rule, a pure state machine fed by the registry's notices: it counts each
configured handler's ring-outs in a row and, at ``after``, decides a :class:`PauseForRingOut`.
The count starts again when the handler answers a call or is seen not ready or logged out (a
break, or the pause itself), so a handler back from a break is judged afresh. A handler already
out of distribution when their phone rang out keeps their own reason. The edge that sends the
pause is :mod:`routing.ring_out_desk`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from intake.core.handlers import Handler, HandlerState
from intake.core.registry import Answered, HandlerChanged, Notice, RingStopped

IN_DISTRIBUTION = (HandlerState.READY, HandlerState.RINGING)
STANDS_DOWN = (HandlerState.NOT_READY, HandlerState.LOGGED_OUT)


@dataclass(frozen=True, slots=True)
class RingOutRule:
    after: int  # ring-outs in a row that pause a handler; 0 = never
    reason: str  # the QueuePause reason the desktop and the wallboard show
    wrapup_reason: str  # to tell a handler's derived state


@dataclass(frozen=True, slots=True)
class PauseForRingOut:
    """Pause ``handler_id`` on all their queues: ``call_id`` was the call their phone rang out on."""

    member: str
    handler_id: str
    call_id: str
    queue: str
    line: str
    ring_outs: int
    reason: str


class RingOuts:
    def __init__(self, rule: RingOutRule) -> None:
        self.rule = rule
        self.in_a_row: dict[str, int] = {}  # member -> ring-outs since their last answer or stand-down
        self.seen: Counter[tuple[str, str]] = Counter()  # (line, queue) -> every ring-out, paused for or not

    def feed(self, notices: Iterable[Notice], handlers: Callable[[str], Handler | None]) -> list[PauseForRingOut]:
        """The pauses the notices of one event call for; ``handlers(member)`` is the registry's view."""
        pauses = []
        for n in notices:
            if isinstance(n, RingStopped) and n.reason == "rang-out":
                self.seen[(n.call.line, n.call.queue)] += 1
                pause = self._rang_out(n, handlers(n.member))
                if pause is not None:
                    pauses.append(pause)
            elif isinstance(n, Answered):
                self.in_a_row.pop(n.member, None)
            elif isinstance(n, HandlerChanged):
                handler = handlers(n.member)
                if handler is not None and handler.state(self.rule.wrapup_reason)[0] in STANDS_DOWN:
                    self.in_a_row.pop(n.member, None)
        return pauses

    def _rang_out(self, n: RingStopped, handler: Handler | None) -> PauseForRingOut | None:
        if self.rule.after <= 0 or handler is None or handler.handler_id is None:
            return None  # off, or a member no configuration names: a supervisor's to manage
        if handler.state(self.rule.wrapup_reason)[0] not in IN_DISTRIBUTION:
            self.in_a_row.pop(n.member, None)  # already out (paused while it rang): their reason stands
            return None
        count = self.in_a_row.get(n.member, 0) + 1
        if count < self.rule.after:
            self.in_a_row[n.member] = count
            return None
        self.in_a_row.pop(n.member, None)
        return PauseForRingOut(n.member, handler.handler_id, n.call.call_id, n.call.queue, n.call.line, count, self.rule.reason)
