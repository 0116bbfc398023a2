"""The overflow policy: pure decisions from a :class:`~routing.floor.Floor` to PBX actions.

999-first needs no decision of ours: the PBX's queue weights (config/asterisk/queues.conf) offer
a handler in both queues the 999 caller first. What the PBX cannot know is when the 999 target
is at risk; then 101-only handlers who are ready are *lent* to the 999 queues (QueueAdd with a
penalty, so the 999 line's own handlers are still offered its calls first), and *recalled* once
the 999 queues have been empty for ``clear_seconds``. The only memory is when the 999 line
last became clear (:class:`Memory`): that is the hysteresis that keeps lending from flapping.

A 101 call in progress is never interrupted: only READY handlers are lent, and the PBX never
rings a member on a call (``ringinuse = no``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from intake.core.handlers import HandlerState
from routing.floor import Desk, Floor

EMERGENCY = "999"
FREE = (HandlerState.READY, HandlerState.RINGING)  # a ringing handler is already taking one call


class Reason(Enum):
    """Why a decision was taken: the label it is counted under in /metrics."""

    TARGET_AT_RISK = "target-at-risk"
    OUTNUMBERED = "outnumbered"
    QUEUE_CLEAR = "queue-clear"


@dataclass(frozen=True, slots=True)
class Rules:
    at_fraction: float = 0.5
    when_outnumbered: bool = True
    clear_seconds: float = 20.0
    penalty: int = 5


@dataclass(frozen=True, slots=True)
class Lend:
    """QueueAdd a 101-only handler to a 999 queue, with a penalty."""

    member: str
    handler_id: str
    queue: str
    penalty: int
    reason: Reason
    detail: str


@dataclass(frozen=True, slots=True)
class Recall:
    """QueueRemove a lent handler from the 999 queue they were lent to."""

    member: str
    handler_id: str
    queue: str
    reason: Reason
    detail: str


Decision = Lend | Recall


@dataclass(frozen=True, slots=True)
class Memory:
    clear_since: float | None = None  # when the 999 line last had no call waiting


def at_risk(floor: Floor, rules: Rules) -> tuple[Reason, str] | None:
    """Why the 999 target is at risk now, or None."""
    waiting = [c for c in floor.waiting if c.line == EMERGENCY]
    if not waiting:
        return None
    oldest = max(waiting, key=lambda c: c.waited / c.target)
    if oldest.waited >= rules.at_fraction * oldest.target:
        return Reason.TARGET_AT_RISK, (f"oldest 999 call {oldest.call_id} waited {oldest.waited:.1f} s"
                                       f" >= {rules.at_fraction:g} of its {oldest.target:g} s target")
    free = sum(1 for d in floor.desks if EMERGENCY in d.lines and d.state in FREE)
    if rules.when_outnumbered and len(waiting) > free:
        return Reason.OUTNUMBERED, f"{len(waiting)} 999 calls waiting, {free} 999 handlers free"
    return None


def decide(floor: Floor, rules: Rules, memory: Memory) -> tuple[list[Decision], Memory]:
    """The decisions for this moment and the memory to pass to the next evaluation."""
    queues = floor.queues_of(EMERGENCY)
    clear = not any(c.line == EMERGENCY for c in floor.waiting)
    memory = replace(memory, clear_since=(memory.clear_since if memory.clear_since is not None else floor.now) if clear else None)
    risk = at_risk(floor, rules)
    if risk is not None:
        reason, detail = risk
        return [Lend(d.member, d.handler_id, q, rules.penalty, reason, detail)
                for d in floor.desks if _lendable(d) for q in queues if q not in d.lent_to], memory
    if memory.clear_since is not None and floor.now - memory.clear_since >= rules.clear_seconds:
        detail = f"no 999 call waiting for {floor.now - memory.clear_since:.1f} s"
        return [Recall(d.member, d.handler_id, q, Reason.QUEUE_CLEAR, detail)
                for d in floor.desks for q in sorted(d.lent_to) if floor.queues.get(q) == EMERGENCY], memory
    return [], memory


def _lendable(desk: Desk) -> bool:
    return EMERGENCY not in desk.lines and desk.state is HandlerState.READY
