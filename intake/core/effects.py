"""The call table's effects (:class:`~intake.core.calls.Effect`), carried out on the registry.

Each is a small function of the registry, the call, the step that moved it, the time, the member
it concerns (the answering one) and the notices being told. The table says which run, in order;
nothing else changes a call's state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from intake.core.calls import Call, Effect, Step
from intake.core.notices import (
    Answered,
    Finished,
    HandlerChanged,
    Settled,
    Told,
)

if TYPE_CHECKING:
    from intake.core.registry import Registry


def answer(reg: Registry, call: Call, step: Step, at: float, member: str | None, told: Told) -> None:
    call.answered_at = at if call.answered_at is None else call.answered_at
    _answered_by(reg, call, member)


def _answered_by(reg: Registry, call: Call, member: str | None) -> None:
    call.answered_by = member
    call.answered_handler = reg.handler_of(member) if member else None
    call.answered_position = reg.seating.position_of(member) if member else None

def rings_answered_elsewhere(reg: Registry, call: Call, step: Step, at: float, member: str | None, told: Told) -> None:
    for other in sorted(call.ringing - {member}):
        reg.stop_ringing(call, other, "answered-elsewhere", told)

def take(reg: Registry, call: Call, step: Step, at: float, member: str | None, told: Told) -> None:
    if member is not None:
        reg.stop_ringing(call, member, None, told)
        h = reg.handler(member)
        h.on_call = call.call_id
        reg.wrapup_ended(h, "on another call", None)  # its pause, if it comes, comes during this call
        told.about(Answered, call, member)
        told.plain(HandlerChanged(member))

def take_unseen(reg: Registry, call: Call, step: Step, at: float, member: str | None, told: Told) -> None:
    _answered_by(reg, call, member)
    if member:
        h = reg.handler(member)
        h.on_call = call.call_id
        reg.wrapup_ended(h, "on another call", None)
        told.plain(HandlerChanged(member))

def settle(reg: Registry, call: Call, step: Step, at: float, member: str | None, told: Told) -> None:
    if call.counted:
        reg.metrics.settled(call)
        told.about(Settled, call)
        reg.summarise(call, at)

def leave(reg: Registry, call: Call, step: Step, at: float, member: str | None, told: Told) -> None:
    call.left_at = call.left_at or at

def end(reg: Registry, call: Call, step: Step, at: float, member: str | None, told: Told) -> None:
    call.ended_at = at

def free_handler(reg: Registry, call: Call, step: Step, at: float, member: str | None, told: Told) -> None:
    if call.answered_by is not None:
        h = reg.handler(call.answered_by)
        if h.on_call == call.call_id:
            h.on_call = None
            if call.answered_at is not None:  # shown in wrap-up from now: never "ready" until its pause comes
                reg.wrapup_starts(h, call, at)
            told.plain(HandlerChanged(call.answered_by))

def finish(reg: Registry, call: Call, step: Step, at: float, member: str | None, told: Told) -> None:
    call.end_reason = call.end_reason or step.value
    del reg.calls[call.call_id]
    told.about(Finished, call)
    if not call.counted:  # it never settled: its one line now
        reg.summarise(call, at)


_Effect = Callable[["Registry", Call, Step, float, str | None, Told], None]


def _rings_end(reason: str) -> _Effect:
    """Every phone still ringing for the call stops, for ``reason``."""
    def rings_end(reg: Registry, call: Call, step: Step, at: float, member: str | None, told: Told) -> None:
        for other in sorted(call.ringing):
            reg.stop_ringing(call, other, reason, told)
    return rings_end


EFFECTS: dict[Effect, _Effect] = {
    Effect.ANSWER: answer,
    Effect.RINGS_ANSWERED_ELSEWHERE: rings_answered_elsewhere,
    Effect.TAKE: take,
    Effect.TAKE_UNSEEN: take_unseen,
    Effect.SETTLE: settle,
    Effect.LEAVE: leave,
    Effect.END: end,
    Effect.RINGS_ABANDONED: _rings_end("abandoned"),
    Effect.RINGS_LEFT: _rings_end("left"),
    Effect.RINGS_VANISHED: _rings_end("vanished"),
    Effect.FREE_HANDLER: free_handler,
    Effect.FINISH: finish,
}
