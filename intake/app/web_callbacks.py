"""The HTTP face of call-backs: supervisors list the open tasks; a handler starts the call-back
offered on their desktop and files what came of it.

Routes check who is asking and shape the answer; the rules are :mod:`routing.callbacks`', the
work :class:`routing.callback_desk.CallbackDesk`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError

from intake.app.auth import Principal, Role
from routing.callbacks import CallbackOutcome
from routing.errors import (
    CallbackNotDialable,
    CallbackNotStarted,
    NoSuchTask,
    TaskConflict,
)
from screenpop.models import describe

if TYPE_CHECKING:
    from fastapi import FastAPI

    from intake.app.server import IntakeServer

MAX_BODY = 16 * 1024


def add_callback_routes(app: FastAPI, server: IntakeServer, principal: Any, supervisor: Any) -> None:
    """``principal`` and ``supervisor`` are web.py's auth dependencies."""
    router = APIRouter(tags=["call-backs"])

    def handler_only(request: Request) -> str:
        who: Principal = principal(request)
        if who.role is not Role.HANDLER:
            raise HTTPException(403, "handlers only: a call-back is started and closed from the desktop it is offered on")
        return who.id

    @router.get("/api/callbacks")
    async def callbacks(request: Request) -> dict[str, Any]:
        """Open call-back tasks of abandoned 999 calls, oldest first: who each is offered to,
        whether it is being called, ``escalated`` when open past ``escalate_seconds``."""
        supervisor(principal(request))
        return {"callbacks": server.callbacks.view()}

    @router.post("/api/callbacks/{task_id}/start")
    async def start(request: Request, task_id: str) -> dict[str, str]:
        """Ring my phone, then the caller's number (the task must be offered to me).

        404: no such task; 409: not mine, already being called, or closed; 422: the caller's
        number cannot be dialled (withheld, not a number: the detail says which; the task stays
        open for its outcome); 502: the PBX refused the Originate; 503: the PBX could not be
        reached or did not confirm.
        """
        handler_id = handler_only(request)
        try:
            await server.callbacks.start(handler_id, task_id)
        except NoSuchTask as exc:
            raise HTTPException(404, str(exc)) from None
        except TaskConflict as exc:
            raise HTTPException(409, str(exc)) from None
        except CallbackNotDialable as exc:
            raise HTTPException(422, str(exc)) from None
        except CallbackNotStarted as exc:
            raise HTTPException(502 if exc.refused else 503, str(exc)) from None
        return {"task_id": task_id, "status": "calling"}

    @router.post("/api/callbacks/{task_id}/outcome")
    async def outcome(request: Request, task_id: str) -> dict[str, str]:
        """Body ``{"contact": "reached"|"no-answer"|"voicemail"|"unobtainable", "grading"?,
        "notes"?}`` (grading as for a call, required when the caller was reached): closes the task."""
        handler_id = handler_only(request)
        body = await request.body()
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"an outcome is at most {MAX_BODY} bytes")
        try:
            filed = CallbackOutcome.model_validate_json(body)
        except ValidationError as exc:
            raise HTTPException(422, "; ".join(describe(exc))) from None
        try:
            server.callbacks.record_outcome(handler_id, task_id, filed)
        except NoSuchTask as exc:
            raise HTTPException(404, str(exc)) from None
        except TaskConflict as exc:
            raise HTTPException(409, str(exc)) from None
        return {"task_id": task_id, "status": "closed"}

    app.include_router(router)
