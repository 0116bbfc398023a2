"""The national return over REST on a served IntakeServer: a 999 call answered on the simulated
PBX and graded by its handler is in the month's return and its 999 misuse, from the journal."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import pytest

from intake.app.signed_in_store import read_signed_in
from intake.core.demand import interval_start
from intake.core.returns import DaySummary
from tests.intake import test_web_api
from tests.routing.test_callback_desk import Floor
from tests.waiting import eventually

pytestmark = pytest.mark.redis
floor = test_web_api.floor  # the REST tests' floor: h1..h4 and sup1 on the simulated PBX, nobody queued yet

H1 = "PJSIP/handler-1"


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
                                       "grading": "resolved", "calls": 1, "called_back": 0}]
    assert body["misuse"]["months"][0]["not_emergency_pct"] == 100.0
    csv = await floor.http.get(f"/api/returns/csv?from={today}&to={today}&table=misuse", headers=sup)
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("month,hour,grading,calls,called_back\r\n")
    quarter = interval_start(floor.server.registry.calls[call_id].queued_at, 900)

    async def sampled() -> bool:  # the leader's signed-in samples are written behind its ticker
        return any(s.line == "999" and interval_start(s.at, 900) == quarter
                   for s in await read_signed_in(floor.server.journal.redis, [floor.server.journal.prefix], date.today(), date.today()))

    await eventually(sampled, 10)
    staffing = await floor.http.get(f"/api/staffing/{today}", headers=sup)
    assert staffing.status_code == 200, staffing.text
    (interval,) = [r for r in staffing.json()["intervals"] if r["line"] == "999"]
    assert (interval["offered"], interval["answered"]) == (1, 1) and interval["needed"] >= 1
    assert interval["needed_erlang_c"] >= interval["needed"]  # callers who never hang up need as many or more
    assert interval["signed_in"] >= 1 and 0 <= interval["service_level_signed_in"] <= 1  # h1 at least, on the 999 queue
    assert not await floor.server.journal.redis.exists(f"{floor.server.journal.prefix}journal-summary:{today}")  # today is never kept
    # once the day is over, the site's leader summarises it (on its ticker: here told the day is over)
    kept = f"{floor.server.journal.prefix}journal-summary:{today}"
    floor.server.site.summarise_closed_day(time.time() + 86_400)
    await eventually(lambda: floor.server.journal.redis.exists(kept), 10, "the day's summary kept")
    summary = DaySummary.loads(await floor.server.journal.redis.get(kept))
    assert summary.records == 1 and [d.offered for d in summary.demand_in(900) if d.line == "999"] == [1]


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
