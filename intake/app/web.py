"""The HTTP face of the server: REST for supervisors and desktops, the two WebSocket streams.

Routes only check who is asking, call the server and shape the answer; the work is elsewhere.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from intake.app.auth import Principal, Role
from intake.app.web_callbacks import add_callback_routes
from intake.app.web_ui import add_ui_routes
from screenpop.errors import (
    BadMessage,
    NotANumber,
    NotYourCall,
    OutcomeRejected,
    UnknownCall,
)
from screenpop.inbound import OutcomeSubmission, parse_client_message
from screenpop.models import Marker, MarkerKind, Outcome, describe, is_history_number

if TYPE_CHECKING:
    from intake.app.server import IntakeServer


def _server(request: Request) -> IntakeServer:
    return request.app.state.server  # type: ignore[no-any-return]


def _principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    who = _server(request).tokens.who(token.strip()) if scheme.lower() == "bearer" else None
    if who is None:
        raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return who


def _supervisor(who: Annotated[Principal, Depends(_principal)]) -> Principal:
    if who.role is not Role.SUPERVISOR:
        raise HTTPException(403, "supervisors only")
    return who


Supervisor = Annotated[Principal, Depends(_supervisor)]
Anyone = Annotated[Principal, Depends(_principal)]
Server = Annotated["IntakeServer", Depends(_server)]


class NewMarker(BaseModel):
    """A warning marker as a handler or supervisor files it; who and when come from the server."""

    model_config = ConfigDict(extra="forbid", strict=True)
    number: str = Field(..., max_length=32)
    kind: MarkerKind
    detail: str = Field("", max_length=1000)
    expires_at: float | None = None


def create_app(server: IntakeServer) -> FastAPI:
    app = FastAPI(title="intake", version="0.1.0", description="Call-intake server: live 999/101 queues, screen-pops, caller history.")
    app.state.server = server

    @app.get("/healthz", tags=["ops"])
    async def healthz(server: Server) -> JSONResponse:
        """Is the PBX link up, Redis reachable, and every task of the server working? 503 when
        not; ``degraded`` names the tasks that failed and have not worked since (``tasks``: each
        one's failures and last error)."""
        health = await server.health()
        return JSONResponse(health, status_code=200 if health["ok"] else 503)

    @app.get("/api/queues", tags=["supervisor"])
    async def queues(server: Server, who: Supervisor) -> dict[str, Any]:
        """Live metrics per queue and per line: waiting, longest wait, offered, answered within target..."""
        return server.queue_report()

    @app.get("/api/calls", tags=["supervisor"])
    async def calls(server: Server, who: Supervisor) -> dict[str, Any]:
        """Calls in progress, oldest first."""
        return {"calls": server.live_calls()}

    @app.get("/api/handlers", tags=["supervisor"])
    async def handlers(server: Server, who: Supervisor) -> dict[str, Any]:
        return {"handlers": server.handler_views()}

    @app.get("/api/history/{number}", tags=["history"])
    async def history(number: str, server: Server, who: Anyone) -> Any:
        """A caller's recent contacts, counts in the last 24 h and 30 days, calls in the repeat
        window (those in progress included, as a pop counts them), and warning markers."""
        if not is_history_number(number):
            raise HTTPException(422, f"{number!r} is not a telephone number")
        try:
            found = await server.history.lookup(number, time.time(), server.pops.unrecorded.of(number))
        except NotANumber as exc:
            raise HTTPException(422, str(exc)) from None
        return found.model_dump(mode="json")

    @app.post("/api/markers", status_code=201, tags=["history"])
    async def add_marker(body: dict[str, Any], server: Server, who: Anyone) -> Any:
        """File a warning marker against a number; every later pop for it shows the marker."""
        try:
            new = NewMarker.model_validate(body)
            marker = Marker(id=uuid.uuid4().hex[:16], number=new.number, kind=new.kind, detail=new.detail,
                            created_at=time.time(), created_by=who.id, expires_at=new.expires_at)
        except ValidationError as exc:
            raise HTTPException(422, describe(exc)) from None
        await server.history.add_marker(marker)
        return marker.model_dump(mode="json")

    @app.post("/api/outcomes", status_code=201, tags=["history"])
    async def file_outcome(request: Request, server: Server, who: Anyone) -> dict[str, str]:
        """A handler files the outcome of a call they answered (the same as over the desktop socket).

        Body: ``{"call_id", "grading", "thrive"?, "notes"?}``; who and when come from the token and
        the server's clock.
        """
        if who.role is not Role.HANDLER:
            raise HTTPException(403, "only the handler who answered a call files its outcome")
        raw = (await request.body()).decode("utf-8", "replace")
        try:
            message = parse_client_message(raw.replace("{", '{"type":"outcome",', 1) if raw.lstrip().startswith("{") else raw)
        except BadMessage as exc:
            raise HTTPException(422, str(exc)) from None
        if not isinstance(message, OutcomeSubmission):
            raise HTTPException(422, "body must be an outcome")
        outcome = Outcome(call_id=message.call_id, handler_id=who.id, at=time.time(),
                          grading=message.grading, thrive=message.thrive, notes=message.notes)
        try:
            await server.file_outcome(who.id, outcome)
        except UnknownCall as exc:
            raise HTTPException(404, str(exc)) from None
        except NotYourCall as exc:
            raise HTTPException(403, str(exc)) from None
        except OutcomeRejected as exc:
            raise HTTPException(422, str(exc)) from None
        return {"call_id": outcome.call_id, "status": "saved"}

    app.router.add_websocket_route("/ws/desktop", server.desktop_endpoint)
    add_ui_routes(app, server, _principal, _supervisor)
    add_callback_routes(app, server, _principal, _supervisor)

    @app.websocket("/ws/supervisor")
    async def supervisor(websocket: WebSocket, token: str = Query("")) -> None:
        await server.supervisors.serve(websocket, token=token)

    return app
