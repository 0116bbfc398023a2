"""Issue 16's done-when for the caller's location, end to end on the real PBX: SIPp callers
through Asterisk 22, `intake serve` in its own process, the handler's desktop on a real
WebSocket, the handler's pyVoIP phone, and the location service on loopback
(tests/support/location_service.py).

1. A 999 call whose INVITE carries a PIDF-LO: the pop shows that location (source "call") before
   the phone is answered, and the location service is not asked.
2. A call with none: the service's location, held until the pop is on the desktop, comes as
   pop.place (source "service") before the answer; the call's record keeps it.
3. The same caller again, the service now knowing nothing: the pop shows the location on their
   record (source "history") with its age (its ``at``), not the call's time.
4. The audit trail has each lookup of the service (collected by intake) and each location shown
   to the handler (consulted by h1, its source as the record), tied to the call.

Incidents imported beforehand with ``intake incidents import`` (a police.uk street-level file):
the pop of 1 lists those within the radius and period of the caller's location and not one too
far or too old; the late pop.place of 2 lists those near the service's location.
"""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pbx.harness import (
    Desktop,
    IntakeProcess,
    intake_cli,
    ready,
    token_of,
    wait_until,
)
from tests.support.location_service import LocationServer
from tests.support.sip import HandlerPhone, PidfCircle, SippRun, sipp_dial

pytestmark = pytest.mark.pbx

LOCATED = PidfCircle(lat=51.501364, lon=-0.14189, radius_m=35.0, confidence=95)
SERVICE_FIX = {"lat": 53.4808, "lon": -2.2426, "radius_m": 18, "confidence": 68, "at": "2026-12-02T16:40:05Z"}


CRIME_COLUMNS = ("Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
                 "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context")


def months_ago(n: int) -> str:
    """"YYYY-MM" of the month ``n`` before this one (police.uk dates a crime by its month)."""
    today = datetime.now(UTC)
    months = today.year * 12 + today.month - 1 - n
    return f"{months // 12:04d}-{months % 12 + 1:02d}"


def crime_file(path: Path) -> Path:
    """Around the INVITE's point (51.501364, -0.14189) and the service's (53.4808, -2.2426), with the
    defaults [incidents] radius_m 500 and period_days 90: ~100 m and last month is listed; ~2.2 km,
    or ~100 m seven months ago, is not; a row with no point is skipped."""
    rows = [("near-call", months_ago(1), -0.14189, 51.502264, "Burglary"),
            ("far-from-call", months_ago(1), -0.14189, 51.521364, "Robbery"),
            ("old-near-call", months_ago(7), -0.14189, 51.502264, "Vehicle crime"),
            ("near-service", months_ago(1), -2.2426, 53.4812, "Criminal damage and arson"),
            ("no-point", months_ago(1), "", "", "Shoplifting")]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CRIME_COLUMNS)
        for crime_id, month, lon, lat, kind in rows:
            writer.writerow([crime_id, month, "Test Police", "Test Police", lon, lat, "On or near Test Street",
                             "E01000001", "Test 001A", kind, "Under investigation", ""])
    return path


def history_of(intake: IntakeProcess, number: str) -> dict:
    r = httpx.get(f"{intake.base}/api/history/{number}", params={"reason": "location e2e test"},
                  headers={"Authorization": f"Bearer {token_of('h1')}"}, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_pop_shows_the_calls_location_then_the_services_then_the_records(intake: IntakeProcess, pbx,
                                                                                   tmp_path: Path) -> None:
    with LocationServer() as service:
        with intake.config.open("a") as config:
            config.write(f'[location]\nservice_url = "{service.url}"\ntimeout_seconds = 20\n')
        imported = intake_cli(intake, "incidents", "import", str(crime_file(tmp_path / "crimes-street.csv")))
        assert imported.returncode == 0, imported.stderr
        intake.start()
        desk = await Desktop.open(intake, "h1")
        phone = HandlerPhone("handler-1", answer_after=1.5)
        runs: list[SippRun] = []
        try:
            await asyncio.to_thread(phone.start)
            intake.set_state("h1", "ready")
            await wait_until(lambda: ready(intake, "PJSIP/handler-1"), 5, "h1 ready")

            # 1. The INVITE's own location.
            runs.append(sipp_dial("999", callers=["caller-6"], hangup_after=4.0, located=LOCATED))
            popped_at, pop = await desk.wait_for(lambda m: m["type"] == "pop" and m["caller"]["number"] == "07700900006", 15, "pop 1")
            answered = await asyncio.to_thread(phone.wait_answered, 15)
            assert popped_at < answered.answered_at, "the location must be on the desktop before the answer"
            where = pop["location"]
            assert (where["source"], where["lat"], where["lon"], where["radius_m"], where["confidence"]) == (
                "call", 51.501364, -0.14189, 35.0, 95)
            assert abs(where["at"] - pop["queued_at"]) < 5  # the call's time: Asterisk keeps no PIDF-LO timestamp
            assert [(i["id"], i["source"], i["type"]) for i in pop["incidents"]] == [("near-call", "police.uk", "Burglary")]
            assert 90 < pop["incidents"][0]["distance_m"] < 110
            await desk.wait_for(lambda m: m["type"] == "pop.closed" and m["call_id"] == pop["call_id"], 15, "pop 1 closed")
            assert service.asked == []

            # 2. No location in the INVITE: the service's, after the pop.
            service.answer("07700900007", SERVICE_FIX)
            service.hold("07700900007")
            runs.append(sipp_dial("999", callers=["caller-7"], hangup_after=4.0))
            _, pop = await desk.wait_for(lambda m: m["type"] == "pop" and m["caller"]["number"] == "07700900007", 15, "pop 2")
            assert "location" not in pop
            service.release("07700900007")
            placed_at, place = await desk.wait_for(lambda m: m["type"] == "pop.place" and m["call_id"] == pop["call_id"], 15, "pop.place")
            answered = await asyncio.to_thread(phone.wait_answered, 15, nth=2)
            assert placed_at < answered.answered_at
            assert place["location"]["source"] == "service" and place["location"]["radius_m"] == 18.0
            assert [i["id"] for i in place["incidents"]] == ["near-service"]  # read near the late location
            await desk.wait_for(lambda m: m["type"] == "pop.closed" and m["call_id"] == pop["call_id"], 15, "pop 2 closed")
            recorded = await wait_until(lambda: [r for r in history_of(intake, "07700900007")["recent"] if r.get("location")],
                                        10, "the call's record with its location")
            assert recorded[0]["location"]["source"] == "service"

            # 3. The same caller, the service knowing nothing now: the record's location, with its age.
            service.answer("07700900007", status=404, body=b"")
            runs.append(sipp_dial("999", callers=["caller-7"], hangup_after=4.0))
            _, again = await desk.wait_for(lambda m: m["type"] == "pop" and m["caller"]["number"] == "07700900007"
                                           and m["call_id"] != pop["call_id"], 15, "pop 3")
            if "location" not in again:  # the pop went while the service was still being asked
                _, again = await desk.wait_for(lambda m: m["type"] == "pop.place" and m["call_id"] == again["call_id"], 15, "pop 3 place")
            assert again["location"]["source"] == "history"
            assert again["location"]["at"] == recorded[0]["location"]["at"]  # the fix's own time: its age on the desktop
            await asyncio.to_thread(phone.wait_answered, 15, nth=3)
            assert service.asked == ["07700900007", "07700900007"]

            # 4. Each lookup and each location shown is in the audit trail.
            def exported() -> set[tuple[str, str, str, str, str]]:
                done = intake_cli(intake, "audit", "export", "--number", "07700900007", "--reason", "location e2e test")
                assert done.returncode == 0, done.stderr
                entries: list[dict[str, Any]] = [json.loads(line) for line in done.stdout.splitlines()]
                return {(e["action"], e["kind"], "intake" if e["role"] == "system" else e["who_id"], e["record"], e["why"])
                        for e in entries if e["kind"] == "location"}

            first, second = pop["call_id"], again["call_id"]
            wanted = {("collected", "location", "intake", first, f"call {first}: location service, found"),
                      ("consulted", "location", "h1", "service", f"call {first}"),
                      ("collected", "location", "intake", second, f"call {second}: location service, none"),
                      ("consulted", "location", "h1", "history", f"call {second}")}
            await wait_until(lambda: wanted <= exported(), 15, "the location entries in the audit trail")
        finally:
            for run in runs:
                run.stop()
            await desk.close()
            await asyncio.to_thread(phone.stop)
