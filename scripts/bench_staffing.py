#!/usr/bin/env python3
"""How fast the staffing figures are: prints one JSON object.

    python3 scripts/bench_staffing.py [--calls 1500000] [--seed 1] [--skip-year]
                                      [--redis-url redis://127.0.0.1:6417 [--prefix bench:] [--from 2025-01-01] [--to 2025-12-31]]

- ``erlang``: one Erlang A evaluation and one search for the handlers needed, at 10 to 5,000
  handlers, from the square-root staffing estimate and by the straightforward search it replaced
  (tests/support/erlang_reference.py), with the ratio;
- ``year``: a seeded year of a large force's calls (Poisson per quarter hour, a daily and weekly
  shape, 999 and 101), through :func:`intake.core.demand.intervals`, the staffing of every
  interval (and by the reference search, in the same run, alternately, the best of three each:
  wall and CPU seconds, the ratios, and whether every figure is the same), and the forecast's fit, a week ahead and its back-test.

- ``journal`` (with ``--redis-url``: a year written there by scripts/year_of_calls.py): ``intake
  staffing`` of the range end to end, as the CLI does it (config/intake.toml's lines, the
  signed-in samples), three ways in one run: the old path (every record read and parsed, the
  reference search), the days' summaries made from their records and kept (``fresh``: a day's
  first time), and the kept summaries (every time after); wall and CPU seconds, the ratios
  against the old path, and whether the three JSON outputs are byte for byte the same.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from intake.app import staffing_cli
from intake.app.connections import make_redis
from intake.app.journal_range import JournalRange, wrapups_of
from intake.app.signed_in_store import read_signed_in
from intake.core import config as config_mod
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
    wrapup_seconds: float | None = None


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


async def journal_figures(redis_url: str, prefix: str, first: date, last: date) -> dict[str, object]:
    """``intake staffing --from first --to last`` on the year in Redis, the old way and the new."""
    cfg = config_mod.load(REPO / "config" / "intake.toml")
    seconds = cfg.staffing.interval_minutes * 60
    redis = make_redis(redis_url)
    journal = JournalRange(redis, [prefix], wrapups_of(cfg))
    today = last + timedelta(days=1)
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    out: dict[str, str] = {}

    async def step(name: str, work: Callable[[], object]) -> None:
        began, began_cpu = time.perf_counter(), time.process_time()
        result = work()
        if asyncio.iscoroutine(result):
            result = await result
        wall[name], cpu[name] = time.perf_counter() - began, time.process_time() - began_cpu
        out[name] = json.dumps(result, indent=2)

    async def by_record() -> object:  # the old path: every record, the reference search
        samples = await read_signed_in(redis, journal.prefixes, first, last)
        calls = (await journal.read(first, last)).calls
        with mock.patch.object(staffing_cli, "staffing", erlang_reference.staffing):
            return staffing_cli.staffing_view(intervals(calls, seconds, wrapups_of(cfg), samples), cfg)

    async def by_summary(fresh: bool) -> object:
        samples = await read_signed_in(redis, journal.prefixes, first, last)
        return staffing_cli.staffing_view(await journal.demand(first, last, today, seconds, samples, fresh=fresh), cfg)

    await step("every_record_reference_search", by_record)
    await step("summaries_made_and_kept", lambda: by_summary(True))
    await step("kept_summaries", lambda: by_summary(False))
    await redis.aclose()
    old = "every_record_reference_search"
    return {"from": first.isoformat(), "to": last.isoformat(), "interval_minutes": cfg.staffing.interval_minutes,
            "intervals": len(json.loads(out[old])["intervals"]), "json_bytes": len(out[old]),
            "wall_seconds": {k: round(v, 2) for k, v in wall.items()}, "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
            "ratio_wall_vs_old": {k: round(wall[old] / v, 1) for k, v in wall.items() if k != old},
            "ratio_cpu_vs_old": {k: round(cpu[old] / v, 1) for k, v in cpu.items() if k != old},
            "same_json": all(o == out[old] for o in out.values()),
            "load_average": [round(x, 1) for x in os.getloadavg()], "cpus": os.cpu_count()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_500_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-year", action="store_true", help="leave out the pure year (the erlang figures and the journal's only)")
    parser.add_argument("--redis-url", help="a Redis holding scripts/year_of_calls.py's year: time intake staffing on it")
    parser.add_argument("--prefix", default="bench:")
    parser.add_argument("--from", dest="first", type=date.fromisoformat, default=date(2025, 1, 1))
    parser.add_argument("--to", dest="last", type=date.fromisoformat, default=date(2025, 12, 31))
    args = parser.parse_args()
    result: dict[str, object] = {"erlang": erlang_figures()}
    if args.redis_url:
        result["journal"] = asyncio.run(journal_figures(args.redis_url, args.prefix, args.first, args.last))
    if not args.skip_year:
        result["year"] = year_figures(args.calls, args.seed)
    print(json.dumps(result, indent=2))
    return 0


def year_figures(total: int, seed: int) -> dict[str, object]:
    calls = year_of_calls(total, seed)
    made = time.perf_counter()
    demand = intervals(calls, 900, {"999": 15, "101": 10})
    t_intervals = time.perf_counter() - made
    means = line_means(demand)
    goals = {"999": Goal(10, 0.9), "101": Goal(60, 0.8)}
    args = (demand, goals, {k: v[0] or 240 for k, v in means.items()}, {k: v[1] for k, v in means.items()})
    rows, reference = staffing(*args), erlang_reference.staffing(*args)
    best: dict[str, list[float]] = {"new": [math.inf, math.inf], "reference": [math.inf, math.inf]}  # wall, CPU
    for _ in range(3):  # alternately, the best of three each: a shared machine's load comes and goes
        for name, search in (("new", staffing), ("reference", erlang_reference.staffing)):
            began, began_cpu = time.perf_counter(), time.process_time()
            search(*args)
            best[name] = [min(best[name][0], time.perf_counter() - began), min(best[name][1], time.process_time() - began_cpu)]
    (t_staffing, c_staffing), (t_reference, c_reference) = best["new"], best["reference"]
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
    return {"calls": len(calls), "intervals": len(demand),
                      "intervals_seconds": round(t_intervals, 2), "staffing_every_interval_seconds": round(t_staffing, 2),
                      "staffing_every_interval_reference_seconds": round(t_reference, 2),
                      "staffing_ratio": round(t_reference / t_staffing, 2),
                      "staffing_every_interval_cpu_seconds": round(c_staffing, 2),
                      "staffing_every_interval_reference_cpu_seconds": round(c_reference, 2),
                      "staffing_cpu_ratio": round(c_reference / c_staffing, 2), "staffing_same_figures": rows == reference,
                      "fit_8_weeks_seconds": round(t_fit, 3), "forecast_a_week_seconds": round(t_forecast, 3),
                      "backtest_2_of_8_weeks_seconds": round(t_backtest, 3),
                      "backtest_wape": {b.line: None if b.weighted_absolute_percentage_error is None else round(b.weighted_absolute_percentage_error, 4)
                                        for b in backtest(history, 900, 2, days)}}


if __name__ == "__main__":
    sys.exit(main())
