"""The national return over REST on a served IntakeServer: a 999 call answered on the simulated
PBX and graded by its handler is in the month's return and its 999 misuse, from the journal."""

from __future__ import annotations

import secrets as token_source
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest

from telephony.simulator import SimConfig, SimulatedPbx
from tests.routing.test_callback_desk import Floor, serving
from tests.waiting import eventually

pytestmark = pytest.mark.redis

H1 = "PJSIP/handler-1"


@pytest.fixture
async def floor(redis_client: Any) -> AsyncIterator[Floor]:
    async with SimulatedPbx(SimConfig(traffic=None, members_at_start=False, secret=token_source.token_urlsafe(12),
                                      tick=0.005)) as sim:
        tokens = {h: token_source.token_urlsafe(18) for h in ("h1", "h2", "h3", "h4", "sup1")}
        async with serving(sim, redis_client, tokens) as world:
            yield world


async def test_a_graded_999_call_is_in_the_months_return_and_its_misuse(floor: Floor):
    await floor.state("h1", "ready")
    call_id = floor.sim.place_call("emergency", "07700900123", "Pat Caller")
    await floor.sim.wait_ringing(H1, timeout=10)
    floor.sim.answer(H1)
    await eventually(lambda: (c := floor.server.registry.calls.get(call_id)) is not None and c.answered_by == H1, 10)
    r = await floor.http.post("/api/outcomes", json={"call_id": call_id, "grading": "resolved"}, headers=floor.auth("h1"))
    assert r.status_code == 201, r.text
    today = date.today().isoformat()
    sup = floor.auth("sup1")

    async def found() -> dict[str, Any]:
        reply = await floor.http.get(f"/api/returns?from={today}&to={today}", headers=sup)
        assert reply.status_code == 200, reply.text
        return reply.json()

    async def journalled() -> bool:
        return (await found())["records"] == 1

    await eventually(journalled, 10)  # the record is written behind the call
    body = await found()
    row = next(r for r in body["returns"] if r["line"] == "999")
    assert (row["month"], row["offered"], row["answered"], row["abandoned"]) == (today[:7], 1, 1, 0)
    assert body["misuse"]["rows"] == [{"month": today[:7], "hour": time.localtime(floor.server.registry.calls[call_id].queued_at).tm_hour,
                                       "grading": "resolved", "calls": 1}]
    assert body["misuse"]["months"][0]["not_emergency_pct"] == 100.0
    csv = await floor.http.get(f"/api/returns/csv?from={today}&to={today}&table=misuse", headers=sup)
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("month,hour,grading,calls\r\n")
    staffing = await floor.http.get(f"/api/staffing/{today}", headers=sup)
    assert staffing.status_code == 200, staffing.text
    (interval,) = [r for r in staffing.json()["intervals"] if r["line"] == "999"]
    assert (interval["offered"], interval["answered"]) == (1, 1) and interval["needed"] >= 1
    assert interval["needed_erlang_c"] >= interval["needed"]  # callers who never hang up need as many or more
    assert not await floor.server.journal.redis.exists(f"{floor.server.journal.prefix}journal-summary:{today}")  # today is never kept


@pytest.mark.parametrize(("query", "field", "words"), [
    ("from=2025-13-01&to=2025-12-31", "from", "is not a day"),
    ("from=2025-02-01&to=2025-01-31", "to", "is before from"),
    ("from=2020-01-01&to=2025-01-31", "to", "at most"),
    ("from=2025-01-01&to=2025-01-31&site=mars", "site", "no site"),
])
async def test_a_return_of_no_sensible_range_is_refused_naming_the_field(floor: Floor, query: str, field: str, words: str):
    r = await floor.http.get(f"/api/returns?{query}", headers=floor.auth("sup1"))
    assert r.status_code == 422 and r.json()["field"] == field and words in r.json()["detail"], r.text


async def test_a_handler_may_not_read_the_return(floor: Floor):
    r = await floor.http.get("/api/returns?from=2025-01-01&to=2025-01-31", headers=floor.auth("h1"))
    assert r.status_code == 403, r.text
