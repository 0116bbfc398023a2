"""Every look at, change to and disclosure of a caller's data through a served intake is in the
audit trail with who, when, what and why (DPA 2018 s.62); a history search without a reason is
refused; the chain the server wrote verifies."""

from __future__ import annotations

import json
import time
from datetime import date

from intake.app.audit_store import AuditStore
from intake.app.auth import AuditorPrincipal
from intake.core.audit import AuditEntry, Verified
from tests.intake import test_web_api
from tests.routing.test_callback_desk import Floor, offer_of, until

floor = test_web_api.floor  # the fixture: h1..h4 and sup1 on the simulated PBX, nobody in a queue yet

H1 = "PJSIP/handler-1"
NUMBER = "07700900123"


async def trail(floor: Floor) -> list[AuditEntry]:
    await floor.server.audit.flush()
    return [link.entry async for link in AuditStore(floor.redis, "intake:").entries()]


def summary(entry: AuditEntry) -> tuple[str, str, str, str, str | None, str, str]:
    return (entry.action.value, entry.kind.value, entry.who_subject, entry.role, entry.number, entry.record, entry.why)


async def test_a_shift_of_pops_outcomes_searches_and_downloads_is_in_the_trail(floor: Floor) -> None:
    h1 = await floor.desktop("h1")
    await floor.state("h1", "ready")
    started = time.time()
    call_id = floor.sim.place_call("emergency", NUMBER, "Pat Caller")
    pop = await h1.expect(lambda m: m["type"] == "pop" and m["call_id"] == call_id)
    assert pop["history_status"] == "ok"
    floor.sim.answer(H1)
    await until(lambda: (c := floor.server.registry.calls.get(call_id)) is not None and c.answered_by == H1)
    r = await floor.http.post("/api/outcomes", headers=floor.auth("h1"),
                              json={"call_id": call_id, "grading": "priority", "notes": "neighbour dispute"})
    assert r.status_code == 201, r.text

    sup = floor.auth("sup1")
    r = await floor.http.get(f"/api/history/{NUMBER}", headers=sup)
    assert r.status_code == 422 and r.json()["error"] == "reason-required" and r.json()["field"] == "reason", r.text
    assert "?reason=" in r.json()["detail"]
    r = await floor.http.get(f"/api/history/{NUMBER}", params={"reason": " "}, headers=sup)
    assert r.status_code == 422 and r.json()["error"] == "reason-required"
    r = await floor.http.get(f"/api/history/{NUMBER}", params={"reason": "SAR 2026/17"}, headers=sup)
    assert r.status_code == 200 and r.json()["number"] == NUMBER
    r = await floor.http.post("/api/markers", params={"reason": "safeguarding referral"}, headers=sup,
                              json={"number": NUMBER, "kind": "vulnerable adult"})
    marker = r.json()["id"]
    day = date.today().isoformat()
    assert (await floor.http.get(f"/api/reports/{day}", headers=sup)).status_code == 200
    assert (await floor.http.get(f"/api/reports/{day}/csv", params={"reason": "monthly return"}, headers=sup)).status_code == 200

    entries = await trail(floor)
    assert [summary(e) for e in entries] == [
        ("consulted", "history", "token:h1", "handler", NUMBER, NUMBER, f"call {call_id}"),  # the pop: as the desktop signed in
        ("altered", "outcome", "token:h1", "handler", NUMBER, call_id, f"call {call_id}"),
        ("consulted", "history", "token:sup1", "supervisor", NUMBER, NUMBER, "reason: SAR 2026/17"),
        ("altered", "marker", "token:sup1", "supervisor", NUMBER, marker, "reason: safeguarding referral"),
        ("consulted", "report", "token:sup1", "supervisor", None, f"{day}-all", entries[4].why),
        ("disclosed", "report", "token:sup1", "supervisor", None, f"intake-{day}-all.csv", "reason: monthly return"),
    ]
    assert entries[0].who_id == "h1" and entries[0].node == floor.server.audit.node
    assert all(started - 1 <= e.at <= time.time() for e in entries)
    store = AuditStore(floor.redis, "intake:")
    assert await store.verify() == Verified(6, await store.tail())
    metrics = (await floor.http.get("/metrics")).text
    assert "intake_audit_entries_written_total 6.0" in metrics and "intake_audit_entries_held 0.0" in metrics

    # Signed in over REST, the handler is named as they signed in on their next pop too.
    await floor.http.get("/api/me", headers=floor.auth("h1"))
    floor.sim.hangup_caller(call_id)


async def test_a_call_back_outcome_is_an_alteration_of_the_task(floor: Floor) -> None:
    h1 = await floor.desktop("h1")
    task_id = await floor.abandoned_999()
    await floor.state("h1", "ready")
    await h1.expect(offer_of(task_id))
    r = await floor.http.post(f"/api/callbacks/{task_id}/outcome", headers=floor.auth("h1"),
                              json={"contact": "no-answer"})
    assert r.status_code == 200, r.text
    entries = [e for e in await trail(floor) if e.kind.value == "callback"]
    assert [summary(e) for e in entries] == [
        ("altered", "callback", "token:h1", "handler", "07700900042", task_id, f"task {task_id}")]


async def test_the_trails_export_route_is_for_auditors_only(floor: Floor) -> None:
    for who in ("sup1", "h1"):
        r = await floor.http.get(f"/api/audit/{NUMBER}", params={"reason": "x"}, headers=floor.auth(who))
        assert r.status_code == 403 and r.json()["error"] == "wrong-role", r.text


async def test_an_auditor_exports_a_numbers_entries_and_the_export_is_recorded(floor: Floor) -> None:
    # Auditors sign in through the identity provider (another branch): here, one more principal
    # behind the same seam every route asks.
    principals, token = floor.server.tokens, "auditor-token-0123456789"
    signed_in = principals.who
    principals.who = lambda given: AuditorPrincipal(id="aud1", subject="idp|aud1") if given == token else signed_in(given)  # type: ignore[method-assign]
    sup = floor.auth("sup1")
    for reason in ("complaint 7", "complaint 8"):
        assert (await floor.http.get(f"/api/history/{NUMBER}", params={"reason": reason}, headers=sup)).status_code == 200
    await floor.http.get("/api/history/07700900999", params={"reason": "other"}, headers=sup)
    await floor.server.audit.flush()
    auditor = {"Authorization": f"Bearer {token}"}
    refused = await floor.http.get(f"/api/audit/{NUMBER}", headers=auditor)
    assert refused.status_code == 422 and refused.json()["error"] == "reason-required"
    r = await floor.http.get(f"/api/audit/{NUMBER}", params={"reason": "PSD inquiry 3", "from": time.time() - 60},
                             headers=auditor)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [(e["who_id"], e["why"]) for e in lines] == [("sup1", "reason: complaint 7"), ("sup1", "reason: complaint 8")]
    last = (await trail(floor))[-1]
    assert summary(last) == ("disclosed", "audit", "idp|aud1", "auditor", NUMBER, "2 entries", "reason: PSD inquiry 3")
