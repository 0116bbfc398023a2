"""``intake incidents import FILE.csv``: a police.uk street-level crime file into the incident
store, every row checked first, nothing loaded from a file with any problem."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from intake.app.audit_cli import cli_trail, operator, recorded
from intake.app.cli_redis import cli_redis
from intake.app.connections import close_redis
from intake.app.incidents_feed import store_config
from intake.core.audit import Action, RecordKind
from intake.core.config_incidents import IncidentsConfig
from screenpop.incidents import IncidentStore
from screenpop.incidents_csv import CrimeFile, read_crimes


async def import_crimes(config_path: str | None, file: str, *, redis_url: str | None = None) -> int:
    found = cli_redis("incidents import", config_path, redis_url)
    if found is None:
        return 2
    config = store_config(found.config.incidents if found.config is not None else IncidentsConfig(), found.prefix)
    now = time.time()
    try:
        crimes = await asyncio.to_thread(_read, file, now, config.retention_seconds)
    except (OSError, UnicodeDecodeError) as exc:
        await close_redis(found.redis)
        print(f"{file}: cannot read: {exc}", file=sys.stderr)
        return 2
    name = Path(file).name
    if not crimes.ok:
        await close_redis(found.redis)
        for problem in crimes.problems:
            print(f"{file}: {problem}", file=sys.stderr)
        print(f"{file}: nothing imported ({len(crimes.problems)} problem(s) in {crimes.rows} row(s))", file=sys.stderr)
        return 1
    trail = cli_trail(found)
    try:
        written = await IncidentStore(found.redis, config).put(crimes.incidents, now)
        trail.record(operator(), Action.COLLECTED, RecordKind.INCIDENTS, why=f"imported from {name}",
                     record=f"{written} incident(s) from {name}"[:256])
        recorded_ok = await recorded(trail)
    finally:
        await close_redis(found.redis, trail.store.redis)
    print(f"{file}: imported {written} incident(s) of {crimes.rows} row(s); skipped {crimes.no_point} with no point, "
          f"{crimes.too_old} older than retention, {crimes.repeated} repeated Crime ID(s)")
    return 0 if recorded_ok else 1


def _read(file: str, now: float, keep_seconds: float) -> CrimeFile:
    with open(file, encoding="utf-8-sig", newline="") as text:  # newline="": the csv module reads line ends
        return read_crimes(text, now=now, keep_seconds=keep_seconds)
