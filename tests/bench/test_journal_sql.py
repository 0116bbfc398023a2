"""The journal in PostgreSQL (scripts/journal_sql.py, issue 17's proposed store) answers intake's
questions with intake's own figures, to the last digit: the same seeded calls in a real Redis
journal and a throwaway real PostgreSQL, the national return, the 999 misuse table and the
forecast's history read from each, and the every-record question (p90 talk per line and hour)."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import journal_sql
from bench_journal_store import WRAPUPS, talk_p90_of
from year_of_calls import draw_year, write_day

from intake.app.journal_range import JournalRange
from intake.core.returns import misuse, monthly_returns

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
