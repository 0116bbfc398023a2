#!/usr/bin/env python3
"""The same seeded year of calls in the Redis journal and in PostgreSQL: the questions intake
answers, timed on each (issue 17's "a year must report and forecast within seconds").

    python3 scripts/bench_journal_store.py --redis-url redis://127.0.0.1:6385 [--pg-port 55435]
                                           [--days 365] [--calls 1500000] [--seed 17] [--repeat 2]

Draws the year once (scripts/year_of_calls.py) and writes each day to both stores: the Redis
journal's layout under ``--prefix`` (replaced) and a throwaway PostgreSQL
(scripts/journal_sql.py, stopped at the end). Then, on each store:

- the monthly national return and the 999 misuse table (``intake returns``);
- the forecast's history: each line's demand per quarter hour (``intake forecast``'s input);
- the p90 talk time per line and local hour: a question no day summary answers.

Redis is read by intake's own code (:class:`intake.app.journal_range.JournalRange`): from every
record (the day summaries made afresh; one pass gives the return, the misuse table and the
history, so it is timed once) and from the kept day summaries; PostgreSQL by the SQL of
scripts/journal_sql.py over every record. Both stores' answers are compared (``same_answers``).
Prints one JSON object: seconds (best of ``--repeat`` where a step is repeated), load seconds,
sizes, ratios, and the machine's load (a busy machine's seconds are not an idle one's). A
benchmark, never a test's assertion.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
for path in (str(REPO), str(SCRIPTS)):
    if path not in sys.path:
        sys.path.insert(0, path)

import journal_sql
from year_of_calls import clear, draw_year, write_day

from intake.app.connections import make_redis
from intake.app.journal_range import DEMAND_SECONDS, JournalRange
from intake.core.returns import JournalCall, LocalTime, misuse, monthly_returns

WRAPUPS = {"999": 10.0, "101": 10.0}


def talk_p90_of(calls: Iterable[JournalCall]) -> list[dict[str, Any]]:
    """The p90 talk (nearest rank) of each line's answered calls per local hour, from the records."""
    local = LocalTime()
    talks: dict[tuple[str, int], list[float]] = {}
    for c in calls:
        if c.settled == "answered" and c.talk_seconds is not None:
            talks.setdefault((c.line, local(c.queued_at)[1]), []).append(c.talk_seconds)
    return [{"line": line, "hour": hour, "calls": len(t), "p90_talk_seconds": sorted(t)[math.ceil(len(t) * 9 / 10) - 1]}
            for (line, hour), t in sorted(talks.items())]


async def best(repeat: int, ask: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """The fewest seconds of ``repeat`` runs, and the answer."""
    fastest, answer = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        answer = await ask()
        fastest = min(fastest, time.perf_counter() - t)
    return fastest, answer


async def run(args: argparse.Namespace, server: journal_sql.Server) -> dict[str, Any]:
    first, last = args.start, args.start + timedelta(days=args.days - 1)
    today = last + timedelta(days=1)
    redis = make_redis(args.redis_url)
    pg = await server.connect()
    journal = JournalRange(redis, [args.prefix], WRAPUPS)
    try:
        await clear(redis, args.prefix)
        await journal_sql.create_schema(pg, first, last)
        load = {"draw": 0.0, "redis": 0.0, "postgres": 0.0}
        calls = 0
        t = time.perf_counter()
        for day, drawn in draw_year(first, args.days, args.calls, args.seed):
            load["draw"] += time.perf_counter() - t
            t = time.perf_counter()
            await write_day(redis, args.prefix, day, drawn)
            load["redis"] += time.perf_counter() - t
            t = time.perf_counter()
            await journal_sql.load_day(pg, drawn)
            load["postgres"] += time.perf_counter() - t
            calls += len(drawn)
            t = time.perf_counter()
        t = time.perf_counter()
        await journal_sql.index(pg)
        load["postgres_keys_indexes_analyze"] = time.perf_counter() - t
        load["postgres"] += load["postgres_keys_indexes_analyze"]
        redis_bytes = (await redis.info("memory"))["used_memory"]
        pg_bytes = await journal_sql.size_bytes(pg)
        print(f"loaded {calls} calls: {json.dumps({k: round(v, 1) for k, v in load.items()})}", file=sys.stderr)

        seconds: dict[str, dict[str, float]] = {}

        async def every_record() -> Any:
            days = await journal.summaries(first, last, today, fresh=True)
            history = sorted((d for s in days.values() for d in s.demand_in(DEMAND_SECONDS)), key=lambda d: (d.line, d.start))
            return monthly_returns(days), misuse(days), history

        async def kept_returns() -> Any:
            days = await journal.summaries(first, last, today, demand=False)
            return monthly_returns(days), misuse(days)

        async def read_talks() -> Any:
            return talk_p90_of((await journal.read(first, last)).calls)

        s, (r_return, r_misuse, r_history) = await best(1, every_record)  # once: minutes on a busy machine
        seconds["redis_every_record"] = {"returns_misuse_and_history_one_pass": s}
        print(f"redis every record: {s:.1f} s", file=sys.stderr)
        s, kept = await best(args.repeat, kept_returns)
        h, kept_history = await best(args.repeat, lambda: journal.demand(first, last, today))
        seconds["redis_kept_day_summaries"] = {"returns_and_misuse": s, "demand_history": h}
        s, r_talk = await best(1, read_talks)
        seconds["redis_every_record"]["talk_p90_per_line_and_hour"] = s
        print(f"redis talk p90: {s:.1f} s", file=sys.stderr)

        s, (p_return, p_misuse) = await best(args.repeat, lambda: journal_sql.returns(pg, first, last))
        h, p_history = await best(args.repeat, lambda: journal_sql.demand_history(pg, first, last, WRAPUPS))
        p, p_talk = await best(args.repeat, lambda: journal_sql.talk_p90(pg, first, last))
        seconds["postgres_every_record"] = {"returns_and_misuse": s, "demand_history": h,
                                            "returns_misuse_and_history": s + h, "talk_p90_per_line_and_hour": p}
        redis_after = (await redis.info("memory"))["used_memory"]
        rec, kep, sql = seconds["redis_every_record"], seconds["redis_kept_day_summaries"], seconds["postgres_every_record"]
        ratios = {
            "returns_misuse_history_redis_every_record_over_postgres": rec["returns_misuse_and_history_one_pass"] / sql["returns_misuse_and_history"],
            "talk_p90_redis_over_postgres": rec["talk_p90_per_line_and_hour"] / sql["talk_p90_per_line_and_hour"],
            "returns_redis_kept_summaries_over_postgres": kep["returns_and_misuse"] / sql["returns_and_misuse"],
            "history_redis_kept_summaries_over_postgres": kep["demand_history"] / sql["demand_history"],
            "load_redis_over_postgres": load["redis"] / load["postgres"],
            "memory_redis_over_postgres_disk": redis_bytes / pg_bytes["database"],
        }
        return {
            "calls": calls, "days": args.days, "from": first.isoformat(), "to": last.isoformat(), "seed": args.seed,
            "repeat": args.repeat,
            "same_answers": {"returns": r_return == p_return == kept[0], "misuse": r_misuse == p_misuse == kept[1],
                             "demand_history": r_history == p_history == kept_history, "talk_p90": r_talk == p_talk},
            "seconds": {k: {n: round(v, 2) for n, v in d.items()} for k, d in seconds.items()},
            "load_seconds": {k: round(v, 1) for k, v in load.items()},
            "size_mb": {"redis_used_memory_journal": round(redis_bytes / 2**20),
                        "redis_used_memory_with_kept_summaries": round(redis_after / 2**20),
                        **{f"postgres_{k}_on_disk": round(v / 2**20) for k, v in pg_bytes.items()}},
            "ratios": {k: round(v, 2) for k, v in ratios.items()},
            "load_average": [round(x, 1) for x in os.getloadavg()], "cpus": os.cpu_count(),
            "postgres": await pg.fetchval("SHOW server_version"),
            "redis": (await redis.info("server"))["redis_version"],
        }
    finally:
        await clear(redis, args.prefix)
        await redis.aclose()
        await pg.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--redis-url", required=True, help="a Redis of the bench's own (the prefix's keys are replaced)")
    p.add_argument("--prefix", default="bench:")
    p.add_argument("--pg-port", type=int, default=journal_sql.PORT)
    p.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1))
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--calls", type=int, default=1_500_000)
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args(argv)
    with journal_sql.postgres(args.pg_port) as server:
        print(json.dumps(asyncio.run(run(args, server))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
