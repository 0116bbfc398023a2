#!/usr/bin/env python3
"""Time the national returns (and the demand figures) over a year of the journal in Redis.

    python3 scripts/year_of_calls.py --redis-url redis://127.0.0.1:6417       # once: the year
    python3 scripts/bench_returns.py --redis-url redis://127.0.0.1:6417 [--prefix bench:]
                                     [--from 2025-01-01] [--to 2025-12-31] [--repeat 3]

Prints one JSON object: seconds for each step, the best of ``--repeat`` runs: the year's returns
made from every record (and the days' summaries kept), the same from the kept summaries, and
every record read (as the demand figures read them); the records, this process's peak memory,
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
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from intake.app.connections import make_redis
from intake.app.journal_range import JournalRange
from intake.core.returns import misuse, monthly_returns


def _timed(steps: dict[str, float], name: str, began: float) -> float:
    now = time.perf_counter()
    steps[name] = min(now - began, steps.get(name, now - began))
    return now


async def run(redis_url: str, prefix: str, first: date, last: date, repeat: int) -> dict[str, object]:
    redis = make_redis(redis_url)
    steps: dict[str, float] = {}
    journal = JournalRange(redis, [prefix])
    today = last + timedelta(days=1)
    records = 0
    for _ in range(repeat):
        t = time.perf_counter()
        days = await journal.summaries(first, last, today, fresh=True)  # every day made from its records, and kept
        t = _timed(steps, "returns_from_records", t)
        days = await journal.summaries(first, last, today)  # the kept summaries
        monthly_returns(days)
        misuse(days)
        t = _timed(steps, "returns_from_kept_summaries", t)
        read = await journal.read(first, last)  # every record, as the demand figures read them
        _timed(steps, "read_every_record", t)
        records = len(read.calls)
        del read
    info = await redis.info("memory")
    await redis.aclose()
    return {"from": first.isoformat(), "to": last.isoformat(), "days": (last - first).days + 1, "records": records,
            "repeat": repeat, "seconds": {k: round(v, 2) for k, v in steps.items()},
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
