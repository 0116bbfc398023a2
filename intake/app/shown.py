"""Pops shown again: a desktop that reconnects, resumes or opens in a second window is sent the
pops still on the handler's screen again (:mod:`screenpop.resume`), and each one that carries the
caller's history, location or nearby incidents is that data consulted once more (DPA 2018 s.62).

The hub tells :func:`shown_again` the catch-up's texts (:attr:`screenpop.delivery.DesktopHub.shown`);
the pops among them (alone, or inside a ``snapshot``) are read back and recorded as the first
showing is (:meth:`intake.app.audit.AuditTrail.consulted_by_pop`), ``why`` saying "shown again".
Resumes are rare beside pops: the texts are parsed here, off the hot path of the first delivery.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from intake.app.audit import AuditTrail
from intake.core.audit import Action, RecordKind
from screenpop.models import is_history_number

AGAIN = "shown again"
"""What a re-shown pop's entries add to their ``why`` (after ``call <id>``)."""


# Any: a pop as its JSON text decodes (plain values)
def pops_in(texts: list[str]) -> Iterator[dict[str, Any]]:
    """The pops among a catch-up's texts, each call's once (a snapshot's included)."""
    seen: set[str] = set()
    for text in texts:
        message = json.loads(text)
        for pop in message.get("pops", ()) if message.get("type") == "snapshot" else (message,):
            if pop.get("type") == "pop" and pop.get("call_id") not in seen:
                seen.add(pop["call_id"])
                yield pop


def shown_again(audit: AuditTrail) -> Callable[[str, list[str]], None]:
    """The hub's :attr:`~screenpop.delivery.DesktopHub.shown`: each re-shown pop's entries."""

    def shown(handler_id: str, texts: list[str]) -> None:
        who = None
        for pop in pops_in(texts):
            who = who or audit.handler(handler_id)
            number, why = pop["caller"]["number"], f"call {pop['call_id']}, {AGAIN}"
            if pop.get("history") is not None:
                audit.record(who, Action.CONSULTED, RecordKind.HISTORY, why=why, number=number, record=number)
            if pop.get("location") is not None:
                audit.record(who, Action.CONSULTED, RecordKind.LOCATION, why=why, number=number,
                             record=pop["location"]["source"])
            if pop.get("incidents"):
                audit.record(who, Action.CONSULTED, RecordKind.INCIDENTS, why=why,
                             number=number if is_history_number(number) else None,
                             record=f"{len(pop['incidents'])} incident(s) near the caller")

    return shown
