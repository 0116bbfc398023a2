"""The wallboard's consultations (DPA 2018 s.62): what a supervisor's wallboard shows of callers.

The wallboard shows each waiting caller's number (kind ``call``, the record its call id), the
warning markers on it (kind ``marker``, the record their kinds) and each open call-back task's
number (kind ``callback``, the record the task's id). Each is recorded once per supervisor per
call (or task): the first picture that shows it to them, not every refresh after it; a call or
task no longer on the picture is forgotten (its next showing would be another call's).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from intake.app.audit import AuditTrail
from intake.app.wallboard import WAITING
from intake.core.audit import Action, RecordKind
from screenpop.models import is_history_number

WHY = "wallboard"
"""The ``why`` of a wallboard's entries, before the call or task it names."""

Shown = tuple[RecordKind, str]
"""What one entry is about: its kind and the call or task it names."""


# Any: the wallboard's picture, the JSON view the supervisors' stream sends
def callers_on(picture: dict[str, Any]) -> Iterator[tuple[Shown, str, str, str]]:
    """What the picture shows of callers: (kind and call or task, number, record, why)."""
    for call in picture.get("calls", ()):
        number, call_id = call["caller_number"], call["call_id"]
        if call["state"] not in WAITING or not is_history_number(number):
            continue
        why = f"{WHY}: call {call_id}"
        yield (RecordKind.CALL, call_id), number, call_id, why
        if call.get("markers"):
            kinds = ", ".join(sorted({m["kind"] for m in call["markers"]}))
            yield (RecordKind.MARKER, call_id), number, kinds, why
    for task in picture.get("callbacks", ()):
        if is_history_number(task["number"]):
            yield (RecordKind.CALLBACK, task["id"]), task["number"], task["id"], f"{WHY}: task {task['id']}"


class WallboardAudit:
    """:attr:`intake.app.supervisors.SupervisorStream.shown`: the entries of each picture sent."""

    def __init__(self, audit: AuditTrail) -> None:
        self.audit = audit
        self._told: dict[str, set[Shown]] = {}  # supervisor id -> what has been recorded as shown to them

    # Any: the wallboard's picture, as above
    def shown(self, watching: list[str], picture: dict[str, Any]) -> None:
        on = list(callers_on(picture))
        now = {shown for shown, *_ in on}
        for supervisor_id in watching:
            told = self._told.setdefault(supervisor_id, set())
            for shown, number, record, why in on:
                if shown not in told:
                    told.add(shown)
                    self.audit.record(self.audit.supervisor(supervisor_id), Action.CONSULTED, shown[0], why=why,
                                      number=number, record=record)
        for told in self._told.values():
            told &= now
