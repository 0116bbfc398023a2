"""The national returns, from calls to rows: each figure's definition (docs/returns.md) by example."""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime

import pytest

from intake.core.demand import intervals, quarter_tallies
from intake.core.returns import (
    MISUSE_COLUMNS,
    RETURN_COLUMNS,
    DaySummary,
    JournalCall,
    as_csv,
    misuse,
    monthly_returns,
    summarise,
)


def at(month: int, day: int = 4, hour: int = 10) -> float:
    return datetime(2025, month, day, hour, 7).timestamp()  # local time, as the returns' months and hours are


def call(n: int, queued_at: float, settled: str = "answered", waited: float = 3.0, *, line: str = "999",
         connect: float | None = 1.0, grading: str | None = None, target: float = 12.0,
         called_back: bool = False) -> JournalCall:
    return JournalCall(f"c{n}", line, queued_at, settled, waited,  # type: ignore[arg-type]
                       None if connect is None else waited + connect, target, grading, called_back=called_back)


def returns_of(calls: list[JournalCall]) -> dict[tuple[str, str], dict]:
    return {(r["month"], r["line"]): r for r in monthly_returns(summarise(calls))}


def test_answered_within_10s_is_measured_from_connection_and_counts_answered_calls_only():
    rows = returns_of([
        call(1, at(3), waited=8.0, connect=2.0),      # 10.0 s from connection: within (10 s included)
        call(2, at(3), waited=8.5, connect=2.0),      # 10.5 s: not within, though 8.5 s in the queue
        call(3, at(3), waited=9.0, connect=None),     # no arrival seen: from queue entry, within
        call(4, at(3), "abandoned", waited=4.0),      # not answered: not in the Home Office share
    ])
    march = rows[("2025-03", "999")]
    assert (march["offered"], march["answered"], march["answered_within_10s"]) == (4, 3, 2)
    assert march["answered_within_10s_pct"] == 66.7
    assert (march["abandoned"], march["abandoned_pct"]) == (1, 25.0)
    # the line's own target counts from queue entry and against every offered call
    assert (march["answered_within_target"], march["answered_within_target_pct"]) == (3, 75.0)


def test_mean_and_p90_answer_time_and_waits_over_two_minutes():
    waits = [float(w) for w in range(1, 11)]  # answered after 1..10 s in the queue, +1 s connection
    calls = [call(i, at(5), waited=w) for i, w in enumerate(waits)]
    calls += [call(20, at(5), "abandoned", waited=125.0), call(21, at(5), "answered", waited=119.5, connect=1.0)]
    row = returns_of(calls)[("2025-05", "999")]
    assert row["mean_answer_seconds"] == round((sum(waits) + 10 + 120.5) / 11, 3)
    # nearest rank 10 of 11 is 11.0 s, in the bin [11.0, 11.1): reported as its upper edge, never flattering
    assert row["p90_answer_seconds"] == 11.1
    assert row["waited_over_2min"] == 2  # abandoned after 126 s, and answered 120.5 s after connection


def test_a_month_shows_both_lines_and_a_line_without_calls_reads_as_zeros():
    rows = monthly_returns(summarise([call(1, at(1), line="101", target=60.0, waited=45.0), call(2, at(2))]))
    assert [(r["month"], r["line"]) for r in rows] == [("2025-01", "101"), ("2025-01", "999"),
                                                       ("2025-02", "101"), ("2025-02", "999")]
    empty = rows[1]
    assert (empty["offered"], empty["answered_within_10s_pct"], empty["mean_answer_seconds"]) == (0, None, None)
    assert rows[0]["target_seconds"] == 60.0 and rows[0]["answered_within_target"] == 1


def test_two_targets_on_one_line_in_a_month_give_no_single_target():
    row = returns_of([call(1, at(4), target=12.0), call(2, at(4), target=10.0)])[("2025-04", "999")]
    assert row["target_seconds"] is None and row["answered_within_target"] == 2


def test_999_misuse_counts_graded_999_calls_by_hour_and_grading():
    calls = [call(1, at(6, hour=2), grading="resolved"), call(2, at(6, hour=2), grading="resolved"),
             call(3, at(6, hour=2), grading="emergency"), call(4, at(6, hour=14), grading="priority"),
             call(5, at(6, hour=14)),                                               # not graded: not counted
             call(6, at(6, hour=14), line="101", grading="resolved", target=60)]    # 101: not 999 misuse
    found = misuse(summarise(calls))
    assert found["rows"] == [{"month": "2025-06", "hour": 2, "grading": "emergency", "calls": 1, "called_back": 0},
                             {"month": "2025-06", "hour": 2, "grading": "resolved", "calls": 2, "called_back": 0},
                             {"month": "2025-06", "hour": 14, "grading": "priority", "calls": 1, "called_back": 0}]
    (june,) = found["months"]
    assert (june["graded"], june["not_emergency"], june["not_emergency_pct"]) == (4, 3, 75.0)
    assert june["by_grading"] == {"emergency": 1, "priority": 1, "scheduled": 0, "resolved": 2}
    assert june["called_back"] == 0


def test_an_abandoned_999_call_graded_by_its_call_back_is_misuse_in_its_own_hour_and_says_so():
    calls = [call(1, at(6, hour=2), grading="resolved"),
             call(2, at(6, hour=2), "abandoned", waited=40.0, grading="resolved", called_back=True),
             call(3, at(6, hour=9), "abandoned", waited=20.0, grading="emergency", called_back=True)]
    days = summarise(calls)
    kept = {day: DaySummary.loads(s.dumps()) for day, s in days.items()}  # as a past day's summary keeps it
    found = misuse(kept)
    assert found["rows"] == [{"month": "2025-06", "hour": 2, "grading": "resolved", "calls": 2, "called_back": 1},
                             {"month": "2025-06", "hour": 9, "grading": "emergency", "calls": 1, "called_back": 1}]
    (june,) = found["months"]
    assert (june["graded"], june["not_emergency"], june["called_back"]) == (3, 2, 2)
    assert as_csv(found["rows"], MISUSE_COLUMNS).split("\r\n")[:2] == ["month,hour,grading,calls,called_back",
                                                                       "2025-06,2,resolved,2,1"]


def test_csv_layout_is_the_documented_one_with_empty_fields_for_no_figure():
    rows = monthly_returns(summarise([call(1, at(7), waited=2.0)]))
    lines = as_csv(rows, RETURN_COLUMNS).split("\r\n")
    assert lines[0] == ("month,line,offered,answered,answered_within_10s,answered_within_10s_pct,mean_answer_seconds,"
                        "p90_answer_seconds,waited_over_2min,abandoned,abandoned_pct,target_seconds,"
                        "answered_within_target,answered_within_target_pct")
    assert lines[1] == "2025-07,101,0,0,0,,,,0,0,,,0,"
    assert lines[2] == "2025-07,999,1,1,1,100.0,3.0,3.1,0,0,0.0,12.0,1,100.0"
    assert as_csv(misuse(summarise([call(1, at(7, hour=3), grading="scheduled")]))["rows"], MISUSE_COLUMNS) == \
        "month,hour,grading,calls,called_back\r\n2025-07,3,scheduled,1,0\r\n"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kept_day_summaries_give_the_same_returns_as_the_records(seed):
    """A year's return is read from days' summaries: stored and read back, added up in any order,
    they must say exactly what the records say."""
    rng = random.Random(seed)
    calls = [call(i, at(rng.randint(1, 3), rng.randint(1, 28), rng.randrange(24)),
                  rng.choice(["answered", "answered", "abandoned", "left"]), round(rng.expovariate(1 / 20), 3),
                  line=rng.choice(["999", "101"]), connect=rng.choice([None, 1.5]),
                  grading=rng.choice([None, "emergency", "priority", "resolved"])) for i in range(2000)]
    days = summarise(calls)
    kept = {day: DaySummary.loads(s.dumps()) for day, s in reversed(list(days.items()))}
    assert monthly_returns(kept) == monthly_returns(days)
    assert misuse(kept) == misuse(days)
    halves = [summarise(calls[:1000]), summarise(calls[1000:])]  # two sites' journals
    total: dict[str, DaySummary] = {}
    for half in halves:
        for day, s in half.items():
            total.setdefault(day, DaySummary()).merge(s)
    assert monthly_returns(total) == monthly_returns(days)
    assert sum(s.records for s in total.values()) == 2000


@pytest.mark.parametrize("seed", [4, 5])
def test_a_days_kept_demand_is_the_demand_of_its_records_and_two_sites_add_up(seed):
    """The staffing and the forecast read the days' summaries: kept, a day's quarter and half
    hours are the very ones its calls give (to the bit), and two sites' add up to the calls of both."""
    rng = random.Random(seed)
    calls = [call(i, at(3, 4, rng.randrange(24)) + rng.uniform(-1800, 1800), rng.choice(["answered", "abandoned"]),
                  rng.expovariate(1 / 20), line=rng.choice(["999", "101"]))
             for i in range(600)]
    calls = sorted([dataclasses.replace(c, talk_seconds=rng.uniform(60, 400) if rng.random() < 0.8 else None) for c in calls],
                   key=lambda c: c.queued_at)

    def kept(part: list[JournalCall]) -> DaySummary:
        summary = DaySummary()
        summary.count_demand(part, {"999": 10.0})
        return DaySummary.loads(summary.dumps())

    for seconds in (900, 1800, 3600):
        assert kept(calls).demand_in(seconds) == intervals(calls, seconds, {"999": 10.0})
    total = kept(calls[:250])
    total.merge(kept(calls[250:]))
    for seconds in (900, 1800):
        got, want = total.demand_in(seconds), intervals(calls, seconds, {"999": 10.0})
        assert [(d.line, d.start, d.offered, d.answered, d.abandoned, d.answered_within_target) for d in got] == \
            [(d.line, d.start, d.offered, d.answered, d.abandoned, d.answered_within_target) for d in want]
        for g, w in zip(got, want, strict=True):
            assert g.waited_seconds == pytest.approx(w.waited_seconds)
            assert (g.handle_seconds is None) == (w.handle_seconds is None)
            assert g.handle_seconds is None or g.handle_seconds == pytest.approx(w.handle_seconds)
            assert (g.patience_seconds is None) == (w.patience_seconds is None)
            assert g.patience_seconds is None or g.patience_seconds == pytest.approx(w.patience_seconds)


def test_a_summary_keeps_each_quarters_talk_and_wrapup():
    """What a handle time is made of is kept, not only its mean: talk and wrap-up summed apart."""
    calls = [call(i, at(3, 4, 10) + 60 * i, "answered", 5.0) for i in range(3)]
    calls = [dataclasses.replace(c, talk_seconds=100.0 + 50 * i) for i, c in enumerate(calls)]
    summary = DaySummary.loads(DaySummary(quarters=quarter_tallies(calls, {"999": 10.0})).dumps())
    (quarter,) = summary.quarters.values()
    assert (quarter.handled, quarter.talk, quarter.wrapup) == (3, 450.0, 30.0)
    assert summary.demand_in(900)[0].handle_seconds == 160.0
