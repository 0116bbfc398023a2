#!/usr/bin/env python3
"""Time the national returns (and the demand figures) over a year of the journal in Redis.

    python3 scripts/year_of_calls.py --redis-url redis://127.0.0.1:6417       # once: the year
    python3 scripts/bench_returns.py --redis-url redis://127.0.0.1:6417 [--prefix bench:]
                                     [--from 2025-01-01] [--to 2025-12-31] [--repeat 3]

Prints one JSON object: seconds for each step, the best of ``--repeat`` runs: the year's returns
made from every record (and the days' summaries kept), the same from the kept summaries, and
the year's demand per quarter hour from the kept summaries, the forecast fitted on it with the
next week forecast, its back-test on 4 held-back weeks, the next week's staffing (Erlang A and C
per interval); every record read (as a per-record analysis must); the records, this process's peak memory,
Redis' memory and the machine's load while it ran (a busy machine's seconds are not an idle one's). A benchmark, never a test's assertion (the speed goals are in docs/returns.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from intake.app.connections import make_redis
from intake.app.journal_range import DEMAND_SECONDS, JournalRange
from intake.core import demand, forecast
from intake.core.demand import IntervalDemand
from intake.core.erlang import Goal
from intake.core.returns import misuse, monthly_returns

GOALS = {"999": Goal(10.0, 0.9), "101": Goal(60.0, 0.8)}


def _epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day).timestamp()


def _means(history: list[IntervalDemand]) -> tuple[dict[str, float], dict[str, float | None]]:
    means = demand.line_means(history)
    return {l: h or 300.0 for l, (h, _) in means.items()}, {l: p for l, (_, p) in means.items()}


CPU: dict[str, float] = {}
"""This process's CPU seconds per step (the last run's): near what an idle machine's wall clock
would show for the Python side, where the wall clock on a shared machine also counts the waits."""


def _timed(steps: dict[str, float], name: str, began: float) -> float:
    now = time.perf_counter()
    steps[name] = min(now - began, steps.get(name, now - began))
    cpu = time.process_time()
    CPU[name] = cpu - CPU.get("_mark", cpu)
    CPU["_mark"] = cpu
    return now


async def run(redis_url: str, prefix: str, first: date, last: date, repeat: int) -> dict[str, object]:
    redis = make_redis(redis_url)
    steps: dict[str, float] = {}
    journal = JournalRange(redis, [prefix], {"999": 10.0, "101": 10.0})
    today = last + timedelta(days=1)
    records = 0
    for _ in range(repeat):
        t = time.perf_counter()
        CPU["_mark"] = time.process_time()
        days = await journal.summaries(first, last, today, fresh=True)  # every day made from its records, and kept
        t = _timed(steps, "returns_from_records", t)
        days = await journal.summaries(first, last, today, demand=False)  # the kept summaries
        monthly_returns(days)
        misuse(days)
        t = _timed(steps, "returns_from_kept_summaries", t)
        history = await journal.demand(first, last, today)  # the year's quarter hours, from the kept summaries
        t = _timed(steps, "demand_history_from_kept_summaries", t)
        profiles = forecast.fit(history, DEMAND_SECONDS)
        ahead = forecast.forecast(profiles, _epoch(today), _epoch(today + timedelta(days=7)))
        t = _timed(steps, "forecast_fit_and_next_week", t)
        tested = forecast.backtest(history, DEMAND_SECONDS, held_back=4)
        t = _timed(steps, "forecast_backtest_4_weeks", t)
        handle, patience = _means(history)
        week = [IntervalDemand(f.line, f.start, f.seconds, round(f.offered), 0, 0, 0, f.handle_seconds, f.patience_seconds, 0.0, None)
                for f in ahead]
        needed = demand.staffing(week, GOALS, handle, patience)
        t = _timed(steps, "staffing_of_the_next_week", t)
        read = await journal.read(first, last)  # every record, as a per-record analysis reads them
        _timed(steps, "read_every_record", t)
        records = len(read.calls)
        del read
    info = await redis.info("memory")
    await redis.aclose()
    return {"from": first.isoformat(), "to": last.isoformat(), "days": (last - first).days + 1, "records": records,
            "intervals": len(history), "forecast_intervals": len(ahead), "staffed_intervals": len(needed),
            "backtest_wape": {b.line: None if b.weighted_absolute_percentage_error is None else round(b.weighted_absolute_percentage_error, 3) for b in tested},
            "repeat": repeat, "seconds": {k: round(v, 2) for k, v in steps.items()},
            "cpu_seconds": {k: round(v, 2) for k, v in CPU.items() if k != "_mark"},
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "redis_used_memory_mb": round(info["used_memory"] / 2**20),
            "load_average": [round(x, 1) for x in os.getloadavg()], "cpus": os.cpu_count()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--redis-url", required=True)
    p.add_argument("--prefix", default="bench:")
    p.add_argument("--from", dest="first", type=date.fromisoformat, default=date(2025, 1, 1))
    p.add_argument("--to", dest="last", type=date.fromisoformat, default=date(2025, 12, 31))
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    print(json.dumps(asyncio.run(run(args.redis_url, args.prefix, args.first, args.last, args.repeat))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
