"""Positions (hot-desking): the desktop's picker, signing in at one and leaving it; the
supervisors' list of every position, and freeing one a handler left held.

Routes say who may ask and shape the answer; the work is :class:`intake.app.positions.Positions`'.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from fastapi import APIRouter

from intake.app.web_auth import Handler, Supervisor
from intake.app.web_errors import refusals
from intake.app.web_models import (
    PositionChanged,
    PositionReleased,
    PositionRequest,
    PositionsView,
    PositionView,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from intake.app.server import IntakeServer


def add_position_routes(app: FastAPI, server: IntakeServer) -> None:
    router = APIRouter()

    @router.get("/api/me/positions", tags=["desktop"], response_model=PositionsView, responses=refusals(401, 403))
    async def positions(who: Handler) -> PositionsView:
        """The positions of the handler's site, who holds each, and the one they hold."""
        seats = await server.positions.seats(who.id)
        return PositionsView(positions=[PositionView(**asdict(s)) for s in seats], mine=who.position)

    @router.post("/api/me/position", tags=["desktop"], response_model=PositionChanged,
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

    @router.delete("/api/me/position", tags=["desktop"], response_model=PositionChanged, responses=refusals(401, 403, 409, 502, 503))
    async def leave(who: Handler) -> PositionChanged:
        """Leave the position: its phone leaves the handler's queues (QueueRemove), then it is
        free. 502/503 when the PBX refused or could not be reached: the position stays theirs."""
        left, _ = await server.positions.leave(who.id)
        return PositionChanged(position=left, status="left")

    @router.get("/api/positions", tags=["supervisor"], response_model=PositionsView, responses=refusals(401, 403))
    async def every_position(who: Supervisor) -> PositionsView:
        """Every position of every site and who holds each."""
        seats = await server.positions.seats()
        return PositionsView(positions=[PositionView(**asdict(s)) for s in seats], mine=None)

    @router.delete("/api/positions/{position_id}", tags=["supervisor"], response_model=PositionReleased,
                   responses=refusals(401, 403, 404, 422, 502, 503))
    async def release(position_id: str, who: Supervisor) -> PositionReleased:
        """Free a position whoever holds it (a handler gone without leaving it): its phone leaves
        their queues (QueueRemove), then it is free. ``holder``: who held it (null: nobody).
        404 for no such position; 502/503 when the PBX did not confirm (it stays theirs)."""
        return PositionReleased(position=position_id, holder=await server.positions.release(position_id))

    app.include_router(router)
