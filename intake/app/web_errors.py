"""Domain errors -> HTTP replies, in one table (as :data:`screenpop.session.CLOSE_CODES` is for
the desktop socket).

Routes raise the packages' own errors; the handlers installed by :func:`install` answer every one
with its status and a body ``{"detail": <the error's words>, "error": <a stable code a client can
branch on>, "field": <the field at fault, or null>}``. An error the table does not list is our
bug: FastAPI's 500.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from intake.core.errors import (
    AlreadySeated,
    FixedPhone,
    InvalidRequest,
    NoPhone,
    NotSignedIn,
    PositionTaken,
    ReasonRequired,
    RequestTooLarge,
    StateChangeFailed,
    StaticMembership,
    UnknownPerson,
    UnknownPosition,
    WrongRole,
)
from routing.errors import (
    CallbackNotDialable,
    CallbackNotStarted,
    NoSuchTask,
    TaskConflict,
)
from screenpop.errors import (
    NotANumber,
    NotReplicated,
    NotYourCall,
    OutcomeRejected,
    TooManyRefusals,
    UnknownCall,
)
from screenpop.models import describe_errors


class ErrorReply(BaseModel):
    """The body of every refusal."""

    detail: str
    error: str
    field: str | None = None


def _refused(exc: Exception) -> bool:
    return bool(getattr(exc, "refused", False))  # StateChangeFailed and CallbackNotStarted both say


@dataclass(frozen=True, slots=True)
class HttpReply:
    kind: type[Exception]
    status: int
    error: str
    field: str | None = None  # the field at fault, unless the error carries its own ``field``
    only_if: Callable[[Exception], bool] | None = None


HTTP_ERRORS: tuple[HttpReply, ...] = (
    HttpReply(NotSignedIn, 401, "not-signed-in"),
    HttpReply(TooManyRefusals, 429, "too-many-refusals"),  # with Retry-After
    HttpReply(WrongRole, 403, "wrong-role"),
    HttpReply(UnknownPerson, 403, "not-configured"),
    HttpReply(RequestTooLarge, 413, "too-large"),
    HttpReply(InvalidRequest, 422, "invalid"),
    HttpReply(ReasonRequired, 422, "reason-required", "reason"),
    HttpReply(NotANumber, 422, "not-a-number", "number"),
    HttpReply(UnknownCall, 404, UnknownCall.code, "call_id"),
    HttpReply(NotYourCall, 403, NotYourCall.code, "call_id"),
    HttpReply(OutcomeRejected, 422, OutcomeRejected.code, "call_id"),
    HttpReply(NoSuchTask, 404, "no-such-task", "task_id"),
    HttpReply(TaskConflict, 409, "task-conflict", "task_id"),
    HttpReply(CallbackNotDialable, 422, "not-dialable", "number"),
    HttpReply(CallbackNotStarted, 502, "pbx-refused", only_if=_refused),
    HttpReply(CallbackNotStarted, 503, "pbx-unreachable"),
    HttpReply(PositionTaken, 409, PositionTaken.code, "position"),  # the detail names who holds it
    HttpReply(AlreadySeated, 409, AlreadySeated.code, "position"),
    HttpReply(UnknownPosition, 404, UnknownPosition.code, "position"),
    HttpReply(FixedPhone, 409, FixedPhone.code, "position"),
    HttpReply(NoPhone, 409, "no-position", "state"),  # intake's own refusal: sign in at a position first
    HttpReply(StaticMembership, 409, "static-member", "state"),  # intake's own refusal, with the fix
    HttpReply(StateChangeFailed, 502, "pbx-refused", only_if=_refused),
    HttpReply(StateChangeFailed, 503, "pbx-unreachable"),
    HttpReply(NotReplicated, 503, "not-replicated"),  # the primary has it, no replica yet: try again
)
"""First match wins: a subclass comes before its base."""

PROTOCOL_ERRORS = {404: "not-found", 405: "method-not-allowed"}
"""Refusals Starlette makes itself, before any route: the same body, with a code by status."""


def refusals(*statuses: int) -> dict[int | str, dict[str, object]]:
    """A route's ``responses=`` for OpenAPI: these statuses answer with :class:`ErrorReply`, and
    the description lists the codes the table gives at each."""
    def codes(status: int) -> str:
        listed = sorted({e.error for e in HTTP_ERRORS if e.status == status}) or [PROTOCOL_ERRORS[status]]
        return "error: " + ", ".join(listed)

    return {status: {"model": ErrorReply, "description": codes(status)} for status in statuses}


_HEADERS = {401: {"WWW-Authenticate": "Bearer"}}


def reply_for(exc: Exception) -> HttpReply | None:
    for entry in HTTP_ERRORS:
        if isinstance(exc, entry.kind) and (entry.only_if is None or entry.only_if(exc)):
            return entry
    return None


def error_response(exc: Exception) -> JSONResponse:
    entry = reply_for(exc)
    if entry is None:
        raise exc  # not ours to answer: the server's 500
    field = getattr(exc, "field", None) or entry.field
    body = ErrorReply(detail=str(exc), error=entry.error, field=field)
    headers = _HEADERS.get(entry.status, {})
    if isinstance(exc, TooManyRefusals):
        headers = {**headers, "Retry-After": str(exc.retry_after)}
    return JSONResponse(body.model_dump(mode="json"), status_code=entry.status, headers=headers or None)


_PLACES = frozenset({"body", "path", "query", "header", "cookie"})


def invalid_request(exc: RequestValidationError) -> InvalidRequest:
    """FastAPI's validation failure as ours: "field: problem" lines, the first field at fault."""
    errors = list(exc.errors())
    for error in errors:  # where the value was is the route's business, not the client's
        if error["loc"] and error["loc"][0] in _PLACES:
            error["loc"] = tuple(error["loc"][1:])
    if not errors:
        return InvalidRequest(None, ["invalid request"])
    first = errors[0]
    if first["type"] == "json_invalid":
        first["loc"] = ()  # a position in the text, not a field
    path = ".".join(str(part) for part in first["loc"])
    context = first.get("ctx")
    named = context.get("field") if isinstance(context, dict) else None  # a whole-body rule naming its field
    return InvalidRequest(path or (str(named) if named else None), describe_errors(errors))


async def _protocol_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    body = ErrorReply(detail=str(exc.detail), error=PROTOCOL_ERRORS.get(exc.status_code, "http-error"))
    return JSONResponse(body.model_dump(mode="json"), status_code=exc.status_code, headers=exc.headers)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(invalid_request(exc))


def install(app: FastAPI) -> None:
    for kind in {entry.kind for entry in HTTP_ERRORS}:
        app.add_exception_handler(kind, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _protocol_error)
