"""Journal records -> each line's demand per local interval, and the handlers it needed."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from intake.core.demand import (
    IntervalDemand,
    SignedIn,
    interval_start,
    intervals,
    line_means,
    staffing,
)
from intake.core.erlang import Goal
from intake.core.errors import StaffingError

# 2025-06-06 21:00 local time, whatever the machine's zone
EVENING = time.mktime((2025, 6, 6, 21, 0, 0, 0, 0, -1))


@dataclass(frozen=True)
class Call:
    line: str
    queued_at: float
    settled: str
    waited_seconds: float
    talk_seconds: float | None = None
    target_seconds: float = 10.0
    wrapup_seconds: float | None = None


def test_intervals_start_on_the_local_clocks_quarter_and_half_hours() -> None:
    assert interval_start(EVENING + 14 * 60 + 59.5, 900) == EVENING
    assert interval_start(EVENING + 15 * 60, 900) == EVENING + 900
    assert interval_start(EVENING + 29 * 60, 1800) == EVENING
    with pytest.raises(StaffingError):
        interval_start(EVENING, 600)


def test_each_lines_interval_counts_its_calls_handle_time_and_patience() -> None:
    calls = [
        Call("999", EVENING + 10, "answered", 4, talk_seconds=100),            # + the line's wrap-up, 30 s
        Call("999", EVENING + 50, "answered", 16, talk_seconds=200),
        Call("999", EVENING + 70, "answered", 2),                              # talk not known: not in handle time
        Call("999", EVENING + 90, "abandoned", 38),
        Call("999", EVENING + 95, "left", 0),
        Call("101", EVENING + 100, "abandoned", 60),
        Call("999", EVENING + 900, "answered", 1, talk_seconds=60),            # the next quarter hour
    ]
    got = intervals(calls, 900, wrapup_seconds={"999": 30}, signed_in=[SignedIn(EVENING + 1, "999", 5),
                                                                         SignedIn(EVENING + 600, "999", 6)])
    assert [(d.line, d.start) for d in got] == [("101", EVENING), ("999", EVENING), ("999", EVENING + 900)]
    first = got[1]
    assert (first.offered, first.answered, first.abandoned, first.answered_within_target) == (5, 3, 1, 2)
    assert first.handle_seconds == pytest.approx((130 + 230) / 2)
    # every caller's time in the queue over those who hung up: 4+16+2+38+0 seconds, one abandoned
    assert first.patience_seconds == pytest.approx(60)
    assert first.signed_in == 5.5
    assert first.arrivals_per_second == pytest.approx(5 / 900)
    assert got[2].patience_seconds is None and got[2].signed_in is None
    assert got[0].handle_seconds is None


def test_a_quiet_interval_takes_the_lines_handle_time_and_patience() -> None:
    calls = [Call("999", EVENING + i * 60, "answered", 3, talk_seconds=180) for i in range(10)]
    calls += [Call("999", EVENING + 3600, "answered", 1)]  # an interval with one call, talk unknown
    calls += [Call("999", EVENING + 7200 + i, "abandoned", 20) for i in range(2)]
    demand = intervals(calls, 900)
    handle, patience = line_means(demand)["999"]
    assert handle == pytest.approx(180)
    assert patience == pytest.approx((30 + 1 + 40) / 2)
    rows = staffing(demand, {"999": Goal(10, 0.9)}, {"999": handle or 0}, {"999": patience})
    assert [r.interval.start for r in rows] == [EVENING, EVENING + 3600, EVENING + 7200]
    assert all(r.needed >= 1 for r in rows)
    assert rows[0].needed_erlang_c >= rows[0].needed


def test_staffing_sets_the_handlers_needed_against_those_signed_in() -> None:
    busy = IntervalDemand("999", EVENING, 900, offered=45, answered=44, abandoned=1, answered_within_target=40,
                          handle_seconds=180, patience_seconds=60, waited_seconds=60, signed_in=4)
    [row] = staffing([busy], {"999": Goal(10, 0.9)}, {"999": 180}, {"999": 60})
    # 45 calls a quarter hour of 3 minutes: 9 erlangs; four handlers are far short
    assert row.needed > 9
    assert row.service_level < 0.5
    assert staffing([busy], {"101": Goal(60, 0.8)}, {"999": 180}, {"999": 60}) == []
