"""What the server sends to a handler's desktop, as JSON objects with a ``type``.

Two families:

- :class:`HandlerMessage` (``pop``, ``pop.answered``, ``pop.closed``, and kinds added later):
  the handler's own stream. Each is about one call and gets the handler's next ``seq`` when the
  hub publishes it (``seq`` is 0 until then); a desktop resumes from the last ``seq`` it saw.
- Replies to one socket (``snapshot``, ``error``, ``outcome.saved``, ``ping``) and the handler's
  own state (``me``): not part of the stream, so they carry no sequence number of their own
  (``snapshot.seq`` is the stream position it stands for).

The models are output only: nothing here parses a desktop's message (see :mod:`screenpop.inbound`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, SerializeAsAny

from screenpop.models import CallbackContact, Disposition, Grading, Line, MarkerKind
from screenpop.places import Location, NearbyIncident

CloseReason = Literal["answered-elsewhere", "abandoned", "ended", "rang-out", "left", "vanished",
                      "callback-closed", "callback-linked", "callback-withdrawn"]
"""left: the caller left the queue unanswered another way (timeout, exit key); vanished: the
call was gone from the PBX's picture after the link came back. The call-back reasons: its
outcome was filed; the caller called again; it went back to be offered to another handler (this
one went not ready, logged out or lost their desktop)."""
PopFlag = Literal["silent-call", "repeat-caller"]
HistoryStatus = Literal["ok", "withheld", "unavailable"]
"""withheld: no number to look up; unavailable: the lookup failed, the pop went without it."""


class Outgoing(BaseModel):
    """Base of everything sent to a desktop: frozen, and encoded to JSON text once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def encode(self) -> str:
        return self.model_dump_json()


# --- the handler's stream -----------------------------------------------------------------------


class HandlerMessage(Outgoing):
    type: str
    seq: int = 0
    call_id: str


class Caller(Outgoing):
    number: str
    name: str


class MarkerView(Outgoing):
    id: str
    kind: MarkerKind
    detail: str
    created_at: float
    expires_at: float | None


class CalledBackView(Outgoing):
    """Who called the number back and what they got (the grading and notes are the contact's)."""

    task_id: str
    handler_id: str | None
    handler_name: str
    contact: CallbackContact


class RecentContact(Outgoing):
    """A call from the number, or (``disposition`` "called back", ``callback`` set) our call-back
    to it. ``waited_seconds``: for a call-back, from the caller hanging up to the call-back."""

    call_id: str
    at: float
    line: Line
    queue: str
    disposition: Disposition
    waited_seconds: float
    talked_seconds: float | None
    grading: Grading | None
    notes_excerpt: str
    callback: CalledBackView | None = None


class HistoryView(Outgoing):
    count_24h: int
    count_30d: int
    markers: tuple[MarkerView, ...]
    recent: tuple[RecentContact, ...]


class RepeatCaller(Outgoing):
    """Why a pop says "repeat-caller": ``calls`` from the number in the last ``window_seconds``,
    the ringing one included."""

    calls: int
    window_seconds: float


class Pop(HandlerMessage):
    """The handler's phone is ringing for this call: who is calling, and what we know of them.

    ``repeat`` is set exactly when ``flags`` holds "repeat-caller"."""

    type: Literal["pop"] = "pop"
    line: Line
    queue: str
    caller: Caller
    queued_at: float
    waited_seconds: float
    history_status: HistoryStatus
    history: HistoryView | None
    flags: tuple[PopFlag, ...] = ()
    repeat: RepeatCaller | None = None
    location: Location | None = None
    incidents: tuple[NearbyIncident, ...] = ()
    """Nearest and newest first, those ``at_address`` before the rest."""
    target_seconds: float | None = None
    """The line's answer target: the desktop colours the wait clock against it."""

    def encode(self) -> str:
        # A pop with no location (or no target) is sent as it was before they existed.
        left_out = ({"location", "incidents"} if self.location is None else set()) | (
            {"target_seconds"} if self.target_seconds is None else set())
        return self.model_dump_json(exclude=left_out or None)


class PopPlace(HandlerMessage):
    """The caller's location (and the incidents near it) arrived after the pop: the desktop
    updates the pop it shows for ``call_id`` and ignores one for a call it does not show."""

    type: Literal["pop.place"] = "pop.place"
    location: Location
    incidents: tuple[NearbyIncident, ...] = ()


class PopAnswered(HandlerMessage):
    type: Literal["pop.answered"] = "pop.answered"
    answered_at: float
    handler_id: str


class PopClosed(HandlerMessage):
    """The pop should go: another handler answered, the caller hung up, the call ended, or this
    handler's phone stopped ringing. Desktops ignore a close for a call they do not show."""

    type: Literal["pop.closed"] = "pop.closed"
    reason: CloseReason
    at: float


class CallbackOffer(HandlerMessage):
    """An abandoned 999 caller to ring back: offered to a ready 999 handler. ``call_id`` is
    ``callback:<task id>`` so it shares the stream's resume and close rules with pops.

    Sent again whenever the task changes while it is on the desktop (the call-back started, the
    PBX could not ring the handler's phone, it was escalated): the newest one is what to show.
    """

    type: Literal["callback"] = "callback"
    task_id: str
    number: str
    abandoned_at: float
    waited_seconds: float
    queue: str
    history: tuple[str, ...]  # what happened to the task so far, oldest first: "<epoch> <what>"
    status: Literal["open", "calling"] = "open"
    escalated: bool = False
    problem: str = ""  # why the last call-back did not go through, in the handler's words
    cannot_dial: str = ""  # why the number cannot be called back at all (withheld...): no "Call back now"


# --- beside the stream --------------------------------------------------------------------------

HandlerStateName = Literal["logged-out", "ready", "ringing", "on-call", "wrap-up", "not-ready"]


class HandlerStatus(Outgoing):
    """The handler's own state, as ``GET /api/me`` answers it: sent on every connect and resume,
    then whenever it changes. Only the newest matters, so it has no ``seq`` and is never replayed.

    ``reason``: why not ready (the pause reason the PBX reports); ``ring_out_reason`` is the one
    intake itself gives when it pauses a handler whose phone rang unanswered."""

    type: Literal["me"] = "me"
    handler_id: str
    name: str
    state: HandlerStateName
    reason: str
    queues: tuple[str, ...]
    wrapup_reason: str
    ring_out_reason: str
    position: str | None = None  # the position (hot-desking) the PBX has them at; None: a fixed phone, or none
    not_ready_after_call: str | None = None
    """Not ready pressed during a call: on the call and in its wrap-up, the reason they go not
    ready with when the wrap-up ends (the PBX offers them no call meanwhile). None otherwise."""

    def left_out(self) -> set[str]:
        """What is not sent when unset: the message stays as it was before positions (a fixed
        phone's handler) and before "not ready after this call"."""
        return {name for name in ("position", "not_ready_after_call") if getattr(self, name) is None}

    def encode(self) -> str:
        return self.model_dump_json(exclude=self.left_out() or None)


# --- replies to one socket ----------------------------------------------------------------------


class Snapshot(Outgoing):
    """Instead of a replay too old to serve: every pop still active, as of stream position ``seq``."""

    type: Literal["snapshot"] = "snapshot"
    seq: int
    pops: tuple[SerializeAsAny[HandlerMessage], ...]


class ErrorReply(Outgoing):
    type: Literal["error"] = "error"
    code: str
    message: str
    problems: tuple[str, ...] = ()
    call_id: str | None = None


class OutcomeSaved(Outgoing):
    type: Literal["outcome.saved"] = "outcome.saved"
    call_id: str


class Ping(Outgoing):
    """Heartbeat: the desktop answers ``{"type": "pong"}``; silence for long means a dead peer."""

    type: Literal["ping"] = "ping"
    at: float
