"""The contact-centre floor as the policy sees it: a frozen picture built from the registry.

The policy never reads the registry itself: a picture of plain values makes its tests a table of
pictures, and keeps the one source of truth (the PBX's events, through the registry) upstream.
A handler is *lent* when the PBX has them in a queue of a line their configuration does not
give them: that fact comes from the PBX's own membership events, so it survives an intake
restart without any state of ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from intake.core.config import IntakeConfig
from intake.core.handlers import HandlerState
from intake.core.registry import Registry


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
    queues: Mapping[str, str]  # queue -> line

    def queues_of(self, line: str) -> tuple[str, ...]:
        return tuple(sorted(q for q, name in self.queues.items() if name == line))


@dataclass(frozen=True, slots=True)
class Roster:
    """What the configuration says of the floor, worked out once, not on every evaluation."""

    queues: Mapping[str, str]  # queue -> line
    lines_of: Mapping[str, frozenset[str]]  # handler id -> the lines they work (at whichever phone they sit)
    wrapup_reason: str


def roster_of(config: IntakeConfig) -> Roster:
    queues = {q: line.name for line in config.lines for q in line.queues}
    lines_of = {h.id: frozenset(queues[q] for q in h.queues if q in queues) for h in config.handlers}
    return Roster(queues, lines_of, config.wrapup_reason)


def floor_of(registry: Registry, roster: Roster, now: float) -> Floor:
    """Only handlers the PBX has in some queue get a desk: one in none is logged out, and the
    policy can neither lend nor recall them (this keeps an evaluation proportional to the
    handlers at work, not to every handler configured)."""
    queues = roster.queues
    waiting = tuple(WaitingCall(c.call_id, c.line, c.waited(now), c.target_seconds) for c in registry.waiting_calls())
    desks = []
    for member, seen in registry.handlers.items():
        handler_id = seen.handler_id  # who sits there now (a position's occupant changes)
        if handler_id is None or handler_id not in roster.lines_of or not seen.memberships:
            continue
        lines = roster.lines_of[handler_id]
        lent = frozenset(q for q in seen.memberships if q in queues and queues[q] not in lines)
        desks.append(Desk(member, handler_id, lines, seen.state(roster.wrapup_reason)[0], lent))
    return Floor(now, waiting, tuple(desks), queues)
