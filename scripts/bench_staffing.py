#!/usr/bin/env python3
"""How fast the staffing figures are, pure parts only (no Redis): prints one JSON object.

    python3 scripts/bench_staffing.py [--calls 1500000] [--seed 1]

- ``erlang``: one Erlang A evaluation and one search for the handlers needed, at 10 to 5,000
  handlers, from the square-root staffing estimate and by the straightforward search it replaced
  (tests/support/erlang_reference.py), with the ratio;
- ``year``: a seeded year of a large force's calls (Poisson per quarter hour, a daily and weekly
  shape, 999 and 101), through :func:`intake.core.demand.intervals`, the staffing of every
  interval (and by the reference search, in the same run: the ratio, and whether every figure is
  the same), and the forecast's fit, a week ahead and its back-test.

Reading the journal from Redis is not in here: ``intake staffing`` and ``intake forecast`` add
one ZRANGE and one HGETALL per day and site (see docs/staffing.md).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from intake.core.demand import intervals, line_means, staffing
from intake.core.erlang import Demand, Goal, handlers_needed, performance
from intake.core.forecast import backtest, fit, forecast
from tests.support import erlang_reference


@dataclass(frozen=True, slots=True)
class Call:
    line: str
    queued_at: float
    settled: str
    waited_seconds: float
    target_seconds: float
    talk_seconds: float | None


def _timed(work: Callable[[], object], repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        work()
    return (time.perf_counter() - start) / repeat


def erlang_figures() -> list[dict[str, float]]:
    goal = Goal(10, 0.9)
    rows = []
    for handlers in (10, 100, 1000, 5000):
        demand = Demand(arrivals_per_second=handlers * 0.95 / 240, handle_seconds=240, patience_seconds=120)
        one = partial(performance, handlers, demand, 10)
        search = partial(handlers_needed, demand, goal)
        before = partial(erlang_reference.handlers_needed, demand, goal)
        fast, slow = _timed(search, 3), _timed(before, 3)
        rows.append({"handlers": handlers, "performance_ms": round(1000 * _timed(one, 20), 3),
                     "handlers_needed_ms": round(1000 * fast, 2), "handlers_needed_reference_ms": round(1000 * slow, 2),
                     "ratio": round(slow / fast, 2), "needed": search(), "same": search() == before()})
    return rows


def year_of_calls(total: int, seed: int) -> list[Call]:
    rng = random.Random(seed)
    start = time.mktime((2025, 1, 6, 0, 0, 0, 0, 0, -1))  # a Monday
    quarters = 52 * 7 * 96
    shape = [(0.3 + math.sin(math.pi * ((q % 96) / 96)) ** 2) * (1.3 if (q // 96) % 7 in (4, 5) else 1.0)
             for q in range(quarters)]
    scale = total / sum(shape)
    calls = []
    for q, weight in enumerate(shape):
        growth = 1.05 ** (q / quarters)
        for _ in range(_poisson(rng, weight * scale * growth)):
            line = "999" if rng.random() < 0.4 else "101"
            at = start + q * 900 + rng.random() * 900
            waited = rng.expovariate(1 / 8)
            abandoned = rng.random() < 0.04
            calls.append(Call(line, at, "abandoned" if abandoned else "answered", waited, 10.0 if line == "999" else 60.0,
                              None if abandoned else rng.lognormvariate(math.log(180), 0.5)))
    return calls


def _poisson(rng: random.Random, mean: float) -> int:
    return max(0, round(rng.gauss(mean, math.sqrt(mean)))) if mean > 30 else sum(
        1 for _ in range(int(mean * 3) + 10) if rng.random() < mean / (int(mean * 3) + 10))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_500_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result: dict[str, object] = {"erlang": erlang_figures()}
    calls = year_of_calls(args.calls, args.seed)
    made = time.perf_counter()
    demand = intervals(calls, 900, {"999": 15, "101": 10})
    t_intervals = time.perf_counter() - made
    means = line_means(demand)
    goals = {"999": Goal(10, 0.9), "101": Goal(60, 0.8)}
    args = (demand, goals, {k: v[0] or 240 for k, v in means.items()}, {k: v[1] for k, v in means.items()})
    began = time.perf_counter()
    rows = staffing(*args)
    t_staffing = time.perf_counter() - began
    began = time.perf_counter()
    reference = erlang_reference.staffing(*args)
    t_reference = time.perf_counter() - began
    # the last 8 whole weeks (Monday to Sunday) before the year's last day
    last_day = date.fromtimestamp(max(d.start for d in demand))
    days = (last_day - timedelta(days=last_day.weekday() + 56), last_day - timedelta(days=last_day.weekday() + 1))
    since = time.mktime(days[0].timetuple())
    end = time.mktime((days[1] + timedelta(days=1)).timetuple())
    history = [d for d in demand if since <= d.start < end]
    t_fit = _timed(lambda: fit(history, 900, days))
    profiles = fit(history, 900, days)
    t_forecast = _timed(lambda: forecast(profiles, end, end + 7 * 86_400))
    t_backtest = _timed(lambda: backtest(history, 900, 2, days))
    result["year"] = {"calls": len(calls), "intervals": len(demand),
                      "intervals_seconds": round(t_intervals, 2), "staffing_every_interval_seconds": round(t_staffing, 2),
                      "staffing_every_interval_reference_seconds": round(t_reference, 2),
                      "staffing_ratio": round(t_reference / t_staffing, 2), "staffing_same_figures": rows == reference,
                      "fit_8_weeks_seconds": round(t_fit, 3), "forecast_a_week_seconds": round(t_forecast, 3),
                      "backtest_2_of_8_weeks_seconds": round(t_backtest, 3),
                      "backtest_wape": {b.line: round(b.weighted_absolute_percentage_error, 4)
                                        for b in backtest(history, 900, 2, days)}}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
