"""A range of the journal's days read back from a real Redis: the returns from records the
journal itself wrote, its kept day summaries, and ``intake returns`` on top."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from intake.app.journal import CallJournal, JournalRecord, TalkRecord, WrapUpRecord
from intake.app.journal_range import JournalRange
from intake.core.demand import intervals
from intake.core.returns import misuse, monthly_returns

pytestmark = pytest.mark.redis

REPO = Path(__file__).resolve().parents[2]
TODAY = date(2026, 1, 1)


def at(month: int, day: int, hour: int = 10) -> float:
    return datetime(2025, month, day, hour, 30).timestamp()


def record(call_id: str, queued_at: float, settled: str = "answered", waited: float = 4.0, line: str = "999") -> JournalRecord:
    return JournalRecord(call_id=call_id, line=line, queue="emergency" if line == "999" else "non-emergency",
                         target_seconds=12 if line == "999" else 60, queued_at=queued_at, settled=settled,  # type: ignore[arg-type]
                         waited_seconds=waited, waited_from_arrival=waited + 1.5)


def row(days, month: str, line: str = "999") -> dict:
    return next(r for r in monthly_returns(days) if (r["month"], r["line"]) == (month, line))


async def test_the_returns_read_what_the_journal_wrote_and_gradings_filed_after_midnight(redis_client):
    journal = CallJournal(redis_client, "t:")
    for n, (queued, settled, waited) in enumerate([(at(1, 31, 23), "answered", 3.0), (at(1, 5), "answered", 30.0),
                                                   (at(1, 5), "abandoned", 140.0), (at(2, 1), "answered", 2.0)]):
        await journal.append(record(f"c{n}", queued, settled, waited))
    await journal.append(record("c1", at(1, 5), "answered", 99.0))  # the same stay written again: the first wins
    await journal.grade("c0", "resolved", at(2, 1, 0))    # filed after midnight: the next day's gradings
    await journal.grade("c3", "emergency", at(2, 1, 11))
    days = await JournalRange(redis_client, ["t:"]).summaries(date(2025, 1, 1), date(2025, 1, 31), TODAY)
    january = row(days, "2025-01")
    assert (january["offered"], january["answered"], january["answered_within_10s"], january["abandoned"]) == (3, 2, 1, 1)
    assert january["waited_over_2min"] == 1
    assert misuse(days)["months"] == [{"month": "2025-01", "graded": 1, "not_emergency": 1, "not_emergency_pct": 100.0,
                                       "by_grading": {"emergency": 0, "priority": 0, "scheduled": 0, "resolved": 1},
                                       "called_back": 0}]
    assert [r["month"] for r in monthly_returns(days)] == ["2025-01", "2025-01"]  # February's call is not in the range


async def test_a_kept_summary_is_used_and_made_again_when_the_journal_or_a_grading_changes(redis_client):
    journal = CallJournal(redis_client, "t:")
    reader = JournalRange(redis_client, ["t:"])
    await journal.append(record("a", at(3, 3)))
    first = await reader.summaries(date(2025, 3, 1), date(2025, 3, 31), TODAY)
    assert await redis_client.exists("t:journal-summary:2025-03-03")
    assert row(first, "2025-03")["offered"] == 1
    # a record spooled in late to a past day: the kept summary no longer matches the day's count
    await journal.append(record("b", at(3, 3, 18), "abandoned", 20.0))
    assert row(await reader.summaries(date(2025, 3, 1), date(2025, 3, 31), TODAY), "2025-03")["abandoned"] == 1
    # an outcome filed, then filed again with another grading: the day's summary is made again each time
    await journal.grade("a", "priority", at(3, 3, 11))
    assert misuse(await reader.summaries(date(2025, 3, 1), date(2025, 3, 31), TODAY))["rows"][0]["grading"] == "priority"
    await journal.grade("a", "emergency", at(3, 3, 12))
    assert misuse(await reader.summaries(date(2025, 3, 1), date(2025, 3, 31), TODAY))["rows"][0]["grading"] == "emergency"


async def test_today_is_never_kept_and_a_bad_member_is_left_out(redis_client):
    journal = CallJournal(redis_client, "t:")
    await journal.append(record("a", at(4, 9)))
    await redis_client.zadd("t:journal:2025-04-09", {b"not a record": at(4, 9)})
    reader = JournalRange(redis_client, ["t:"])
    days = await reader.summaries(date(2025, 4, 9), date(2025, 4, 9), today=date(2025, 4, 9))
    assert row(days, "2025-04")["offered"] == 1
    assert not await redis_client.exists("t:journal-summary:2025-04-09")
    read = await reader.read(date(2025, 4, 9), date(2025, 4, 9))
    assert (len(read.calls), read.unreadable) == (1, 1)


async def test_every_sites_journal_is_added_up(redis_client):
    await CallJournal(redis_client, "t:site:north:").append(record("n1", at(5, 2)))
    await CallJournal(redis_client, "t:site:south:").append(record("s1", at(5, 2), line="101", waited=70.0))
    await CallJournal(redis_client, "t:site:south:").append(record("s2", at(5, 20)))
    days = await JournalRange(redis_client, ["t:site:north:", "t:site:south:"]).summaries(
        date(2025, 5, 1), date(2025, 5, 31), TODAY)
    assert row(days, "2025-05")["offered"] == 2 and row(days, "2025-05", "101")["offered"] == 1


async def test_intake_returns_prints_json_and_the_documented_csv(redis_client, redis_url):
    db = redis_client.connection_pool.connection_kwargs["db"]
    journal = CallJournal(redis_client, "intake:")
    await journal.append(record("a", at(6, 1, 3)))
    await journal.grade("a", "scheduled", at(6, 1, 3))
    url = f"{redis_url}/{db}"

    def intake(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "intake.app.cli", "returns", "--redis-url", url, *args],
                              capture_output=True, text=True, cwd=REPO)

    async def run(*args: str) -> str:
        done = await asyncio.to_thread(intake, "--from", "2025-06-01", "--to", "2025-06-30", *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    out = json.loads(await run())
    assert out["records"] == 1 and out["returns"][1]["line"] == "999" and out["returns"][1]["answered_within_10s"] == 1
    assert out["misuse"]["rows"] == [{"month": "2025-06", "hour": 3, "grading": "scheduled", "calls": 1,
                                     "called_back": 0}]
    assert (await run("--csv")).splitlines()[2] == "2025-06,999,1,1,1,100.0,5.5,5.6,0,0,0.0,12.0,1,100.0"
    assert (await run("--csv", "--table", "misuse")).splitlines() == ["month,hour,grading,calls,called_back",
                                                                          "2025-06,3,scheduled,1,0"]
    backwards = intake("--from", "2025-06-30", "--to", "2025-06-01")
    assert backwards.returncode == 2 and "is before" in backwards.stderr


async def test_the_demand_of_a_range_is_read_from_the_days_summaries(redis_client):
    journal = CallJournal(redis_client, "t:")
    records = [record(f"d{n}", at(7, 1 + n % 3, 8 + n % 5) + 60 * n, "answered" if n % 4 else "abandoned", 5.0 + n)
               for n in range(30)]
    for r in records:
        await journal.append(r)
    reader = JournalRange(redis_client, ["t:"], {"999": 10.0})
    got = await reader.demand(date(2025, 7, 1), date(2025, 7, 3), TODAY)
    want = intervals((await reader.read(date(2025, 7, 1), date(2025, 7, 3))).calls, 900, {"999": 10.0})
    assert sum(d.offered for d in want) == 30
    assert [(d.line, d.start, d.offered, d.abandoned) for d in got] == [(d.line, d.start, d.offered, d.abandoned) for d in want]
    again = await reader.demand(date(2025, 7, 1), date(2025, 7, 3), TODAY)  # from the kept summaries now
    assert again == got


async def test_a_talk_time_filed_after_the_day_was_kept_reaches_its_demand(redis_client):
    journal = CallJournal(redis_client, "t:")
    first = record("t1", at(8, 4, 23), "answered", 4.0)
    await journal.append(first)
    reader = JournalRange(redis_client, ["t:"], {"999": 10.0})
    (before,) = await reader.demand(date(2025, 8, 4), date(2025, 8, 4), TODAY)
    assert before.handle_seconds is None  # still talking: nothing to show yet
    async with redis_client.pipeline(transaction=True) as tx:  # the call ends after midnight
        journal.stage_talk(tx, TalkRecord(call_id="t1", queue="emergency", queued_at=first.queued_at, talk_seconds=300.0))
        await tx.execute()
    (after,) = await reader.demand(date(2025, 8, 4), date(2025, 8, 4), TODAY)
    assert after.handle_seconds == 310.0  # talk + the line's wrap-up
    (read,) = (await reader.read(date(2025, 8, 4), date(2025, 8, 4))).calls
    assert read.talk_seconds == 300.0


async def test_a_call_backs_grading_is_counted_under_the_abandoned_call_in_the_day_of_its_abandon(redis_client):
    journal = CallJournal(redis_client, "t:")
    await journal.append(record("gone", at(8, 3, 22), "abandoned", 50.0))
    reader = JournalRange(redis_client, ["t:"])
    assert misuse(await reader.summaries(date(2025, 8, 1), date(2025, 8, 31), TODAY))["rows"] == []  # kept: nobody graded it
    # called back four days later, the caller reached: a non-emergency
    await journal.grade("gone", "scheduled", at(8, 7, 9), under=at(8, 3, 22) + 50)
    days = await reader.summaries(date(2025, 8, 1), date(2025, 8, 31), TODAY)
    assert misuse(days)["rows"] == [{"month": "2025-08", "hour": 22, "grading": "scheduled", "calls": 1, "called_back": 1}]
    assert misuse(days)["months"][0]["called_back"] == 1 and misuse(days)["months"][0]["not_emergency"] == 1
    # the range of the abandon's day alone finds it: it is not filed under the day of the call-back
    read = await reader.read(date(2025, 8, 3), date(2025, 8, 3))
    assert [(c.call_id, c.grading, c.called_back) for c in read.calls] == [("gone", "scheduled", True)]


async def test_measured_wrapups_reach_the_days_demand_and_a_late_one_makes_the_kept_summary_again(redis_client):
    journal = CallJournal(redis_client, "t:")
    calls = [record(f"w{n}", at(9, 2, 10) + 60 * n) for n in range(4)]
    async with redis_client.pipeline(transaction=False) as pipe:
        for r in calls:
            journal.stage(pipe, r)
            journal.stage_talk(pipe, TalkRecord(call_id=r.call_id, queue=r.queue, queued_at=r.queued_at, talk_seconds=100.0))
        for r in calls[:3]:  # the fourth handler's wrap-up is not over yet
            journal.stage_wrapup(pipe, WrapUpRecord(call_id=r.call_id, queue=r.queue, queued_at=r.queued_at, wrapup_seconds=8.0))
        await pipe.execute()
    reader = JournalRange(redis_client, ["t:"], {"999": 20.0})
    (quarter,) = await reader.demand(date(2025, 9, 2), date(2025, 9, 2), TODAY)
    assert (quarter.wrapup, quarter.wrapups_measured, quarter.handled) == ("mixed", 3, 4)
    assert quarter.handle_seconds == pytest.approx((3 * 108 + 120) / 4)  # the fourth: the line's configured 20 s
    assert [r.wrapup_seconds for r in await journal.day(date(2025, 9, 2))] == [8.0, 8.0, 8.0, None]
    # its wrap-up filed after the day's summary was kept: the summary is made again
    await journal.append(calls[3])
    async with redis_client.pipeline(transaction=False) as pipe:
        journal.stage_wrapup(pipe, WrapUpRecord(call_id="w3", queue=calls[3].queue, queued_at=calls[3].queued_at,
                                                wrapup_seconds=12.0))
        await pipe.execute()
    (quarter,) = await reader.demand(date(2025, 9, 2), date(2025, 9, 2), TODAY)
    assert (quarter.wrapup, quarter.wrapups_measured) == ("measured", 4)
    assert quarter.handle_seconds == pytest.approx((3 * 108 + 112) / 4)
