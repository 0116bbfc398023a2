"""The HTTP face of the incident store: the force's command-and-control system sends its live
incidents, one at a time as they change or in bulk as it catches up; each is idempotent by id.

Who may: a **supervisor** (the role the command-and-control system's account is given, by a
static token in a test bed or the provider's ``supervisor`` app role): the feed changes what every
handler's pops show, which is a control room's supervisors' call, not a handler's.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fastapi import APIRouter

from intake.app.web_auth import Supervisor
from intake.app.web_errors import refusals
from intake.app.web_models import ForceIncident, ForceIncidents, IncidentsStored
from intake.core.audit import Action, RecordKind
from screenpop.incidents import Incident

if TYPE_CHECKING:
    from fastapi import FastAPI

    from intake.app.server import IntakeServer

BULK_PATH = "/api/incidents/bulk"
MAX_BULK_BYTES = 2 * 1024 * 1024
"""A bulk of MAX_BULK_INCIDENTS incidents, with room: the one body larger than a form (web_body)."""


def _incident(sent: ForceIncident) -> Incident:
    return Incident(id=sent.id, source="force", type=sent.type, grade=sent.grade, status=sent.status,
                    at=sent.time, point=sent.point)


def add_incident_routes(app: FastAPI, server: IntakeServer) -> None:
    router = APIRouter(tags=["incidents"])

    async def store(who: Supervisor, incidents: list[Incident], record: str) -> IncidentsStored:
        stored = await server.incidents.put(incidents, time.time())
        server.audit.record(who, Action.COLLECTED, RecordKind.INCIDENTS, why="the force's command and control",
                            record=record[:256])
        return IncidentsStored(stored=stored)

    @router.post("/api/incidents", response_model=IncidentsStored, responses=refusals(401, 403, 413, 422))
    async def one(sent: ForceIncident, who: Supervisor) -> IncidentsStored:
        """Store one incident from the force's command-and-control system (``time``: epoch
        seconds; ``point``: WGS84 ``lat``/``lon``). Sent again with the same ``id``, it replaces
        the one stored: send it whenever its status or grade changes."""
        return await store(who, [_incident(sent)], f"incident {sent.id}")

    @router.post(BULK_PATH, response_model=IncidentsStored, responses=refusals(401, 403, 413, 422))
    async def bulk(sent: ForceIncidents, who: Supervisor) -> IncidentsStored:
        """Store up to 5000 incidents at once, all or none (one MULTI/EXEC): a 422 names every
        incident at fault by its place in ``incidents`` and nothing is stored."""
        return await store(who, [_incident(i) for i in sent.incidents], f"{len(sent.incidents)} incident(s)")

    app.include_router(router)
