"""Composing pop messages: pure functions from a call and its caller's history to messages.

No I/O and no clock: the caller passes the times, so the same input always gives the same pop.
A pop never waits for history: ``history=None`` composes a pop saying why there is none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from screenpop.messages import (
    CalledBackView,
    Caller,
    CloseReason,
    HistoryStatus,
    HistoryView,
    MarkerView,
    Pop,
    PopAnswered,
    PopClosed,
    PopFlag,
    RecentContact,
    RepeatCaller,
)
from screenpop.models import (
    CallerHistory,
    ContactRecord,
    Line,
    Marker,
    MarkerKind,
    is_history_number,
)
from screenpop.places import Location, NearbyIncident

NOTES_EXCERPT_CHARS = 280
"""A pop is read in the seconds the phone rings: an excerpt, not the whole file."""

REPEAT_CALLS = 2
"""A pop flags a repeat caller with more than this many calls in the lookup's window (the ringing
one included): by default, from the third call within the window. The server passes
``[routing] repeat_calls`` from its configuration."""

_MARKER_RANK = {kind: rank for rank, kind in enumerate(get_args(MarkerKind))}


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    """A queued call as the registry sees it when a handler's phone starts ringing."""

    call_id: str
    line: Line
    queue: str
    caller_number: str
    caller_name: str
    queued_at: float
    """PBX epoch of the caller's entry to the queue."""
    waited_so_far: float
    silent: bool = False
    location: Location | None = None
    """The caller's location if it came with the call (its PIDF-LO) or is already known."""
    target_seconds: float | None = None
    """The line's answer target: the desktop colours the wait clock against it."""


def compose_pop(call: CallSnapshot, history: CallerHistory | None, *, repeat_calls: int = REPEAT_CALLS,
                incidents: tuple[NearbyIncident, ...] = ()) -> Pop:
    """``incidents``: those near ``call.location`` (screenpop.incidents), in the order to show them."""
    status: HistoryStatus
    if history is not None:
        status, view = "ok", _history_view(history)
    else:
        status, view = ("unavailable" if is_history_number(call.caller_number) else "withheld"), None
    repeat = None
    if history is not None and history.calls_in_window > repeat_calls:
        repeat = RepeatCaller(calls=history.calls_in_window, window_seconds=history.window_seconds)
    flags: list[PopFlag] = []
    if call.silent:
        flags.append("silent-call")
    if repeat is not None:
        flags.append("repeat-caller")
    return Pop(
        call_id=call.call_id,
        line=call.line,
        queue=call.queue,
        caller=Caller(number=call.caller_number, name=call.caller_name),
        queued_at=call.queued_at,
        waited_seconds=call.waited_so_far,
        history_status=status,
        history=view,
        flags=tuple(flags),
        repeat=repeat,
        location=call.location,
        target_seconds=call.target_seconds,
        incidents=incidents if call.location is not None else (),
    )


def compose_answered(call_id: str, *, answered_at: float, handler_id: str) -> PopAnswered:
    return PopAnswered(call_id=call_id, answered_at=answered_at, handler_id=handler_id)


def compose_closed(call_id: str, reason: CloseReason, *, at: float) -> PopClosed:
    return PopClosed(call_id=call_id, reason=reason, at=at)


def _history_view(history: CallerHistory) -> HistoryView:
    markers = sorted(history.markers, key=lambda m: (_MARKER_RANK[m.kind], -m.created_at))
    return HistoryView(
        count_24h=history.count_24h,
        count_30d=history.count_30d,
        markers=tuple(map(_marker_view, markers)),
        recent=tuple(map(_recent_contact, history.recent)),
    )


def _marker_view(marker: Marker) -> MarkerView:
    return MarkerView(id=marker.id, kind=marker.kind, detail=marker.detail,
                      created_at=marker.created_at, expires_at=marker.expires_at)


def _recent_contact(record: ContactRecord) -> RecentContact:
    called_back, view = record.callback, None
    outcome = called_back.outcome if called_back else record.outcome
    notes = outcome.notes if outcome else ""
    if called_back is not None:
        view = CalledBackView(task_id=called_back.task_id, handler_id=record.handler_id,
                              handler_name=called_back.handler_name, contact=called_back.outcome.contact)
    return RecentContact(
        call_id=record.call_id,
        at=record.at,
        line=record.line,
        queue=record.queue,
        disposition=record.disposition,
        waited_seconds=record.waited_seconds,
        talked_seconds=record.talked_seconds,
        grading=outcome.grading if outcome else None,
        notes_excerpt=notes if len(notes) <= NOTES_EXCERPT_CHARS else notes[: NOTES_EXCERPT_CHARS - 1] + "…",
        callback=view,
    )
