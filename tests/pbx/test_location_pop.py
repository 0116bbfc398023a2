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
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.pbx.harness import Desktop, IntakeProcess, token_of, wait_until
from tests.support.location_service import LocationServer
from tests.support.sip import HandlerPhone, PidfCircle, sipp_dial

pytestmark = pytest.mark.pbx

LOCATED = PidfCircle(lat=51.501364, lon=-0.14189, radius_m=35.0, confidence=95)
SERVICE_FIX = {"lat": 53.4808, "lon": -2.2426, "radius_m": 18, "confidence": 68, "at": "2026-12-02T16:40:05Z"}


def history_of(intake: IntakeProcess, number: str) -> dict:
    r = httpx.get(f"{intake.base}/api/history/{number}", params={"reason": "location e2e test"},
                  headers={"Authorization": f"Bearer {token_of('h1')}"}, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_pop_shows_the_calls_location_then_the_services_then_the_records(intake: IntakeProcess, pbx) -> None:
    with LocationServer() as service:
        with intake.config.open("a") as config:
            config.write(f'[location]\nservice_url = "{service.url}"\ntimeout_seconds = 20\n')
        intake.start()
        phone = HandlerPhone("handler-1", answer_after=1.5)
        await asyncio.to_thread(phone.start)
        desk = await Desktop.open(intake, "h1")
        runs = []
        try:
            intake.set_state("h1", "ready")
            await wait_until(lambda: intake.handlers()["PJSIP/handler-1"]["state"] == "ready", 5, "h1 ready")

            # 1. The INVITE's own location.
            runs.append(sipp_dial("999", callers=["caller-6"], hangup_after=4.0, located=LOCATED))
            popped_at, pop = await desk.wait_for(lambda m: m["type"] == "pop" and m["caller"]["number"] == "07700900006", 15, "pop 1")
            answered = await asyncio.to_thread(phone.wait_answered, 15)
            assert popped_at < answered.answered_at, "the location must be on the desktop before the answer"
            where = pop["location"]
            assert (where["source"], where["lat"], where["lon"], where["radius_m"], where["confidence"]) == (
                "call", 51.501364, -0.14189, 35.0, 95)
            assert abs(where["at"] - pop["queued_at"]) < 5  # the call's time: Asterisk keeps no PIDF-LO timestamp
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
        finally:
            for run in runs:
                run.stop()
            await desk.close()
            await asyncio.to_thread(phone.stop)
