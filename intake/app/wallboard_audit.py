"""The wallboard's consultations (DPA 2018 s.62): what a supervisor's wallboard shows of callers.

The wallboard shows each waiting caller's number (kind ``call``, the record its call id), the
warning markers on it (kind ``marker``, the record their kinds) and each open call-back task's
number (kind ``callback``, the record the task's id). Each is recorded once per supervisor per
call (or task): the first picture that shows it to them, not every refresh after it; a call or
task no longer on the picture is forgotten (its next showing would be another call's).

``GET /api/calls`` and ``GET /api/callbacks`` show a supervisor (a person or their program) the
same callers, every call in progress whatever its state: they are recorded by the same rule,
``why`` ``api: ...``, once per supervisor per call or task however often the program polls.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any

from intake.app.audit import AuditTrail
from intake.app.wallboard import WAITING
from intake.core.audit import Action, RecordKind
from screenpop.models import is_history_number

if TYPE_CHECKING:
    from intake.app.auth import Principal

Shown = tuple[RecordKind, str]
"""What one entry is about: its kind and the call or task it names."""

COVERS = {"calls": (RecordKind.CALL, RecordKind.MARKER), "callbacks": (RecordKind.CALLBACK,)}
"""The kinds of entry each part of a view can show."""


# Any: the wallboard's picture, or a REST view of calls or call-backs (the JSON views)
def callers_on(view: dict[str, Any], where: str, states: Collection[str] | None) -> Iterator[tuple[Shown, str, str, str]]:
    """What ``view`` shows of callers (its calls in ``states``, None: all): (kind and call or
    task, number, record, why)."""
    for call in view.get("calls", ()):
        number, call_id = call["caller_number"], call["call_id"]
        if (states is not None and call["state"] not in states) or not is_history_number(number):
            continue
        why = f"{where}: call {call_id}"
        yield (RecordKind.CALL, call_id), number, call_id, why
        if call.get("markers"):
            kinds = ", ".join(sorted({m["kind"] for m in call["markers"]}))
            yield (RecordKind.MARKER, call_id), number, kinds, why
    for task in view.get("callbacks", ()):
        if is_history_number(task["number"]):
            yield (RecordKind.CALLBACK, task["id"]), task["number"], task["id"], f"{where}: task {task['id']}"


class CallersShown:
    """The entries of the callers one channel (the wallboard, the API) shows supervisors."""

    def __init__(self, audit: AuditTrail, where: str, states: Collection[str] | None) -> None:
        self.audit, self.where, self.states = audit, where, states
        self._told: dict[str, set[Shown]] = {}  # supervisor id -> what has been recorded as shown to them

    # Any: a view, as above
    def shown(self, watching: list[str], view: dict[str, Any]) -> None:
        """``view`` shown to each of ``watching`` (supervisor ids): what they had not been shown yet."""
        on = list(callers_on(view, self.where, self.states))
        for supervisor_id in watching:
            told = self._told.setdefault(supervisor_id, set())
            for shown, number, record, why in on:
                if shown not in told:
                    told.add(shown)
                    self.audit.record(self.audit.supervisor(supervisor_id), Action.CONSULTED, shown[0], why=why,
                                      number=number, record=record)
        covered = {kind for part, kinds in COVERS.items() if part in view for kind in kinds}
        now = {shown for shown, *_ in on}
        for told in self._told.values():  # what the view no longer shows is forgotten
            told -= {shown for shown in told if shown[0] in covered and shown not in now}

    # Any: a REST view, as above
    def shown_to(self, who: Principal, view: dict[str, Any]) -> dict[str, Any]:
        """``view`` as a route returns it to ``who``, recorded."""
        self.audit.seen(who)
        self.shown([who.id], view)
        return view


def wallboard(audit: AuditTrail) -> CallersShown:
    """:attr:`intake.app.supervisors.SupervisorStream.shown`'s: the waiting callers on the board."""
    return CallersShown(audit, "wallboard", WAITING)


def api(audit: AuditTrail) -> CallersShown:
    """``GET /api/calls`` and ``GET /api/callbacks``: every call in progress, every open task."""
    return CallersShown(audit, "api", None)
