"""Every rule of a queue call's life lives in this file: the states, and a table of transitions.

A call is one caller's stay in one queue, keyed by the caller channel's Uniqueid. The table maps
(state, event kind) to the next state; a pair missing from it is an :class:`IllegalTransition`
naming the call, the state and the event. :mod:`routing.diagrams` draws the table for the docs.

Why a LEAVING state: Asterisk sends QueueCallerLeave both when a call is answered and when it
leaves unanswered (timeout, exit key), and at answer it may come just before AgentConnect. So a
leave without an abandon is held as LEAVING until AgentConnect (answered), the caller's hangup
or a short grace period (left another way) settles it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from intake.core.errors import IllegalTransition


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
}


def next_state(call_id: str, state: CallState, step: Step) -> CallState:
    try:
        return TRANSITIONS[(state, step)]
    except KeyError:
        raise IllegalTransition(call_id, state.value, step.value) from None


@dataclass(slots=True)
class Call:
    """One caller's stay in one queue, with the PBX-clock times the SLA clock needs."""

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

    def waited(self, now: float) -> float:
        """Seconds from queue entry to answer, or to ``now`` while still waiting."""
        end = self.answered_at if self.answered_at is not None else (self.ended_at or self.left_at or now)
        return max(0.0, end - self.queued_at)

    def waited_from_arrival(self, now: float) -> float | None:
        if self.arrived_at is None:
            return None
        end = self.answered_at if self.answered_at is not None else (self.ended_at or self.left_at or now)
        return max(0.0, end - self.arrived_at)

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

