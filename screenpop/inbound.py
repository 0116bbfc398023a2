"""What a desktop may send, and the one function that turns raw text into it or a BadMessage.

Checks go cheapest first: the size of the raw text, then JSON and schema in one pass (pydantic
parses and validates together, so a deep or huge document is never built as Python objects).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from screenpop.errors import (
    BadMessage,
    MessageNotJson,
    MessageTooLarge,
    UnknownMessageType,
)
from screenpop.models import Grading, Ident, Notes, Thrive, describe

MAX_MESSAGE_BYTES = 16 * 1024


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


class OutcomeSubmission(_In):
    """A handler files an outcome. Who and when are the server's to say, so they are not fields."""

    type: Literal["outcome"]
    call_id: Ident
    grading: Grading
    thrive: Thrive = Thrive()
    notes: Notes = ""


class Ack(_In):
    """The desktop has shown everything up to ``seq``; optional, for its own bookkeeping."""

    type: Literal["ack"]
    seq: Annotated[int, Field(ge=0)]


class Pong(_In):
    type: Literal["pong"]


class Auth(_In):
    """A sign-in (:mod:`screenpop.signin`) sent after the session cookie already signed the socket
    in (a page cannot tell whether it did): taken as a sign of life, and nothing else."""

    type: Literal["auth"]
    token: str = Field(max_length=8192, repr=False)


class _OutcomeCall(BaseModel):
    """Just the call an outcome names: so a refused outcome's error says which form it is for."""

    model_config = ConfigDict(frozen=True, strict=True, extra="ignore")
    type: Literal["outcome"]
    call_id: Ident


_OUTCOME_CALL: TypeAdapter[_OutcomeCall] = TypeAdapter(_OutcomeCall)

ClientMessage = Annotated[OutcomeSubmission | Ack | Pong | Auth, Field(discriminator="type")]
_CLIENT_MESSAGE: TypeAdapter[OutcomeSubmission | Ack | Pong | Auth] = TypeAdapter(ClientMessage)
_TYPES = "'outcome', 'ack' or 'pong'"  # (and 'auth', the sign-in: screenpop.signin)


def parse_client_message(raw: str, limit: int = MAX_MESSAGE_BYTES) -> OutcomeSubmission | Ack | Pong | Auth:
    # len() counts characters and UTF-8 has at least one byte per character: only encode when
    # the cheap count does not already settle it.
    if len(raw) > limit or len(raw.encode("utf-8", "surrogatepass")) > limit:
        raise MessageTooLarge(len(raw.encode("utf-8", "surrogatepass")), limit)
    try:
        return _CLIENT_MESSAGE.validate_json(raw)
    except ValidationError as exc:
        raise _bad_message(exc, raw) from None


def _outcome_call_id(raw: str) -> str | None:
    try:
        return _OUTCOME_CALL.validate_json(raw).call_id
    except ValidationError:
        return None


def _bad_message(exc: ValidationError, raw: str) -> BadMessage:
    errors = exc.errors(include_url=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        return MessageNotJson(describe(exc)[0])
    if first["type"] == "union_tag_not_found":
        return UnknownMessageType(f"a message needs a \"type\": one of {_TYPES}")
    if first["type"] == "union_tag_invalid":
        return UnknownMessageType(f"type {first['ctx'].get('tag')!r} is not one of {_TYPES}")
    # Errors are located under the message type ("outcome.notes"): the desktop knows which type
    # it sent, so the path starts at the field.
    problems = tuple(describe(exc, skip=1))
    return BadMessage("; ".join(problems), problems, call_id=_outcome_call_id(raw))
