"""Small builders for screen-pop test data: sensible defaults, override what the test is about."""

from __future__ import annotations

from typing import Any

from screenpop.models import (
    CallbackOutcome,
    CalledBack,
    ContactRecord,
    Marker,
    Outcome,
    Thrive,
)

NUMBER = "+447700900123"
T0 = 1_790_000_000.0


def contact(call_id: str = "1790000000.1", **over: Any) -> ContactRecord:
    fields: dict[str, Any] = {
        "call_id": call_id, "number": NUMBER, "at": T0, "line": "999", "queue": "999-north", "handler_id": "h-ana",
        "waited_seconds": 4.5, "talked_seconds": 120.0, "disposition": "answered",
    }
    return ContactRecord(**(fields | over))


def called_back(task_id: str = "1790000000.7", **over: Any) -> ContactRecord:
    """Our call-back to NUMBER of the abandoned call ``task_id``, its outcome filed."""
    got = over.pop("outcome", CallbackOutcome(contact="reached", grading="priority", notes="pocket dial, caller safe"))
    fields: dict[str, Any] = {
        "call_id": f"callback:{task_id}", "number": NUMBER, "at": T0, "line": "999", "queue": "999-north", "handler_id": "h-ana",
        "waited_seconds": 95.0, "disposition": "called back",
        "callback": CalledBack(task_id=task_id, handler_name="Ana Smith", outcome=got),
    }
    return ContactRecord(**(fields | over))


def outcome(call_id: str = "1790000000.1", **over: Any) -> Outcome:
    fields: dict[str, Any] = {
        "call_id": call_id, "handler_id": "h-ana", "at": T0 + 200, "grading": "priority",
        "thrive": Thrive(threat="ex-partner outside", vulnerability="lives alone"), "notes": "unit sent",
    }
    return Outcome(**(fields | over))


def marker(marker_id: str = "m-1", **over: Any) -> Marker:
    fields: dict[str, Any] = {
        "id": marker_id, "number": NUMBER, "kind": "vulnerable adult", "detail": "dementia, may be confused",
        "created_at": T0 - 1000, "created_by": "sup-joe",
    }
    return Marker(**(fields | over))


def marker_line(**over: Any) -> str:
    return marker(**over).model_dump_json()
