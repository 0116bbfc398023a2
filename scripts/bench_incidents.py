#!/usr/bin/env python3
"""How fast incidents go in and come out: a police.uk street-level crime file imported (read and
checked, then written), and a pop's lookup of a caller's history with the incidents near them, on
a store holding a large force's year of crime. Prints one JSON object.

    scripts/bench_incidents.py --redis-url redis://127.0.0.1:6414/13 [--rows 300000] [--lookups 2000]

The file is made here, seeded (no download): ``rows`` crimes over twelve months around a city
centre (a large force publishes 20-40 thousand a month), a tenth anti-social behaviour (no Crime
ID), one in a hundred with no point. The database given is emptied first and last.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from screenpop.history import HistoryStore
from screenpop.incidents import DAY, IncidentStore, IncidentStoreConfig
from screenpop.incidents_csv import read_crimes
from screenpop.models import ContactRecord
from screenpop.places import Location
from screenpop.pop_lookup import PopLookup
from screenpop.roundtrips import counting_client

CENTRE = (53.4808, -2.2426)  # Manchester
SPREAD_DEG = 0.15  # ~15 km
TYPES = ("Violence and sexual offences", "Anti-social behaviour", "Shoplifting", "Burglary", "Vehicle crime",
         "Criminal damage and arson", "Public order", "Other theft")
HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
          "Last outcome category,Context")


def crime_file(path: Path, rows: int, now: datetime, rng: random.Random) -> None:
    months = [f"{now.year - (now.month - k <= 0)}-{(now.month - k - 1) % 12 + 1:02d}" for k in range(1, 13)]
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\r\n")
        for i in range(rows):
            kind = rng.choice(TYPES)
            crime_id = "" if kind == "Anti-social behaviour" else f"{rng.getrandbits(256):064x}"
            lat, lon = (f"{CENTRE[0] + rng.gauss(0, SPREAD_DEG / 3):.6f}", f"{CENTRE[1] + rng.gauss(0, SPREAD_DEG / 2):.6f}")
            if i % 100 == 0:
                lat, lon = "", ""
            out.write(f"{crime_id},{months[i % 12]},Greater Manchester Police,Greater Manchester Police,{lon},{lat},"
                      f"On or near Market Street,E01033658,Manchester 054C,{kind},Under investigation,\r\n")


async def run(url: str, rows: int, lookups: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    client, trips = counting_client(url)
    await client.flushdb()
    config = IncidentStoreConfig(radius_m=500, period_seconds=90 * DAY, retention_seconds=400 * DAY)
    store = IncidentStore(client, config)
    history = HistoryStore(client)
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "street.csv"
            crime_file(path, rows, now, rng)
            size = path.stat().st_size
            started, cpu = time.perf_counter(), time.process_time()
            with path.open(encoding="utf-8-sig", newline="") as text:
                crimes = read_crimes(text, now=now.timestamp(), keep_seconds=config.retention_seconds)
            read, read_cpu = time.perf_counter(), time.process_time() - cpu
            written = await store.put(crimes.incidents, now.timestamp())
            done = time.perf_counter()
        places = PopLookup(history, store)
        numbers = [f"0770090{i:04d}" for i in range(200)]
        for i, number in enumerate(numbers):
            await history.record_contact(ContactRecord(call_id=f"c{i}", number=number, at=now.timestamp() - 3600,
                                                       line="999", queue="emergency", disposition="answered",
                                                       waited_seconds=4.0, talked_seconds=60.0, handler_id="h1"))
        await places.lookup_near(numbers[0], Location(lat=CENTRE[0], lon=CENTRE[1], source="call", at=0), now.timestamp())
        times, listed, per_lookup = [], [], []
        await client.config_resetstat()
        for i in range(lookups):
            at = Location(lat=CENTRE[0] + rng.gauss(0, SPREAD_DEG / 3), lon=CENTRE[1] + rng.gauss(0, SPREAD_DEG / 2),
                          source="call", at=now.timestamp(), radius_m=10)
            before, t0 = trips.count, time.perf_counter()
            found, near = await places.lookup_near(numbers[i % len(numbers)], at, now.timestamp())
            times.append(time.perf_counter() - t0)
            per_lookup.append(trips.count - before)
            listed.append(len(near))
            assert found is not None
        with_incidents_usec = await scripts_usec(client)
        await client.config_resetstat()
        alone = []
        for i in range(lookups):
            t0 = time.perf_counter()
            await history.lookup(numbers[i % len(numbers)], now.timestamp())
            alone.append(time.perf_counter() - t0)
        alone_usec = await scripts_usec(client)
        memory = (await client.info("memory"))["used_memory"]
        await client.flushdb()
    finally:
        await client.aclose()
    return {
        "import": {"rows": crimes.rows, "bytes": size, "stored": written, "no_point": crimes.no_point,
                   "read_and_check_s": round(read - started, 3),
                   "read_and_check_cpu_s": round(read_cpu, 3), "write_s": round(done - read, 3),
                   "rows_per_s": round(crimes.rows / (done - started)), "redis_used_mib": round(memory / 2**20, 1)},
        "pop_lookup_with_incidents": {"lookups": lookups, "round_trips_each": sorted(set(per_lookup)),
                                      **spread(times), "redis_cpu_ms_each": round(with_incidents_usec / lookups / 1000, 3),
                                      "incidents_listed_mean": round(statistics.mean(listed), 1)},
        "history_lookup_alone": {**spread(alone), "redis_cpu_ms_each": round(alone_usec / lookups / 1000, 3)},
    }


# Any: a redis.asyncio client
async def scripts_usec(client: Any) -> int:
    """Redis's own CPU time in scripts since the last CONFIG RESETSTAT: immune to a busy client machine."""
    stats = await client.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("usec", 0)) for name in ("eval", "evalsha"))


def spread(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {"p50_ms": round(statistics.median(times) * 1000, 3),
            "p99_ms": round(times[int(len(times) * 0.99) - 1] * 1000, 3), "max_ms": round(times[-1] * 1000, 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--redis-url", required=True, help="a Redis database to empty and use (not the one in service)")
    p.add_argument("--rows", type=int, default=300_000)
    p.add_argument("--lookups", type=int, default=2000)
    p.add_argument("--seed", type=int, default=16)
    args = p.parse_args()
    print(json.dumps(asyncio.run(run(args.redis_url, args.rows, args.lookups, args.seed))))


if __name__ == "__main__":
    main()
