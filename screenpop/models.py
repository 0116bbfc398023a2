"""What the history store keeps about a caller: contacts, outcomes, markers.

Every model is frozen; those that can arrive from outside (a desktop's outcome, an imported
marker) are strict and forbid unknown fields, so a typo in a field name is an error rather than
a silently dropped value. Text is bounded everywhere: a handler's notes go to Redis, to other
handlers' screens and into logs, and none of those should take a megabyte from one form.

:func:`describe` turns a pydantic ``ValidationError`` into short "path: problem" lines, the one
wording used by the importer and by the desktop error replies.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from screenpop.places import Location

Line = Literal["999", "101"]
Disposition = Literal["answered", "abandoned", "left", "called back"]
"""answered by a handler; abandoned: the caller hung up waiting; left: timed out or redirected;
called back: not a call from the number but the police's call-back of an abandoned 999 call."""
Grading = Literal["emergency", "priority", "scheduled", "resolved"]
CallbackContact = Literal["reached", "no-answer", "voicemail", "unobtainable"]
"""What a call-back got: the caller, nobody, their voicemail, or a number that does not ring."""
MarkerKind = Literal[
    "firearms at address",
    "weapons at address",
    "violence towards police",
    "domestic abuse",
    "vulnerable child",
    "vulnerable adult",
    "mental health",
    "medical condition",
    "hearing or speech impaired",
    "language needs",
    "repeat caller",
]
"""A closed vocabulary, in the order a pop shows it (officers' safety first): the desktop colours
and orders markers by kind, so a free-text kind would be a marker nobody sees. Whatever does not
fit goes in ``detail``."""

NUMBER_PATTERN = r"^\+?[0-9]{3,20}$"
_NUMBER = re.compile(NUMBER_PATTERN)

Number = Annotated[str, StringConstraints(pattern=NUMBER_PATTERN)]
"""Digits with an optional leading +: it becomes part of a Redis key, so nothing else gets in."""
IDENT_PATTERN = r"^[A-Za-z0-9._:@-]{1,64}$"
_IDENT = re.compile(IDENT_PATTERN)
Ident = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=IDENT_PATTERN)]
"""Asterisk Uniqueids ("1700000000.42"), handler ids, marker ids."""
Epoch = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
ShortText = Annotated[str, StringConstraints(max_length=500)]
Notes = Annotated[str, StringConstraints(max_length=4000)]
NAME_CHARS = 120
"""A person's name as shown on a pop."""


def is_ident(value: str) -> bool:
    """True for what an :data:`Ident` accepts: a call whose id is not one can have no record."""
    return bool(_IDENT.match(value))


def is_history_number(number: str) -> bool:
    """False for withheld ("anonymous", "") and malformed numbers: there is no history to look up."""
    return bool(_NUMBER.match(number))


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


class Thrive(_Model):
    """The handler's THRIVE assessment, a short text per heading (empty when not assessed)."""

    threat: ShortText = ""
    harm: ShortText = ""
    risk: ShortText = ""
    investigation: ShortText = ""
    vulnerability: ShortText = ""
    engagement: ShortText = ""


class Outcome(_Model):
    """What the handler decided about one call. ``handler_id`` and ``at`` come from the server's
    session, never from the desktop's message: a desktop cannot file an outcome as someone else."""

    call_id: Ident
    handler_id: Ident
    at: Epoch
    grading: Grading
    thrive: Thrive = Thrive()
    notes: Notes = ""


class CallbackOutcome(_Model):
    """What came of a call-back, as the handler files it. ``grading`` and ``notes`` are a call
    outcome's (same vocabulary, same limits); a caller reached must be graded like any call."""

    contact: CallbackContact
    grading: Grading | None = None
    notes: Notes = ""

    @model_validator(mode="after")
    def _graded_when_reached(self) -> CallbackOutcome:
        if self.contact == "reached" and self.grading is None:
            # ``field`` in the context: the web edge names the field at fault from it, not from the text.
            raise PydanticCustomError("grading_required", "grading: required when the caller was reached",
                                      {"field": "grading"})
        return self

    def summary(self) -> str:
        graded = f", {self.grading}" if self.grading else ""
        return f"{self.contact}{graded}" + (f": {self.notes[:80]}" if self.notes else "")


class CalledBack(_Model):
    """What a "called back" contact adds: the abandoned call it followed up (the call-back task's
    id), who called (the name as it was then: the history outlives the configuration) and what
    came of it."""

    task_id: Ident
    handler_name: Annotated[str, StringConstraints(min_length=1, max_length=NAME_CHARS)]
    outcome: CallbackOutcome


class ContactRecord(_Model):
    """One call from a number, as it ended, or one call-back to it (``disposition`` "called
    back", ``callback`` set: exactly one without the other is refused).

    ``outcome`` is filled in by lookups only: it is stored apart because it may be filed before or
    after the call's record is written. A call-back's outcome is in ``callback``, filed with it.
    ``waited_seconds``: for a call, queue entry to answer or to leaving the queue; for a
    call-back, from the caller hanging up to the call-back (how long they waited for us)."""

    call_id: Ident
    number: Number
    at: Epoch
    line: Line
    queue: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    handler_id: Ident | None = None
    waited_seconds: Seconds
    talked_seconds: Seconds | None = None
    disposition: Disposition
    outcome: Outcome | None = None
    callback: CalledBack | None = None
    location: Location | None = None
    """Where the caller was on this call, as the call's own PIDF-LO or the location service said
    (never one taken from history: its ``at`` stays the fix's time). Personal data: it goes with the
    record, so it expires with the history's retention and an erasure."""

    @model_validator(mode="after")
    def _callback_exactly_when_called_back(self) -> ContactRecord:
        if (self.disposition == "called back") != (self.callback is not None):
            raise PydanticCustomError("callback_mismatch", "callback: given exactly when the disposition is 'called back'")
        return self


class Marker(_Model):
    """A warning attached to a number, shown on every pop for it until it expires or is removed."""

    id: Ident
    number: Number
    kind: MarkerKind
    detail: Annotated[str, StringConstraints(max_length=1000)] = ""
    created_at: Epoch
    created_by: Ident
    expires_at: Epoch | None = None

    def is_current(self, now: float) -> bool:
        return self.expires_at is None or self.expires_at > now


class CallerHistory(_Model):
    """All a pop shows about a number, as of ``now``: newest contacts first, call-backs among them.

    ``count_24h`` and ``count_30d`` count recorded calls *from* the number (earlier, settled
    calls: the desktop says "Finished calls from this number"); ``calls_in_window`` counts every
    call from the number in the last ``window_seconds``, the ones not recorded yet included (the
    call ringing now, when the lookup was told of it). A call-back is a call *to* the number, made
    by us: it is in ``recent`` but in none of the counts, so it can never make a caller look like
    a repeat caller."""

    number: Number
    recent: tuple[ContactRecord, ...]
    count_24h: Annotated[int, Field(ge=0)]
    count_30d: Annotated[int, Field(ge=0)]
    markers: tuple[Marker, ...]
    calls_in_window: Annotated[int, Field(ge=0)]
    window_seconds: Annotated[float, Field(gt=0)]


def describe(exc: ValidationError, *, skip: int = 0) -> list[str]:
    """One "path: problem" line per error, e.g. "kind: 'firearm' is not one of 'a', 'b'"; a
    problem with the whole document (not JSON, not an object) has no path.

    ``skip`` drops leading path parts (a tagged union puts the tag first).
    """
    return describe_errors(exc.errors(include_url=False), skip=skip)


def describe_errors(errors: Iterable[ErrorDetails], *, skip: int = 0) -> list[str]:
    """:func:`describe` for errors already taken out of their exception (FastAPI's request
    validation hands over the list)."""
    lines = []
    for error in errors:
        path = ".".join(str(part) for part in error["loc"][skip:])
        lines.append(f"{path}: {_problem(error)}" if path else _problem(error))
    return lines


def _problem(error: object) -> str:
    assert isinstance(error, dict)
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind in ("literal_error", "enum"):
        return f"{_short(value)} is not one of {ctx.get('expected')}"
    if kind == "json_invalid":
        return f"not JSON ({ctx.get('error', 'invalid')})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a JSON object"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    if kind == "string_too_long":
        return f"longer than {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        return f"{_short(value)} is not in the expected form"
    return str(error["msg"])


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
