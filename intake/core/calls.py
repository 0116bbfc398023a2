"""Every rule of a queue call's life lives in this file: the states, and one table of transitions
with their effects.

A call is one caller's stay in one queue, keyed by the caller channel's Uniqueid. The table maps
(state, step) to the next state and the effects of entering it (stamp the answer, stop the other
phones ringing, settle the figures, finish the call...), as data: the registry carries them out
and nothing else sets a call's state. A pair missing from it is an :class:`IllegalTransition`
naming the call, the state and the event. :func:`call_table` lists the rows; :mod:`routing.diagrams` draws them for the docs.

Why a LEAVING state: Asterisk sends QueueCallerLeave both when a call is answered and when it
leaves unanswered (timeout, exit key), and at answer it may come just before AgentConnect. So a
leave without an abandon is held as LEAVING until AgentConnect (answered), the caller's hangup
or a short grace period (left another way) settles it.

Notices carry a :class:`CallView`, a frozen copy of the call as it stood when the notice was
given: a subscriber that reads it later (a pop's task) reads what was true then.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from intake.core.errors import IllegalTransition
from screenpop.places import Location


class CallState(Enum):
    QUEUED = "queued"
    RINGING = "ringing"
    LEAVING = "leaving"
    ANSWERED = "answered"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    LEFT = "left"

    @property
    def waiting(self) -> bool:
        return self in (CallState.QUEUED, CallState.RINGING)

    @property
    def final(self) -> bool:
        return self in (CallState.COMPLETED, CallState.ABANDONED, CallState.LEFT)


class Step(Enum):
    """What happened to a call, in the registry's terms (several domain events map to one)."""

    RANG = "rang"  # HandlerRang
    RANG_OUT = "rang-out"  # HandlerRingNoAnswer
    ANSWERED = "answered"  # CallAnswered, or ChannelSeen bridged on resync
    LEFT_QUEUE = "left-queue"  # CallLeftQueue
    ABANDONED = "abandoned"  # CallAbandoned
    COMPLETED = "completed"  # CallCompleted
    HUNG_UP = "hung-up"  # ChannelHungUp of the caller channel
    SETTLED = "settled"  # LEAVING grace period over
    VANISHED = "vanished"  # not in the PBX's picture after a resync
    FOUND_TALKING = "found-talking"  # a resync found it answered before we watched (in no figure)


class Effect(Enum):
    """What entering a state does, beyond the state itself (carried out by the registry)."""

    ANSWER = "answer"  # stamp answered_at (the first answer) and answered_by
    RINGS_ANSWERED_ELSEWHERE = "rings-answered-elsewhere"  # other phones stop: answered elsewhere
    TAKE = "take"  # the answering member's phone stops ringing; they are on the call (Answered)
    TAKE_UNSEEN = "take-unseen"  # the member is on the call; no Answered: nobody saw the answer
    SETTLE = "settle"  # a counted call's outcome is known: the figures and the journal (Settled)
    LEAVE = "leave"  # stamp left_at, unless it left earlier (LEAVING: the grace for AgentConnect starts)
    RINGS_ABANDONED = "rings-abandoned"  # every phone stops: the caller hung up
    RINGS_LEFT = "rings-left"  # every phone stops: the caller left the queue another way
    RINGS_VANISHED = "rings-vanished"  # every phone stops: the PBX's picture no longer has the call
    END = "end"  # stamp ended_at
    FREE_HANDLER = "free-handler"  # the answering member is off the call
    FINISH = "finish"  # no longer followed: the contact record is due (Finished)


Q, R, L, A, C, AB, LF = (
    CallState.QUEUED,
    CallState.RINGING,
    CallState.LEAVING,
    CallState.ANSWERED,
    CallState.COMPLETED,
    CallState.ABANDONED,
    CallState.LEFT,
)

TRANSITIONS: dict[tuple[CallState, Step], CallState] = {
    (Q, Step.RANG): R,
    (Q, Step.RANG_OUT): Q,  # late ring-out after another member's ring ended
    (Q, Step.ANSWERED): A,
    (Q, Step.LEFT_QUEUE): L,
    (Q, Step.ABANDONED): AB,
    (Q, Step.HUNG_UP): AB,  # caller gone with no QueueCallerAbandon seen (missed frame)
    (Q, Step.VANISHED): LF,
    (R, Step.RANG): R,  # ringall, or a second member rung
    (R, Step.RANG_OUT): Q,
    (R, Step.ANSWERED): A,
    (R, Step.LEFT_QUEUE): L,
    (R, Step.ABANDONED): AB,
    (R, Step.HUNG_UP): AB,
    (R, Step.VANISHED): LF,
    (L, Step.ANSWERED): A,
    (L, Step.ABANDONED): AB,
    (L, Step.RANG_OUT): L,
    (L, Step.HUNG_UP): LF,
    (L, Step.SETTLED): LF,
    (L, Step.VANISHED): LF,
    (L, Step.LEFT_QUEUE): L,
    (A, Step.LEFT_QUEUE): A,  # QueueCallerLeave right after AgentConnect
    (A, Step.RANG_OUT): A,  # ringall: the others' rings stop
    (A, Step.COMPLETED): C,
    (A, Step.HUNG_UP): C,  # AgentComplete missed: the hangup ends it
    (A, Step.VANISHED): C,
    (C, Step.HUNG_UP): C,
    (C, Step.LEFT_QUEUE): C,
    (AB, Step.LEFT_QUEUE): AB,  # QueueCallerLeave follows QueueCallerAbandon
    (AB, Step.HUNG_UP): AB,
    (LF, Step.HUNG_UP): LF,
    (Q, Step.FOUND_TALKING): A,
}


_ENTERING: dict[tuple[CallState, Step | None], tuple[Effect, ...]] = {
    (A, None): (Effect.ANSWER, Effect.RINGS_ANSWERED_ELSEWHERE, Effect.TAKE, Effect.SETTLE),
    (A, Step.FOUND_TALKING): (Effect.TAKE_UNSEEN,),
    (L, None): (Effect.LEAVE,),
    (AB, None): (Effect.LEAVE, Effect.END, Effect.RINGS_ABANDONED, Effect.SETTLE, Effect.FINISH),
    (LF, None): (Effect.LEAVE, Effect.END, Effect.RINGS_LEFT, Effect.SETTLE, Effect.FINISH),
    (LF, Step.VANISHED): (Effect.LEAVE, Effect.END, Effect.RINGS_VANISHED, Effect.SETTLE, Effect.FINISH),
    (C, None): (Effect.END, Effect.FREE_HANDLER, Effect.FINISH),
}
"""The effects of entering a state, by the step that entered it where that matters (None: any other)."""


class Transition(NamedTuple):
    state: CallState
    effects: tuple[Effect, ...]  # () when the step leaves the state as it was


def _transition(state: CallState, step: Step, target: CallState) -> Transition:
    if target is state:
        return Transition(target, ())
    return Transition(target, _ENTERING.get((target, step), _ENTERING.get((target, None), ())))


CALL_TABLE: dict[tuple[CallState, Step], Transition] = {
    (state, step): _transition(state, step, target) for (state, step), target in TRANSITIONS.items()
}
"""The call's table: (state, step) -> the next state and the effects of the move, in order."""


def call_table() -> Iterator[tuple[CallState, Step, CallState, tuple[Effect, ...]]]:
    """The table's rows (state, step, next state, effects), for the docs' diagrams and tests."""
    for (state, step), (target, effects) in CALL_TABLE.items():
        yield state, step, target, effects


def transition(call_id: str, state: CallState, step: Step) -> Transition:
    try:
        return CALL_TABLE[(state, step)]
    except KeyError:
        raise IllegalTransition(call_id, state.value, step.value) from None


def _waited(start: float | None, answered_at: float | None, ended_at: float | None, left_at: float | None,
            now: float) -> float | None:
    if start is None:
        return None
    end = answered_at if answered_at is not None else (ended_at or left_at or now)
    return max(0.0, end - start)


@dataclass(slots=True)
class Call:
    """One caller's stay in one queue, with the PBX-clock times the SLA clock needs: the
    registry's own record, changed only by the table's effects (notices carry :meth:`view`)."""

    call_id: str
    queue: str
    line: str
    target_seconds: float
    caller_number: str
    caller_name: str
    channel: str
    queued_at: float
    arrived_at: float | None = None  # the caller channel's creation at the PBX, where seen
    state: CallState = CallState.QUEUED
    ringing: set[str] = field(default_factory=set)  # members whose phones ring for it now
    rung: set[str] = field(default_factory=set)  # every member rung for it so far
    answered_by: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    left_at: float | None = None
    talk_seconds: float | None = None
    end_reason: str | None = None
    observed_from_start: bool = True  # False when learned from a resync snapshot
    silent: bool = False  # a 999 caller who could not speak (INTAKE_SILENT from the dialplan)
    counted: bool = True  # False for a call answered before we watched: in no figure
    outcome_seen: bool = True  # False when the outcome came while intake was not watching (its time is bounded, not known)
    # Who answered and at which position, as the PBX showed them at the answer (a position's
    # occupant changes later; the journal keeps who it was then).
    answered_handler: str | None = None
    answered_position: str | None = None
    location: Location | None = None  # the caller's, from the INVITE's PIDF-LO (INTAKE_GEO from the dialplan)

    def waited(self, now: float) -> float:
        """Seconds from queue entry to answer, or to ``now`` while still waiting."""
        return _waited(self.queued_at, self.answered_at, self.ended_at, self.left_at, now) or 0.0

    def waited_from_arrival(self, now: float) -> float | None:
        return _waited(self.arrived_at, self.answered_at, self.ended_at, self.left_at, now)

    def snapshot(self, now: float) -> dict[str, object]:
        return self.view().snapshot(now)

    def view(self) -> CallView:
        """The call as it stands now, frozen."""
        return CallView(self.call_id, self.queue, self.line, self.target_seconds, self.caller_number, self.caller_name,
                        self.channel, self.queued_at, self.arrived_at, self.state, frozenset(self.ringing),
                        frozenset(self.rung), self.answered_by, self.answered_at, self.ended_at, self.left_at,
                        self.talk_seconds, self.end_reason, self.observed_from_start, self.silent, self.counted,
                        self.outcome_seen, self.answered_handler, self.answered_position, self.location)


class CallView(NamedTuple):
    """A call as it stood when a notice was given: the same names as :class:`Call`, nothing to
    change. (A named tuple, not a frozen dataclass: one is made for every event that touches a
    call, on the hot path, and a tuple is made in a third of the time.)"""

    call_id: str
    queue: str
    line: str
    target_seconds: float
    caller_number: str
    caller_name: str
    channel: str
    queued_at: float
    arrived_at: float | None
    state: CallState
    ringing: frozenset[str]
    rung: frozenset[str]
    answered_by: str | None
    answered_at: float | None
    ended_at: float | None
    left_at: float | None
    talk_seconds: float | None
    end_reason: str | None
    observed_from_start: bool
    silent: bool
    counted: bool
    outcome_seen: bool
    answered_handler: str | None = None
    answered_position: str | None = None
    location: Location | None = None

    def waited(self, now: float) -> float:
        """Seconds from queue entry to answer, or to ``now`` while still waiting."""
        return _waited(self.queued_at, self.answered_at, self.ended_at, self.left_at, now) or 0.0

    def waited_from_arrival(self, now: float) -> float | None:
        return _waited(self.arrived_at, self.answered_at, self.ended_at, self.left_at, now)

    def snapshot(self, now: float) -> dict[str, object]:
        return {
            "call_id": self.call_id,
            "line": self.line,
            "queue": self.queue,
            "state": self.state.value,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "queued_at": self.queued_at,
            "arrived_at": self.arrived_at,
            "waited_seconds": round(self.waited(now), 3),
            "ringing": sorted(self.ringing),
            "answered_by": self.answered_by,
            "answered_at": self.answered_at,
        }


CallFacts = Call | CallView
"""What records and rules read of a call: the registry's own, or a notice's frozen view of it."""
