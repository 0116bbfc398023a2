"""The HTTP face of the server: REST for supervisors and desktops, the two WebSocket streams.

Routes only say who may ask (:mod:`intake.app.web_auth`), call the server and shape the answer
(:mod:`intake.app.web_models`); a refusal is the packages' own error, answered by the one table
in :mod:`intake.app.web_errors`. The work is elsewhere.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Depends, FastAPI, Query, Request, Response, WebSocket

from intake.app import web_errors
from intake.app.balancer import NodeState
from intake.app.oidc_flow import add_sign_in_routes
from intake.app.web_audit import Why, add_audit_routes, require
from intake.app.web_auth import Anyone, Handler, Supervisor
from intake.app.web_body import BodyLimit
from intake.app.web_callbacks import add_callback_routes
from intake.app.web_docs import add_docs_routes
from intake.app.web_errors import refusals
from intake.app.web_forecast import add_forecast_routes
from intake.app.web_headers import SecurityHeaders
from intake.app.web_incidents import BULK_PATH, MAX_BULK_BYTES, add_incident_routes
from intake.app.web_models import (
    Calls,
    Handlers,
    Health,
    NewMarker,
    OutcomeForm,
    OutcomeSaved,
    QueueReport,
    View,
)
from intake.app.web_positions import add_position_routes
from intake.app.web_returns import add_returns_routes
from intake.app.web_ui import add_ui_routes
from intake.core.audit import Action, RecordKind
from screenpop.errors import NotANumber
from screenpop.inbound import MAX_MESSAGE_BYTES
from screenpop.models import CallerHistory, Marker, Outcome, is_history_number

if TYPE_CHECKING:
    from intake.app.server import IntakeServer


async def _server(request: Request) -> IntakeServer:
    return request.app.state.server  # type: ignore[no-any-return]


MAX_BODY_BYTES = MAX_MESSAGE_BYTES
"""Every body the API takes is a short form: the desktop socket's limit for the same forms."""

Server = Annotated["IntakeServer", Depends(_server)]


def create_app(server: IntakeServer) -> FastAPI:
    # A missing Content-Type is read as JSON, as the routes did before they took models.
    # docs_url=None: FastAPI's /docs fetches Swagger UI from a CDN; ours is served locally (web_docs).
    app = FastAPI(title="intake", version="0.1.0", strict_content_type=False,
                  description="Call-intake server: live 999/101 queues, screen-pops, caller history.",
                  docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None)
    app.state.server = server
    app.state.principals = server.tokens
    app.state.positions = server.positions  # the handler dependency fills Principal.position from it
    app.state.limits = server.limits
    app.state.authenticator = server.authenticator
    web_errors.install(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES, larger={BULK_PATH: MAX_BULK_BYTES})
    app.add_middleware(SecurityHeaders, tls=server.config.http.tls is not None,  # outermost: on every answer
                       images_from=server.config.desktop.tile_origin)

    @app.get("/healthz", tags=["ops"], response_model=Health,
             responses={503: {"model": Health, "description": "Not healthy (for the balancer: not serving): the same report"},
                        **refusals(422)})
    async def healthz(server: Server, response: Response,
                      asker: Annotated[Literal["balancer"] | None, Query(alias="for")] = None) -> View:
        """Is the PBX link up, Redis reachable, and every task of the server working? 503 when
        not; ``degraded`` names the tasks that failed and have not worked since (``tasks``: each
        one's failures and last error); ``node``: starting, serving or stopping.

        ``?for=balancer`` is the load balancer's check: the same report answered from memory
        (Redis is not pinged: ``redis.reachable`` is null), 200 while the node serves (takes new
        sockets), 503 while it is starting or stopping (intake.app.balancer).
        """
        if asker == "balancer":
            health = await server.health(ping_redis=False)
            response.status_code = 200 if health["node"] is NodeState.SERVING else 503
            return health
        health = await server.health()
        response.status_code = 200 if health["ok"] else 503
        return health

    @app.get("/api/queues", tags=["supervisor"], response_model=QueueReport, responses=refusals(401, 403))
    async def queues(server: Server, who: Supervisor) -> View:
        """Live metrics per queue and per line: waiting, longest wait, offered, answered within target..."""
        return server.queue_report()

    @app.get("/api/calls", tags=["supervisor"], response_model=Calls, responses=refusals(401, 403))
    async def calls(server: Server, who: Supervisor) -> View:
        """Calls in progress, oldest first."""
        return server.callers_by_api.shown_to(who, {"calls": server.live_calls()})

    @app.get("/api/handlers", tags=["supervisor"], response_model=Handlers, responses=refusals(401, 403))
    async def handlers(server: Server, who: Supervisor) -> View:
        return {"handlers": server.handler_views()}

    @app.get("/api/history/{number}", tags=["history"], response_model=CallerHistory, responses=refusals(401, 422))
    async def history(number: str, server: Server, who: Anyone, why: Why) -> CallerHistory:
        """A caller's recent contacts, counts in the last 24 h and 30 days, calls in the repeat
        window (those in progress included, as a pop counts them), and warning markers.

        Says why: ``?call=`` (the call it is for), ``?task=`` (a call-back task) or ``?reason=``
        (typed by the person asking); refused without (``reason-required``). The look is recorded
        in the audit trail with who asked and why."""
        if not is_history_number(number):
            raise NotANumber(number)
        reason = require(why, "a look at a caller's history")
        found = await server.history.lookup(number, time.time(), server.pops.unrecorded.of(number))
        server.audit.record(who, Action.CONSULTED, RecordKind.HISTORY, why=reason, number=number, record=number)
        return found

    @app.post("/api/markers", status_code=201, tags=["history"], response_model=Marker,
              responses=refusals(401, 413, 422, 503))
    async def add_marker(new: NewMarker, server: Server, who: Anyone, why: Why) -> Marker:
        """File a warning marker against a number; every later pop for it shows the marker.
        Recorded in the audit trail, with ``?call=``/``?task=``/``?reason=`` when given."""
        marker = Marker(id=uuid.uuid4().hex[:16], number=new.number, kind=new.kind, detail=new.detail,
                        created_at=time.time(), created_by=who.id, expires_at=new.expires_at)
        await server.history.add_marker(marker)
        server.audit.record(who, Action.ALTERED, RecordKind.MARKER, why=why or f"marker filed: {marker.kind}",
                            number=marker.number, record=marker.id)
        return marker

    @app.post("/api/outcomes", status_code=201, tags=["history"], response_model=OutcomeSaved,
              responses=refusals(401, 403, 404, 413, 422, 503))
    async def file_outcome(form: OutcomeForm, server: Server, who: Handler) -> OutcomeSaved:
        """A handler files the outcome of a call they answered (the same as over the desktop socket).

        Who and when come from the token and the server's clock.
        """
        outcome = Outcome(call_id=form.call_id, handler_id=who.id, at=time.time(),
                          grading=form.grading, thrive=form.thrive, notes=form.notes)
        await server.file_outcome(who.id, outcome, who)
        return OutcomeSaved(call_id=outcome.call_id, status="saved")

    app.router.add_websocket_route("/ws/desktop", server.desktop_endpoint)
    add_ui_routes(app, server)
    add_callback_routes(app, server)
    add_position_routes(app, server)
    add_incident_routes(app, server)
    add_returns_routes(app, server)
    add_forecast_routes(app, server)
    if server.sign_in is not None:
        add_sign_in_routes(app, server.sign_in)
    add_audit_routes(app, server)
    add_docs_routes(app)

    @app.websocket("/ws/supervisor")
    async def supervisor(websocket: WebSocket) -> None:
        await server.supervisors.serve(websocket)

    return app
