"""The HTTP face of the browser pages: the handler's own state, reports, Prometheus, static files.

Routes check who is asking and shape the answer; handler states are :mod:`routing.handler_desk`'
business, reports :mod:`intake.app.journal`'s.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from intake.app.auth import Principal, Role
from intake.app.journal import hourly_report, report_csv
from intake.core.config import sendable
from intake.core.errors import StateChangeFailed, StaticMembership
from routing.handler_desk import Wanted
from screenpop.models import describe
from telephony.values import PAUSE_REASON

if TYPE_CHECKING:
    from fastapi import FastAPI

    from intake.app.server import IntakeServer

STATIC = Path(__file__).with_name("static")
PAGES = {"/desktop": "desktop.html", "/wallboard": "wallboard.html", "/reports": "reports.html"}


def _unpadded(value: object) -> object:
    return value.strip(" ") if isinstance(value, str) else value


class StateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    state: Literal["ready", "not-ready", "logged-out"]
    # The rule every pause reason meets, so what the action would refuse is a 422 naming
    # ``reason`` here, and nothing is sent. Spaces around it are the desktop's, not the reason's.
    reason: Annotated[str, BeforeValidator(_unpadded), sendable(PAUSE_REASON, optional=True)] = ""


def add_ui_routes(app: FastAPI, server: IntakeServer, principal: Any, supervisor: Any) -> None:
    """``principal`` and ``supervisor`` are web.py's auth dependencies."""
    router = APIRouter()

    def handler_only(who: Principal) -> str:
        if who.role is not Role.HANDLER:
            raise HTTPException(403, "handlers only: sign in with your own desktop token")
        return who.id

    @router.get("/api/me", tags=["desktop"])
    async def me(request: Request) -> dict[str, Any]:
        """The signed-in handler: name, the state the PBX reports, settings the desktop needs."""
        return server.handler_me(handler_only(principal(request)))

    @router.post("/api/me/state", tags=["desktop"])
    async def set_state(request: Request) -> dict[str, Any]:
        """Ready, not ready (with a reason) or logged out, on every queue the handler works.

        409 when a queue to leave holds the handler by queues.conf (static member: the reply says
        so), 502 when the PBX refused, 503 when it could not be reached; nothing half-done is hidden:
        the reply to a retry reflects what the PBX then reports.
        """
        handler_id = handler_only(principal(request))
        try:
            body = StateRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise HTTPException(422, "; ".join(describe(exc))) from None
        if body.state == "not-ready" and not body.reason:
            raise HTTPException(422, "reason: required when not ready")
        try:
            sent = await server.desk.request(handler_id, Wanted(body.state), body.reason)
        except StaticMembership as exc:  # intake's own refusal, with the fix: not the PBX's 502
            raise HTTPException(409, str(exc)) from None
        except StateChangeFailed as exc:
            raise HTTPException(502 if exc.refused else 503, str(exc)) from None
        return {"requested": body.state, "actions": sent}

    def day_report(request: Request, day: str, line: str | None) -> Any:
        supervisor(principal(request))
        try:
            wanted = date.fromisoformat(day)
        except ValueError:
            raise HTTPException(422, f"{day[:20]!r} is not a day (YYYY-MM-DD)") from None
        if line is not None and line not in {l.name for l in server.config.lines}:
            raise HTTPException(422, f"no line {line[:10]!r}")
        return wanted

    @router.get("/api/reports/{day}", tags=["supervisor"])
    async def report(request: Request, day: str, line: str | None = Query(None)) -> dict[str, Any]:
        """Per hour of a local day, from the call journal: answered within target, Home Office
        buckets, abandoned, waits over 2 minutes."""
        wanted = day_report(request, day, line)
        rows = hourly_report(await server.journal.day(wanted), line)
        return {"day": wanted.isoformat(), "line": line, "hours": rows}

    @router.get("/api/reports/{day}/csv", tags=["supervisor"])
    async def report_download(request: Request, day: str, line: str | None = Query(None)) -> PlainTextResponse:
        wanted = day_report(request, day, line)
        rows = hourly_report(await server.journal.day(wanted), line)
        name = f"intake-{wanted.isoformat()}-{line or 'all'}.csv"
        return PlainTextResponse(report_csv(rows), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @router.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(server.prometheus), media_type=CONTENT_TYPE_LATEST)

    for path, page in PAGES.items():
        router.add_api_route(path, _page(page), methods=["GET"], include_in_schema=False)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _page(name: str) -> Any:
    async def page() -> FileResponse:
        # Pages carry no secret (the token is typed in): no-store only so an upgrade shows at once.
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    return page
