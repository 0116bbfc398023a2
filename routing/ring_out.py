"""Ring-outs: a handler whose phone rings for queue calls and is not answered is taken out of
distribution, so the next 999 caller does not spend the queue's ring timeout on the same phone.

Asterisk tells us with AgentRingNoAnswer (the registry's ``RingStopped(reason="rang-out")``):
the member's phone rang for the queue's timeout, or declined the call. A caller who hangs up
while the phone rings is *not* a ring-out: Asterisk sends no AgentRingNoAnswer then (recorded,
tests/fixtures/ami/README.md fact 3) and the registry says ``abandoned``.

:class:`RingOuts` is the rule, a pure state machine fed by the registry's notices: it counts each
configured handler's ring-outs in a row and, at ``after``, decides a :class:`PauseForRingOut`.
Its steps are one table, :data:`TRANSITIONS`.
The count starts again when the handler answers a call or is seen not ready or logged out (a
break, or the pause itself), so a handler back from a break is judged afresh. A handler already
out of distribution when their phone rang out keeps their own reason. The edge that sends the
pause is :mod:`routing.ring_out_desk`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from intake.core.handlers import Handler, HandlerState
from intake.core.registry import Answered, HandlerChanged, Notice, RingStopped
from routing.errors import IllegalRingOutStep

IN_DISTRIBUTION = (HandlerState.READY, HandlerState.RINGING)
STANDS_DOWN = (HandlerState.NOT_READY, HandlerState.LOGGED_OUT)


class Count(Enum):
    """Where a member's count of ring-outs in a row stands."""

    CLEAR = "clear"  # none since their last answer or stand-down
    COUNTING = "counting"  # some, fewer than the rule's ``after``


class RingOutEvent(Enum):
    RANG_OUT = "rang-out"  # their phone rang out, short of ``after`` in a row
    RANG_OUT_LAST = "rang-out-last"  # the ring-out that makes ``after`` in a row
    RANG_OUT_WHILE_OUT = "rang-out-while-out"  # they went out of distribution while it rang
    ANSWERED = "answered"
    STOOD_DOWN = "stood-down"  # seen not ready or logged out (a break, or the pause itself)


class Act(Enum):
    COUNT = "count"  # one more in a row
    RESET = "reset"  # judged afresh from now
    PAUSE = "pause"  # take them out of distribution (and judge them afresh)


@dataclass(frozen=True, slots=True)
class Move:
    next: Count
    effects: tuple[Act, ...] = ()


C, N, RE = Count.CLEAR, Count.COUNTING, RingOutEvent
TRANSITIONS: dict[tuple[Count, RingOutEvent], Move] = {
    (C, RE.RANG_OUT): Move(N, (Act.COUNT,)),
    (C, RE.RANG_OUT_LAST): Move(C, (Act.PAUSE,)),  # after = 1
    (C, RE.RANG_OUT_WHILE_OUT): Move(C),  # their own reason stands
    (C, RE.ANSWERED): Move(C),
    (C, RE.STOOD_DOWN): Move(C),
    (N, RE.RANG_OUT): Move(N, (Act.COUNT,)),
    (N, RE.RANG_OUT_LAST): Move(C, (Act.PAUSE, Act.RESET)),
    (N, RE.RANG_OUT_WHILE_OUT): Move(C, (Act.RESET,)),
    (N, RE.ANSWERED): Move(C, (Act.RESET,)),
    (N, RE.STOOD_DOWN): Move(C, (Act.RESET,)),
}
"""(where the count stands, what happened) -> where it stands next, and what to do: the whole rule.
Every pair has a row (a ring-out can come in any state); the classifier (:meth:`RingOuts.feed`)
says which ring-out it is."""


def step(member: str, state: Count, event: RingOutEvent) -> Move:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalRingOutStep(member, state.value, event.value) from None


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
                handler = handlers(n.member)
                if self.rule.after <= 0 or handler is None or handler.handler_id is None:
                    continue  # off, or a member no configuration names: a supervisor's to manage
                in_a_row = self._step(n.member, self._ring_out(n.member, handler))
                if in_a_row:
                    pauses.append(PauseForRingOut(n.member, handler.handler_id, n.call.call_id, n.call.queue, n.call.line,
                                                  in_a_row, self.rule.reason))
            elif isinstance(n, Answered):
                self._step(n.member, RE.ANSWERED)
            elif isinstance(n, HandlerChanged):
                handler = handlers(n.member)
                if handler is not None and handler.state(self.rule.wrapup_reason)[0] in STANDS_DOWN:
                    self._step(n.member, RE.STOOD_DOWN)
        return pauses

    def _ring_out(self, member: str, handler: Handler) -> RingOutEvent:
        if handler.state(self.rule.wrapup_reason)[0] not in IN_DISTRIBUTION:
            return RE.RANG_OUT_WHILE_OUT  # already out (paused while it rang)
        return RE.RANG_OUT_LAST if self.in_a_row.get(member, 0) + 1 >= self.rule.after else RE.RANG_OUT

    def _step(self, member: str, event: RingOutEvent) -> int:
        """Take the table's step for ``member`` (the one place its count changes); when it decides
        a pause, the ring-outs in a row that called for it, else 0."""
        count = self.in_a_row.get(member, 0)
        move = step(member, Count.COUNTING if count else Count.CLEAR, event)
        for act in move.effects:
            if act is Act.COUNT:
                self.in_a_row[member] = count + 1
            elif act is Act.RESET:
                self.in_a_row.pop(member, None)
        return count + 1 if Act.PAUSE in move.effects else 0
