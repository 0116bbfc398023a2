"""The forecast over REST on a served IntakeServer whose journal (real Redis) holds weeks of
history: the days ahead per interval with the handlers they need, what the forecast stood on, its
back-test; a range it will not read is refused naming the field; a handler may not read it; the
reading is in the audit trail."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from intake.core.erlang import Demand, Goal, handlers_needed
from tests.intake import test_web_api
from tests.intake.test_audit_points import summary, trail
from tests.intake.test_staffing_cli import WRAPUP_999, _at, _file, _record
from tests.routing.test_callback_desk import Floor

pytestmark = pytest.mark.redis
floor = test_web_api.floor  # the REST tests' floor: h1..h4 and sup1 on the simulated PBX, nobody queued yet

AHEAD = date(2025, 7, 4)  # a Friday


def fridays_busy(first: date, days: int) -> list[tuple[Any, float]]:
    """999 calls of 150 s at 21:00 every day from ``first``: 8 on a Friday, 2 on other days."""
    calls = []
    for n in range(days):
        day = first + timedelta(days=n)
        calls += [(_record(f"{day}-{i}", _at(day, 21, 0, i * 100)), 150.0) for i in range(8 if day.weekday() == 4 else 2)]
    return calls


async def forecast(floor: Floor, query: str) -> dict[str, Any]:
    r = await floor.http.get(f"/api/forecast?{query}", headers=floor.auth("sup1"))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_the_days_ahead_are_forecast_from_the_weeks_before_with_what_the_forecast_stood_on(floor: Floor):
    assert floor.server.journal.prefix == "intake:"  # where _file files them
    await _file(floor.redis, fridays_busy(AHEAD - timedelta(days=21), 21))  # three weeks before it
    body = await forecast(floor, f"from={AHEAD}&to={AHEAD + timedelta(days=1)}")

    assert (body["from"], body["to"], body["site"], body["interval_minutes"]) == (str(AHEAD), str(AHEAD + timedelta(days=1)), None, 15)
    assert body["goals"] == {"999": {"target_seconds": 12.0, "goal_percent": 90.0}, "101": {"target_seconds": 60.0, "goal_percent": 90.0}}
    assert body["history"] == {"from": str(AHEAD - timedelta(days=21)), "to": str(AHEAD - timedelta(days=1)), "days": 21,
                               "window_from": str(AHEAD - timedelta(weeks=8)), "window_weeks": 8}
    assert body["without_history"] == ["101"] and body["unseen_weekdays"] == []
    rows = [r for r in body["intervals"] if r["line"] == "999"]
    assert len(rows) == 2 * 96  # every quarter hour of the Friday and the Saturday
    nine_pm = [(r["start"][:16], r["offered"]) for r in rows if r["offered"]]
    assert nine_pm == [(f"{AHEAD}T21:00", 8), (f"{AHEAD + timedelta(days=1)}T21:00", 2)]
    friday = next(r for r in rows if r["start"].startswith(f"{AHEAD}T21:00"))
    wrapup = floor.server.config.lines[0].wrapup_seconds
    assert friday["handle_seconds"] == round(150 + wrapup, 1) != 150 + WRAPUP_999  # the served config's wrap-up
    model = Demand(8 / 900, 150 + wrapup, friday["patience_seconds"])
    assert (friday["needed"], friday["needed_erlang_c"]) == (handlers_needed(model, Goal(12, 0.9)),
                                                             handlers_needed(model, Goal(12, 0.9), "erlang-c"))
    test = body["backtest"]["999"]
    assert test["held_back_weeks"] == body["held_back_weeks"] == 2 and test["weighted_absolute_percentage_error"] == 0
    assert {(e["weekday"], e["interval"], e["forecast"], e["actual"]) for e in test["by_interval"]} == {
        (wd, 84, 8 if wd == 4 else 2, 8 if wd == 4 else 2) for wd in range(7)}  # 21:00 is the day's 84th quarter

    entries = [e for e in await trail(floor) if e.record.startswith("forecast-")]
    assert [summary(e)[:6] for e in entries] == [
        ("consulted", "report", "token:sup1", "supervisor", None, f"forecast-{AHEAD}-{AHEAD + timedelta(days=1)}")]


async def test_a_history_of_a_few_days_says_which_weekdays_it_never_saw_and_is_not_back_tested(floor: Floor):
    await _file(floor.redis, fridays_busy(AHEAD - timedelta(days=3), 3))  # Tuesday to Thursday
    body = await forecast(floor, f"from={AHEAD}&to={AHEAD + timedelta(days=6)}")
    assert body["history"]["days"] == 3 and body["history"]["from"] == str(AHEAD - timedelta(days=3))
    assert body["unseen_weekdays"] == ["Monday", "Friday", "Saturday", "Sunday"]
    assert body["backtest"] == {}


async def test_held_back_weeks_without_a_call_have_no_percentage_error(floor: Floor):
    await _file(floor.redis, fridays_busy(AHEAD - timedelta(days=28), 14))  # then two quiet weeks
    body = await forecast(floor, f"from={AHEAD}&to={AHEAD}")
    test = body["backtest"]["999"]
    assert test["weighted_absolute_percentage_error"] is None and test["mean_absolute_error"] > 0


async def test_no_history_forecasts_no_line(floor: Floor):
    body = await forecast(floor, f"from={AHEAD}&to={AHEAD}")
    assert body["history"] | {"window_from": None} == {"from": None, "to": None, "days": 0, "window_from": None, "window_weeks": 8}
    assert body["without_history"] == ["101", "999"] and body["intervals"] == [] and body["backtest"] == {}


@pytest.mark.parametrize(("query", "field", "words"), [
    ("from=2025-07-04&to=2025-08-04", "to", "at most 31 days in one forecast (32 asked)"),
    ("from=2025-07-32&to=2025-08-01", "from", "'2025-07-32' is not a day (YYYY-MM-DD)"),
    ("from=2025-07-04&to=tomorrow", "to", "'tomorrow' is not a day"),
    ("from=2025-07-04&to=2025-07-03", "to", "is before from"),
    ("from=2025-07-04&to=2025-07-04&site=mars", "site", "no site 'mars'"),
])
async def test_a_forecast_of_no_sensible_range_is_refused_naming_the_field(floor: Floor, query: str, field: str, words: str):
    r = await floor.http.get(f"/api/forecast?{query}", headers=floor.auth("sup1"))
    assert r.status_code == 422 and r.json()["error"] == "invalid" and r.json()["field"] == field, r.text
    assert words in r.json()["detail"], r.text


async def test_a_month_is_read_and_a_handler_may_not_read_it(floor: Floor):
    assert (await floor.http.get("/api/forecast?from=2025-07-01&to=2025-07-31", headers=floor.auth("sup1"))).status_code == 200
    r = await floor.http.get("/api/forecast?from=2025-07-04&to=2025-07-04", headers=floor.auth("h1"))
    assert r.status_code == 403, r.text
