#!/usr/bin/env python3
"""Write a year of a large force's calls into a Redis journal, seeded: the same seed, the same calls.

    python3 scripts/year_of_calls.py --redis-url redis://127.0.0.1:6417 [--prefix bench:]
                                     [--start 2025-01-01] [--days 365] [--calls 1500000] [--seed 17]

About 1.5 million calls a year (a large force: ~40% on 999, the rest 101), with the shapes the
returns and the forecast must find: a day's curve (quiet before dawn, busiest in the evening),
Friday and Saturday busier, a summer bump, and a trend of +5% a year on 999 (the national one).
Waits grow with the hour's load; 101 callers give up more often the longer they wait; most
answered 999 calls are graded, more of them not an emergency at night.

Each record is a :class:`intake.app.journal.JournalRecord` (its own JSON), stored in the journal's
key layout (the day's sorted set, its stays, the answered calls' talk times, the day's gradings) with plain ZADD/HSET in big
pipelines: the journal's first-write-wins script one record at a time would take minutes, and the
layout, not the way it was written, is what a reader reads. The previous run's keys under the
prefix are replaced. Prints one JSON line: calls written, seconds, Redis memory.

:func:`draw_year` (the calls, a day at a time) and :func:`write_day` (a day into the journal's
layout) are shared: scripts/bench_journal_store.py fills Redis and PostgreSQL
(scripts/journal_sql.py) from the one generator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from intake.app.connections import make_redis
from intake.app.journal import RETENTION_SECONDS, JournalRecord
from intake.core.in_progress import stay_name

# The day's curve: share of a day's calls per local hour (police contact centres: trough 04-06,
# evening peak), and the week's (Monday first).
HOURLY = (2.6, 2.0, 1.6, 1.2, 1.0, 1.0, 1.5, 2.6, 3.8, 4.6, 5.0, 5.2, 5.3, 5.3, 5.3, 5.5, 5.9, 6.3, 6.4, 6.3,
          5.9, 5.2, 4.3, 3.4)
WEEKLY = (0.97, 0.95, 0.95, 0.98, 1.06, 1.08, 1.01)
LINES = {"999": ("emergency", 10.0, 0.4), "101": ("non-emergency", 60.0, 0.6)}  # queue, target, share
GRADINGS = ("emergency", "priority", "scheduled", "resolved")


def season(day: date) -> float:
    """Busier in summer (good weather, long evenings): +-8% over the year, peak in late July."""
    return 1.0 + 0.08 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 205) / 365.25)


def day_weights(start: date, days: int) -> list[float]:
    return [WEEKLY[d.weekday()] * season(d) * (1.05 ** (n / 365.25))
            for n, d in ((n, start + timedelta(days=n)) for n in range(days))]


def draw_call(rng: random.Random, n: int, line: str, at: float, hour: int) -> tuple[JournalRecord, str | None]:
    queue, target, _ = LINES[line]
    load = HOURLY[hour] / max(HOURLY)
    if line == "999":
        waited = rng.expovariate(1 / (2.0 + 10.0 * load ** 3))
        gave_up = rng.random() < 0.01 + 0.001 * waited
    else:
        waited = rng.expovariate(1 / (30.0 + 200.0 * load ** 3))
        gave_up = rng.random() < min(0.6, 0.02 + waited / 900)
    settled = "abandoned" if gave_up else "left" if rng.random() < 0.002 else "answered"
    if settled != "answered":
        waited *= rng.uniform(0.2, 1.0)  # they left before they would have been answered
    connect = rng.uniform(0.5, 3.0) if rng.random() < 0.9 else None  # the arrival seen on 9 calls in 10
    record = JournalRecord(
        call_id=f"{int(at)}.{n}", line=line, queue=queue, target_seconds=target, queued_at=round(at, 3),
        settled=settled, waited_seconds=round(waited, 3),
        waited_from_arrival=None if connect is None else round(waited + connect, 3),
        handler_id=f"h{rng.randrange(1, 240)}" if settled == "answered" else None)
    grading = None
    if line == "999" and settled == "answered" and rng.random() < 0.95:
        night = hour < 6 or hour >= 22
        weights = (0.30, 0.30, 0.15, 0.25) if night else (0.38, 0.32, 0.14, 0.16)
        grading = rng.choices(GRADINGS, weights)[0]
    return record, grading


def talk(rng: random.Random, line: str) -> float:
    """An answered call's talk (the demand figures' handle time, with the line's wrap-up): 999
    calls ~4 minutes, 101 ~6."""
    return round(rng.lognormvariate(math.log(240 if line == "999" else 360), 0.5), 1)


@dataclass(frozen=True, slots=True)
class DrawnCall:
    """One generated call: its journal record, the handler's grading (999, answered) and its talk."""

    record: JournalRecord
    grading: str | None
    talk_seconds: float | None


def draw_year(start: date, days: int, calls: int, seed: int) -> Iterator[tuple[date, list[DrawnCall]]]:
    """The seeded year, a local day at a time (in order): the same arguments, the same calls.
    Every store that holds the year (the Redis journal here, PostgreSQL in scripts/journal_sql.py)
    is filled from this one generator."""
    rng = random.Random(seed)
    weights = day_weights(start, days)
    per_unit = calls / sum(weights)
    hour_share = [h / sum(HOURLY) for h in HOURLY]
    for n, weight in enumerate(weights):
        day = start + timedelta(days=n)
        drawn: list[DrawnCall] = []
        count = round(per_unit * weight * rng.uniform(0.97, 1.03))
        for i in range(count):
            hour = rng.choices(range(24), hour_share)[0]
            # the local hour's start: on a day the clocks change, midnight + 3600 * hour would put
            # the evening's calls in the next day (the same figures as that in a zone without DST)
            at = datetime(day.year, day.month, day.day, hour).timestamp() + rng.uniform(0, 3600)
            line = "999" if rng.random() < LINES["999"][2] * (1.05 ** (n / 365.25)) / 1.025 else "101"
            record, grading = draw_call(rng, i, line, at, hour)
            drawn.append(DrawnCall(record, grading, talk(rng, line) if record.settled == "answered" else None))
        yield day, drawn


# Any: a redis.asyncio client
async def write_day(redis: Any, prefix: str, day: date, drawn: list[DrawnCall]) -> None:
    """The day's calls in the journal's key layout, in one pipeline."""
    name = day.isoformat()
    members: dict[str, float] = {}
    stays: dict[str, int] = {}
    gradings: dict[str, str] = {}
    talks: dict[str, str] = {}
    for call in drawn:
        record = call.record
        members[record.model_dump_json()] = record.queued_at
        stay = stay_name(record.call_id, record.queue, record.queued_at)
        stays[stay] = 1
        if call.talk_seconds is not None:
            talks[stay] = repr(call.talk_seconds)
        if call.grading is not None:
            gradings[record.call_id] = call.grading
    async with redis.pipeline(transaction=False) as pipe:
        if members:
            pipe.zadd(f"{prefix}journal:{name}", members)
            pipe.hset(f"{prefix}journal-stays:{name}", mapping=stays)
        if talks:
            pipe.hset(f"{prefix}journal-talk:{name}", mapping=talks)
        if gradings:  # filed the day of the call (the few filed after midnight: the next day's, read too)
            pipe.hset(f"{prefix}journal-gradings:{name}", mapping=gradings)
        for key in ("journal", "journal-stays", "journal-gradings", "journal-talk"):
            pipe.expire(f"{prefix}{key}:{name}", RETENTION_SECONDS + 366 * 86_400)
        await pipe.execute()


# Any: a redis.asyncio client
async def clear(redis: Any, prefix: str) -> None:
    """Remove the previous run's journal keys under ``prefix``."""
    async for key in redis.scan_iter(match=f"{prefix}journal*", count=1000):
        await redis.unlink(key)


async def write_year(redis_url: str, prefix: str, start: date, days: int, calls: int, seed: int) -> dict[str, object]:
    redis = make_redis(redis_url)
    began = time.perf_counter()
    await clear(redis, prefix)
    written = 0
    for day, drawn in draw_year(start, days, calls, seed):
        await write_day(redis, prefix, day, drawn)
        written += len(drawn)
    info = await redis.info("memory")
    await redis.aclose()
    return {"calls": written, "days": days, "first_day": start.isoformat(),
            "last_day": (start + timedelta(days=days - 1)).isoformat(), "seed": seed,
            "seconds": round(time.perf_counter() - began, 1), "redis_used_memory_mb": round(info["used_memory"] / 2**20, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--redis-url", required=True, help="the Redis to fill (never a live server's: its journal is replaced)")
    p.add_argument("--prefix", default="bench:", help="key prefix (default: %(default)s)")
    p.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1), help="first local day (default: 2025-01-01)")
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--calls", type=int, default=1_500_000, help="about this many calls over the days")
    p.add_argument("--seed", type=int, default=17)
    args = p.parse_args(argv)
    print(json.dumps(asyncio.run(write_year(args.redis_url, args.prefix, args.start, args.days, args.calls, args.seed))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
