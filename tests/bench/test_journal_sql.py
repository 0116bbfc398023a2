"""The journal in PostgreSQL (scripts/journal_sql.py, issue 17's proposed store) answers intake's
questions with intake's own figures, to the last digit: the same seeded calls in a real Redis
journal and a throwaway real PostgreSQL, the national return, the 999 misuse table and the
forecast's history read from each, and the every-record question (p90 talk per line and hour)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import journal_sql
from bench_journal_store import WRAPUPS, talk_p90_of
from year_of_calls import draw_year, write_day

from intake.app.journal_range import JournalRange
from intake.core.returns import misuse, monthly_returns
from tests.waiting import patience

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

FIRST, DAYS = date(2025, 1, 20), 20  # two months, so month sums and a month boundary are in it
LAST = FIRST + timedelta(days=DAYS - 1)


async def test_sql_answers_are_intakes_figures(redis_client: Any) -> None:
    journal = JournalRange(redis_client, ["t:"], WRAPUPS)
    with journal_sql.postgres() as server:
        pg = await server.connect()
        try:
            await journal_sql.create_schema(pg, FIRST, LAST)
            for day, drawn in draw_year(FIRST, DAYS, 20_000, seed=5):
                await write_day(redis_client, "t:", day, drawn)
                await journal_sql.load_day(pg, drawn)
            await journal_sql.index(pg)

            sql_return, sql_misuse = await journal_sql.returns(pg, FIRST, LAST)
            sql_history = await journal_sql.demand_history(pg, FIRST, LAST, WRAPUPS)
            sql_talk = await journal_sql.talk_p90(pg, FIRST, LAST)
        finally:
            await pg.close()

    days = await journal.summaries(FIRST, LAST, LAST + timedelta(days=1), fresh=True)
    assert [(r["month"], r["line"]) for r in sql_return] == [("2025-01", "101"), ("2025-01", "999"),
                                                               ("2025-02", "101"), ("2025-02", "999")]
    assert sum(r["offered"] for r in sql_return) == sum(s.records for s in days.values())
    assert sql_return == monthly_returns(days)
    assert sql_misuse["rows"] and sql_misuse == misuse(days)
    assert len(sql_history) > 1000 and sql_history == await journal.demand(FIRST, LAST, LAST + timedelta(days=1))
    assert len(sql_talk) == 48 and sql_talk == talk_p90_of((await journal.read(FIRST, LAST)).calls)


async def test_gradings_filed_again_count_once_and_the_last_wins(redis_client: Any) -> None:
    """A call graded twice (the grading changed next day) is counted once in the misuse table, with
    the later grading, as the journal's reader counts it."""
    drawn = next(draw_year(FIRST, 1, 2_000, seed=5))[1]
    graded = next(c for c in drawn if c.grading == "emergency")
    with journal_sql.postgres() as server:
        pg = await server.connect()
        try:
            await journal_sql.create_schema(pg, FIRST, FIRST)
            await journal_sql.load_day(pg, drawn)
            await pg.execute("INSERT INTO gradings VALUES ($1, $2, 'resolved')", graded.record.call_id, FIRST + timedelta(days=1))
            _, before = await journal_sql.returns(pg, FIRST, FIRST)
        finally:
            await pg.close()
    graded_999 = sum(1 for c in drawn if c.grading is not None and c.record.line == "999")
    month = before["months"][0]
    assert month["graded"] == graded_999
    expected = sum(1 for c in drawn if c.grading == "emergency" and c.record.line == "999") - 1
    assert month["by_grading"]["emergency"] == expected


def test_the_bench_compares_both_stores_on_a_small_year(redis_url: str) -> None:
    """scripts/bench_journal_store.py runs end to end and finds both stores' answers the same, in a
    zone whose clocks change on one of its days (local days and hours on both sides); its seconds
    are not asserted (a benchmark's figures on a busy machine mean nothing, only their presence)."""
    done = subprocess.run([sys.executable, "scripts/bench_journal_store.py", "--redis-url", f"{redis_url}/13",
                           "--prefix", "test-bench-store:", "--start", "2025-03-29", "--days", "3", "--calls", "3000",
                           "--repeat", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=patience(120),
                          env={**os.environ, "TZ": "Europe/London"})  # summer time from 30 March 2025
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["calls"] > 2500 and all(result["same_answers"].values()), result["same_answers"]
    for store in ("redis_every_record", "redis_kept_day_summaries", "postgres_every_record"):
        assert all(isinstance(v, float) for v in result["seconds"][store].values()), store
    assert result["size_mb"]["postgres_database_on_disk"] > 0 and set(result["ratios"]) >= {
        "returns_misuse_history_redis_every_record_over_postgres", "talk_p90_redis_over_postgres", "memory_redis_over_postgres_disk"}
