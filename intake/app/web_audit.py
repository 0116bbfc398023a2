"""The audit trail at the web edge: why a route is asked (a call, a call-back task, or a typed
reason), and the auditor's export of the trail.

A look at a caller's data must say why (DPA 2018 s.62): the routes that show one take ``why:
Why`` and hand it to :func:`require` once the request is otherwise sound, so a request that is
wrong twice is told of its first fault; the reason goes into the entry the route records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response

from intake.app.audit import encode_lines
from intake.app.auth import AdminPrincipal, AuditorPrincipal, Principal
from intake.app.web_auth import signed_in
from intake.app.web_errors import refusals
from intake.core.audit import Action, RecordKind
from intake.core.errors import ReasonRequired, WrongRole
from screenpop.errors import NotANumber
from screenpop.models import is_history_number

if TYPE_CHECKING:
    from fastapi import FastAPI

    from intake.app.server import IntakeServer

IdText = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


async def _why(call: IdText = None, task: IdText = None,
               reason: Annotated[str | None, Query(max_length=500)] = None) -> str | None:
    """The call (``?call=``) or call-back task (``?task=``) this look is for, or the reason the
    person typed (``?reason=``); None when none was given."""
    if call:
        return f"call {call}"
    if task:
        return f"task {task}"
    if reason is not None and reason.strip():
        return f"reason: {reason.strip()}"
    return None


Why = Annotated[str | None, Depends(_why)]


def require(why: str | None, what: str) -> str:
    if why is None:
        raise ReasonRequired(what)
    return why


async def _auditor(who: Annotated[Principal, Depends(signed_in)]) -> Principal:
    if not isinstance(who, AuditorPrincipal | AdminPrincipal):
        raise WrongRole("auditor", "auditors only")
    return who


Auditor = Annotated[Principal, Depends(_auditor)]
JSONL: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/jsonl": {"schema": {"type": "string"}}}, "description": "One entry per line"}}


def add_audit_routes(app: FastAPI, server: IntakeServer) -> None:
    router = APIRouter(tags=["audit"])

    @router.get("/api/audit/{number}", response_class=Response, responses=JSONL | refusals(401, 403, 422))
    async def export(number: str, who: Auditor, why: Why, since: Annotated[float | None, Query(alias="from")] = None,
                     until: Annotated[float | None, Query(alias="to")] = None) -> PlainTextResponse:
        """Every entry of the audit trail about a number (``from``/``to``: epoch seconds), as JSON
        lines: a subject access request, a professional-standards inquiry. Itself recorded."""
        if not is_history_number(number):
            raise NotANumber(number)
        reason = require(why, "an export of the audit trail")
        found = [link.entry async for link in server.audit.store.entries(number=number, since=since, until=until)]
        server.audit.record(who, Action.DISCLOSED, RecordKind.AUDIT, why=reason, number=number,
                            record=f"{len(found)} entries")
        return PlainTextResponse(encode_lines(found), media_type="application/jsonl")

    app.include_router(router)
