"""The HTTP face of call-backs: supervisors list the open tasks; a handler starts the call-back
offered on their desktop and files what came of it.

Routes say who may ask and shape the answer; the rules are :mod:`routing.callbacks`', the work
:class:`routing.callback_desk.CallbackDesk`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter

from intake.app.web_auth import Handler, Supervisor
from intake.app.web_errors import refusals
from intake.app.web_models import Callbacks, TaskMoved, View
from intake.core.audit import Action, RecordKind
from routing.callbacks import CallbackOutcome

if TYPE_CHECKING:
    from fastapi import FastAPI

    from intake.app.server import IntakeServer


def add_callback_routes(app: FastAPI, server: IntakeServer) -> None:
    router = APIRouter(tags=["call-backs"])

    @router.get("/api/callbacks", response_model=Callbacks, responses=refusals(401, 403))
    async def callbacks(who: Supervisor) -> View:
        """Open call-back tasks of abandoned 999 calls, oldest first: who each is offered to,
        whether it is being called, ``escalated`` when open past ``escalate_seconds``."""
        return server.callers_by_api.shown_to(who, {"callbacks": server.callback_views()})

    @router.post("/api/callbacks/{task_id}/start", response_model=TaskMoved,
                 responses=refusals(401, 403, 404, 409, 422, 502, 503))
    async def start(task_id: str, who: Handler) -> TaskMoved:
        """Ring my phone, then the caller's number (the task must be offered to me).

        404: no such task; 409: not mine, already being called, or closed; 422: the caller's
        number cannot be dialled (withheld, not a number: the detail says which; the task stays
        open for its outcome); 502: the PBX refused the Originate; 503: the PBX could not be
        reached or did not confirm.
        """
        await server.site_of(who.id).callbacks.catch_up(task_id)  # offered by the leader, maybe not this node
        await server.site_of(who.id).callbacks.start(who.id, task_id)
        return TaskMoved(task_id=task_id, status="calling")

    @router.post("/api/callbacks/{task_id}/outcome", response_model=TaskMoved,
                 responses=refusals(401, 403, 404, 409, 413, 422))
    async def outcome(task_id: str, filed: CallbackOutcome, who: Handler) -> TaskMoved:
        """What came of the call-back (grading as for a call, required when the caller was
        reached): closes the task. A grading is journalled under the abandoned call, for the 999
        misuse return (docs/returns.md)."""
        await server.site_of(who.id).callbacks.catch_up(task_id)
        task = server.site_of(who.id).callbacks.record_outcome(who.id, task_id, filed)
        await server.grade_called_back(who.id, task)
        server.audit.record(who, Action.ALTERED, RecordKind.CALLBACK, why=f"task {task_id}", number=task.number,
                            record=task_id)
        return TaskMoved(task_id=task_id, status="closed")

    app.include_router(router)
