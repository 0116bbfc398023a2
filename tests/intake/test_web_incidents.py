"""The force's command-and-control system feeds live incidents over REST: stored idempotently by
id, all of a bulk or none, only from a supervisor's account, each request in the audit trail."""

from __future__ import annotations

import time
from typing import Any

from intake.app.audit_store import AuditStore
from screenpop.places import Point
from telephony.geolocation import CallerLocation
from tests.intake import test_web_api
from tests.routing.test_callback_desk import Floor, until

floor = test_web_api.floor  # the fixture: h1..h4 and sup1 on the simulated PBX

HOME = Point(lat=51.5014, lon=-0.1419)


def sent(id: str, metres_north: float, *, status: str = "open", age: float = 600.0, **over: Any) -> dict[str, Any]:
    return {"id": id, "type": "Domestic incident", "grade": "emergency", "time": time.time() - age,
            "point": {"lat": HOME.lat + metres_north / 111_195, "lon": HOME.lon}, "status": status} | over


async def near(floor: Floor) -> list[tuple[str, str]]:
    return [(i.id, i.status) for i in await floor.server.incidents.near(HOME, time.time())]


async def test_an_incident_sent_twice_is_stored_once_with_its_latest_status(floor: Floor) -> None:
    for status in ("open", "closed"):
        answer = await floor.http.post("/api/incidents", json=sent("CAD-1", 50, status=status), headers=floor.auth("sup1"))
        assert (answer.status_code, answer.json()) == (200, {"stored": 1})
    assert await near(floor) == [("CAD-1", "closed")]


async def test_a_bulk_is_stored_whole_and_one_bad_incident_stores_none_naming_each(floor: Floor) -> None:
    good = [sent(f"CAD-{i}", 10 * i) for i in range(1, 4)]
    answer = await floor.http.post("/api/incidents/bulk", json={"incidents": good}, headers=floor.auth("sup1"))
    assert (answer.status_code, answer.json()) == (200, {"stored": 3})
    bad = [sent("CAD-9", 5), sent("CAD-10", 5, point={"lat": 95, "lon": 0}), sent("CAD-11", 5, colour="red")]
    answer = await floor.http.post("/api/incidents/bulk", json={"incidents": bad}, headers=floor.auth("sup1"))
    assert answer.status_code == 422
    problems = answer.text
    assert "incidents.1.point.lat" in problems and "incidents.2.colour" in problems
    assert [i for i, _ in await near(floor)] == ["CAD-1", "CAD-2", "CAD-3"]


async def test_a_bulk_larger_than_a_form_is_taken_and_a_form_route_keeps_its_cap(floor: Floor) -> None:
    many = [sent(f"CAD-{i}", i % 400) for i in range(2000)]  # ~400 KB
    answer = await floor.http.post("/api/incidents/bulk", json={"incidents": many}, headers=floor.auth("sup1"))
    assert (answer.status_code, answer.json()) == (200, {"stored": 2000})
    long = sent("CAD-x", 1, type="x" * 20_000)
    answer = await floor.http.post("/api/incidents", json=long, headers=floor.auth("sup1"))
    assert answer.status_code == 413


async def test_only_a_supervisors_account_may_feed_incidents(floor: Floor) -> None:
    answer = await floor.http.post("/api/incidents", json=sent("CAD-1", 5), headers=floor.auth("h1"))
    assert answer.status_code == 403
    answer = await floor.http.post("/api/incidents", json=sent("CAD-1", 5))
    assert answer.status_code == 401
    assert await near(floor) == []


async def test_each_feed_is_in_the_audit_trail(floor: Floor) -> None:
    await floor.http.post("/api/incidents", json=sent("CAD-1", 5), headers=floor.auth("sup1"))
    await floor.http.post("/api/incidents/bulk", json={"incidents": [sent("CAD-2", 5), sent("CAD-3", 9)]},
                          headers=floor.auth("sup1"))
    await floor.server.audit.flush()
    entries = [link.entry async for link in AuditStore(floor.redis, "intake:").entries()]
    assert [(e.action.value, e.kind.value, e.who_id, e.role, e.record, e.why) for e in entries] == [
        ("collected", "incidents", "sup1", "supervisor", "incident CAD-1", "the force's command and control"),
        ("collected", "incidents", "sup1", "supervisor", "2 incident(s)", "the force's command and control"),
    ]


async def test_a_located_call_pops_with_the_incidents_near_it_and_its_graded_outcome_becomes_one(floor: Floor) -> None:
    await floor.http.post("/api/incidents/bulk", headers=floor.auth("sup1"), json={"incidents": [
        sent("CAD-door", 8), sent("CAD-street", 300), sent("CAD-town", 2000), sent("CAD-old", 20, age=200 * 86_400.0)]})
    h1 = await floor.desktop("h1")
    await floor.state("h1", "ready")
    call_id = floor.sim.place_call("emergency", "07700900123", "Pat Caller",
                                   location=CallerLocation(lat=HOME.lat, lon=HOME.lon, radius_m=10, confidence=90))
    pop = await h1.expect(lambda m: m["type"] == "pop" and m["call_id"] == call_id)
    assert pop["location"]["source"] == "call"
    assert [(i["id"], i["at_address"]) for i in pop["incidents"]] == [("CAD-door", True), ("CAD-street", False)]
    floor.sim.answer("PJSIP/handler-1")
    await until(lambda: (c := floor.server.registry.calls.get(call_id)) is not None and c.answered_by is not None)
    for grading in ("priority", "emergency"):
        r = await floor.http.post("/api/outcomes", headers=floor.auth("h1"), json={"call_id": call_id, "grading": grading})
        assert r.status_code == 201, r.text
    mine = [i for i in await floor.server.incidents.near(HOME, time.time()) if i.source == "intake"]
    assert [(i.id, i.type, i.grade, i.at_address) for i in mine] == [(call_id, "999 call", "emergency", True)]
    await floor.server.audit.flush()
    entries = [link.entry async for link in AuditStore(floor.redis, "intake:").entries()]
    assert ("consulted", "incidents", "h1", "2 incident(s) near the caller", f"call {call_id}") in [
        (e.action.value, e.kind.value, e.who_id, e.record, e.why) for e in entries]


async def test_a_pops_incidents_are_a_consultation_tied_to_the_call(floor: Floor) -> None:
    floor.server.audit.consulted_incidents_by_pop("h1", "1790000000.7", "07700900123", 3)
    floor.server.audit.consulted_incidents_by_pop("h1", "1790000000.8", "anonymous", 0)
    await floor.server.audit.flush()
    entries = [link.entry async for link in AuditStore(floor.redis, "intake:").entries()]
    assert [(e.action.value, e.kind.value, e.who_id, e.number, e.record, e.why) for e in entries] == [
        ("consulted", "incidents", "h1", "07700900123", "3 incident(s) near the caller", "call 1790000000.7"),
        ("consulted", "incidents", "h1", None, "0 incident(s) near the caller", "call 1790000000.8"),
    ]
