"""`intake staffing` and `intake forecast` on a journal in a real Redis: the calls of each
interval, the talk times filed when the calls were over, the handlers Erlang A says each needed;
and the days ahead from the weeks before them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from intake.app.journal import CallJournal, JournalRecord, TalkRecord, WrapUpRecord
from intake.core.erlang import Demand, Goal, handlers_needed
from intake.core.returns import DaySummary

REPO = Path(__file__).resolve().parents[2]
DAY = date(2025, 6, 6)  # a Friday
WRAPUP_999 = 15  # config/intake.toml's [[lines]] 999


def _at(day: date, hour: int, minute: int = 0, second: float = 0) -> float:
    return time.mktime((day.year, day.month, day.day, hour, minute, 0, 0, 0, -1)) + second


def _record(call_id: str, at: float, settled: str = "answered", waited: float = 4.0, line: str = "999") -> JournalRecord:
    queue = {"999": "emergency", "101": "non-emergency"}[line]
    return JournalRecord(call_id=call_id, line=line, queue=queue, target_seconds=12 if line == "999" else 60,
                         queued_at=at, settled=settled, waited_seconds=waited)  # type: ignore[arg-type]


async def _file(client: aioredis.Redis, records: list[tuple[JournalRecord, float | None]]) -> None:
    journal = CallJournal(client, "intake:")
    async with client.pipeline(transaction=False) as pipe:
        for record, talk in records:
            journal.stage(pipe, record)
            if talk is not None:
                journal.stage_talk(pipe, TalkRecord(call_id=record.call_id, queue=record.queue,
                                                    queued_at=record.queued_at, talk_seconds=talk))
        await pipe.execute()


def _intake(client: aioredis.Redis, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    db = client.connection_pool.connection_kwargs["db"]
    return subprocess.run([sys.executable, "-m", "intake.app.cli", *args, "--config", str(REPO / "config" / "intake.toml"),
                           "--redis-url", f"{redis_url.rstrip('/')}/{db}"], capture_output=True, text=True, cwd=REPO,
                          timeout=120)


def _json(done: subprocess.CompletedProcess[str]) -> Any:  # Any: the verb's JSON
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_staffing_sets_each_quarter_hours_calls_against_the_handlers_they_needed(redis_client: aioredis.Redis,
                                                                                       redis_url: str) -> None:
    # 21:00-21:15: 40 calls of 3 minutes' talk, two of them given up after a minute; 21:15-21:30: 4
    busy = [(_record(f"b{i}", _at(DAY, 21, 0, i * 22)), 180.0) for i in range(38)]
    busy += [(_record(f"g{i}", _at(DAY, 21, 5, i), "abandoned", waited=60), None) for i in range(2)]
    quiet = [(_record(f"q{i}", _at(DAY, 21, 20, i * 60)), 120.0) for i in range(4)]
    await _file(redis_client, busy + quiet)

    view = _json(_intake(redis_client, redis_url, "staffing", "--from", DAY.isoformat(), "--to", DAY.isoformat()))
    assert view["interval_minutes"] == 15 and view["lines"]["999"]["goal_percent"] == 90
    first, second = view["intervals"]
    assert (first["line"], first["offered"], first["answered"], first["abandoned"]) == ("999", 40, 38, 2)
    assert first["start"].startswith(f"{DAY.isoformat()}T21:00")
    assert first["handle_seconds"] == 180 + WRAPUP_999
    # patience: every caller's wait (38 x 4 s + 2 x 60 s) over the two who hung up
    assert first["patience_seconds"] == round((38 * 4 + 120) / 2, 1)
    demand = Demand(40 / 900, 180 + WRAPUP_999, (38 * 4 + 120) / 2)
    assert first["needed"] == handlers_needed(demand, Goal(12, 0.9))
    assert first["needed_erlang_c"] >= first["needed"] > second["needed"] >= 1
    # nobody hung up in the quiet quarter: the line's patience stands in
    assert second["patience_seconds"] is None and second["handle_seconds"] == 120 + WRAPUP_999

    done = _intake(redis_client, redis_url, "staffing", "--from", DAY.isoformat(), "--to", DAY.isoformat(), "--csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["line"], r["offered"], r["needed"]) for r in rows] == [("999", "40", str(first["needed"])),
                                                                       ("999", "4", str(second["needed"]))]
    assert rows[1]["patience_seconds"] == ""

    # read from the day's kept summary; --fresh makes the day again from its records
    key = f"intake:journal-summary:{DAY.isoformat()}"
    kept = DaySummary.loads(await redis_client.get(key))  # type: ignore[arg-type]
    for tally in kept.quarters.values():
        tally.handle *= 2
    await redis_client.set(key, kept.dumps())
    tampered = _json(_intake(redis_client, redis_url, "staffing", "--from", DAY.isoformat(), "--to", DAY.isoformat()))
    assert tampered["intervals"][0]["handle_seconds"] == 2 * (180 + WRAPUP_999)
    fresh = _json(_intake(redis_client, redis_url, "staffing", "--from", DAY.isoformat(), "--to", DAY.isoformat(), "--fresh"))
    assert fresh == view


async def test_the_talk_of_a_call_over_is_read_back_with_its_record(redis_client: aioredis.Redis) -> None:
    record = _record("c1", _at(DAY, 9))
    await _file(redis_client, [(record, 95.5), (_record("c2", _at(DAY, 9, 1)), None)])
    got = {r.call_id: r.talk_seconds for r in await CallJournal(redis_client, "intake:").day(DAY)}
    assert got == {"c1": 95.5, "c2": None}


async def test_forecast_gives_the_days_ahead_from_the_weeks_before_with_its_back_test(redis_client: aioredis.Redis,
                                                                                      redis_url: str) -> None:
    ahead = DAY + timedelta(days=28)  # a Friday four weeks on
    history = []
    for back in range(1, 22):  # three weeks before it
        day = ahead - timedelta(days=back)
        calls = 8 if day.weekday() == 4 else 2  # Friday evenings are busy
        history += [(_record(f"{day}-{i}", _at(day, 21, 0, i * 100)), 150.0) for i in range(calls)]
    await _file(redis_client, history)

    view = _json(_intake(redis_client, redis_url, "forecast", "--from", ahead.isoformat(), "--to", ahead.isoformat()))
    assert view["history"]["to"] == (ahead - timedelta(days=1)).isoformat()
    nine_pm = [r for r in view["intervals"] if r["line"] == "999" and "T21:00" in r["start"]]
    assert [r["offered"] for r in nine_pm] == [8]
    assert nine_pm[0]["needed"] == handlers_needed(Demand(8 / 900, 150 + WRAPUP_999, 120), Goal(12, 0.9))
    assert all(r["offered"] == 0 and r["needed"] == 0 for r in view["intervals"] if "T21:00" not in r["start"])
    assert len(view["intervals"]) == 96  # every quarter hour of the day; 101 has no history to go on
    assert view["without_history"] == ["101"]
    test = view["backtest"]["999"]
    assert test["held_back_weeks"] == 2 and test["weighted_absolute_percentage_error"] == 0


async def test_forecast_says_what_it_stood_on_and_the_weekdays_its_history_never_saw(redis_client: aioredis.Redis,
                                                                                     redis_url: str) -> None:
    ahead = DAY + timedelta(days=28)  # a Friday
    history = [(_record(f"{day}-{i}", _at(day, 21, 0, i * 100)), 150.0)
               for day in (ahead - timedelta(days=2), ahead - timedelta(days=1)) for i in range(3)]  # Wednesday and Thursday
    await _file(redis_client, history)
    done = _intake(redis_client, redis_url, "forecast", "--from", ahead.isoformat(), "--to", (ahead + timedelta(days=6)).isoformat())
    view = _json(done)
    assert view["goals"]["999"] == {"target_seconds": 12, "goal_percent": 90}
    assert view["history"] == {"from": str(ahead - timedelta(days=2)), "to": str(ahead - timedelta(days=1)), "days": 2,
                               "window_from": str(ahead - timedelta(weeks=8)), "window_weeks": 8}
    assert view["unseen_weekdays"] == ["Monday", "Tuesday", "Friday", "Saturday", "Sunday"]
    assert view["backtest"] == {}  # two days cannot hold two weeks back
    assert "the history (2 days) has no Monday, Tuesday, Friday, Saturday, Sunday: forecast as no calls" in done.stderr


async def test_staffing_takes_the_wrap_up_measured_after_each_call_and_says_whose_it_took(redis_client: aioredis.Redis,
                                                                                        redis_url: str) -> None:
    measured = [_record(f"m{i}", _at(DAY, 10, 0, i * 60)) for i in range(6)]   # 10:00: every wrap-up measured, 45 s
    configured = [_record(f"c{i}", _at(DAY, 10, 20, i * 60)) for i in range(4)]  # 10:15: none measured
    mixed = [_record(f"x{i}", _at(DAY, 10, 35, i * 60)) for i in range(2)]     # 10:30: one of two
    await _file(redis_client, [(r, 120.0) for r in measured + configured + mixed])
    journal = CallJournal(redis_client, "intake:")
    async with redis_client.pipeline(transaction=False) as pipe:
        for r in [*measured, mixed[0]]:
            journal.stage_wrapup(pipe, WrapUpRecord(call_id=r.call_id, queue=r.queue, queued_at=r.queued_at, wrapup_seconds=45.0))
        await pipe.execute()

    view = _json(_intake(redis_client, redis_url, "staffing", "--from", DAY.isoformat(), "--to", DAY.isoformat()))
    ten, quarter_past, half_past = view["intervals"]
    assert (ten["wrapup"], ten["wrapups_measured"], ten["handle_seconds"]) == ("measured", 6, 120 + 45)
    assert ten["needed"] == handlers_needed(Demand(6 / 900, 165, view["lines"]["999"]["patience_seconds"]), Goal(12, 0.9))
    assert (quarter_past["wrapup"], quarter_past["wrapups_measured"], quarter_past["handle_seconds"]) == ("configured", 0, 120 + WRAPUP_999)
    assert (half_past["wrapup"], half_past["wrapups_measured"]) == ("mixed", 1)
    assert half_past["handle_seconds"] == (165 + 120 + WRAPUP_999) / 2
    assert view["lines"]["999"]["wrapups_measured"] == 7

    done = _intake(redis_client, redis_url, "staffing", "--from", DAY.isoformat(), "--to", DAY.isoformat(), "--csv")
    assert done.returncode == 0, done.stderr
    header, *_ = done.stdout.splitlines()
    assert header.endswith(",service_level_signed_in,wrapup,wrapups_measured")  # appended: the layout only grows
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["wrapup"], r["wrapups_measured"]) for r in rows] == [("measured", "6"), ("configured", "0"), ("mixed", "1")]
