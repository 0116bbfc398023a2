"""The desktop's positions (hot-desking): the picker's list, sign in at one, leave it.

Routes say who may ask and shape the answer; the work is :class:`intake.app.positions.Positions`'.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from fastapi import APIRouter

from intake.app.web_auth import Handler
from intake.app.web_errors import refusals
from intake.app.web_models import (
    PositionChanged,
    PositionRequest,
    PositionsView,
    PositionView,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from intake.app.server import IntakeServer


def add_position_routes(app: FastAPI, server: IntakeServer) -> None:
    router = APIRouter(tags=["desktop"])

    @router.get("/api/me/positions", response_model=PositionsView, responses=refusals(401, 403))
    async def positions(who: Handler) -> PositionsView:
        """The positions of the handler's site, who holds each, and the one they hold."""
        seats = await server.positions.seats(who.id)
        return PositionsView(positions=[PositionView(**asdict(s)) for s in seats], mine=who.position)

    @router.post("/api/me/position", response_model=PositionChanged,
                 responses=refusals(401, 403, 404, 409, 413, 422, 502, 503))
    async def sign_in(body: PositionRequest, who: Handler) -> PositionChanged:
        """Sign in at a position: it is held for this handler, and its phone joins their queues
        under their id (ready, or not ready with ``ready: false``).

        409 ``position-taken`` when another handler holds it (``holder`` names them),
        ``already-at-a-position`` when this handler holds another (leave it first), ``fixed-phone``
        for a handler with a fixed phone; 404 ``unknown-position`` for none of that id on their site;
        502/503 when the PBX refused or could not be reached (the position is not kept then).
        """
        position = await server.positions.sign_in(who.id, body.position, ready=body.ready)
        return PositionChanged(position=position.id, status="signed-in")

    @router.delete("/api/me/position", response_model=PositionChanged, responses=refusals(401, 403, 409, 502, 503))
    async def leave(who: Handler) -> PositionChanged:
        """Leave the position: its phone leaves the handler's queues (QueueRemove), then it is
        free. 502/503 when the PBX refused or could not be reached: the position stays theirs."""
        left, _ = await server.positions.leave(who.id)
        return PositionChanged(position=left, status="left")

    app.include_router(router)
