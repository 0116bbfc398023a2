"""The contact-centre floor as the policy sees it: a frozen picture built from the registry.

The policy never reads the registry itself: a picture of plain values makes its tests a table of
pictures, and keeps the one source of truth (the PBX's events, through the registry) upstream.
A handler is *lent* when the PBX has them in a queue of a line their configuration does not
give them: that fact comes from the PBX's own membership events, so it survives an intake
restart without any state of ours.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.config import IntakeConfig
from intake.handlers import HandlerState
from intake.registry import Registry


@dataclass(frozen=True, slots=True)
class WaitingCall:
    call_id: str
    line: str
    waited: float  # seconds since queue entry
    target: float


@dataclass(frozen=True, slots=True)
class Desk:
    """One configured handler: the lines they work, their state, the queues they were lent to."""

    member: str
    handler_id: str
    lines: frozenset[str]
    state: HandlerState
    lent_to: frozenset[str] = frozenset()  # queues of lines not in ``lines`` the PBX has them in


@dataclass(frozen=True, slots=True)
class Floor:
    now: float
    waiting: tuple[WaitingCall, ...]
    desks: tuple[Desk, ...]
    queues: dict[str, str]  # queue -> line

    def queues_of(self, line: str) -> tuple[str, ...]:
        return tuple(sorted(q for q, name in self.queues.items() if name == line))


def floor_of(registry: Registry, config: IntakeConfig, now: float) -> Floor:
    queues = {q: line.name for line in config.lines for q in line.queues}
    waiting = tuple(WaitingCall(c.call_id, c.line, c.waited(now), c.target_seconds) for c in registry.waiting_calls())
    desks = []
    for h in config.handlers:
        lines = frozenset(queues[q] for q in h.queues if q in queues)
        seen = registry.handlers.get(h.member)
        state = seen.state(config.wrapup_reason)[0] if seen else HandlerState.LOGGED_OUT
        joined = seen.memberships if seen else {}
        lent = frozenset(q for q in joined if q in queues and queues[q] not in lines)
        desks.append(Desk(h.member, h.id, lines, state, lent))
    return Floor(now, waiting, tuple(desks), queues)
