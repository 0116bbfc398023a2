"""`intake staffing` reads the days' kept summaries, not every record: on a few generated days in
a real Redis (scripts/year_of_calls.py), its figures are the per-record ones, to the last digit,
the first time (summaries made) and the next (summaries read back), with the handlers signed in."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from intake.app.journal_range import JournalRange, wrapups_of
from intake.app.signed_in_store import SignedInStore, read_signed_in
from intake.app.staffing_cli import staffing_view
from intake.core import config as config_mod
from intake.core.demand import SignedIn, intervals

pytestmark = pytest.mark.redis

REPO = Path(__file__).resolve().parents[2]
FIRST, LAST = date(2025, 3, 28), date(2025, 3, 31)  # the clocks go forward on the 30th where the zone is Europe's
TODAY = date(2026, 1, 1)


@pytest.mark.parametrize("minutes", [15, 30])
async def test_a_few_days_staffing_from_their_summaries_is_the_staffing_from_their_records(
        redis_client: aioredis.Redis, redis_url: str, minutes: int) -> None:
    cfg = config_mod.load(REPO / "config" / "intake.toml")
    cfg = cfg.model_copy(update={"staffing": cfg.staffing.model_copy(update={"interval_minutes": minutes})})
    prefix = cfg.site_config(cfg.sites[0].name).redis.key_prefix
    db = redis_client.connection_pool.connection_kwargs["db"]
    made = await asyncio.to_thread(subprocess.run, [sys.executable, "scripts/year_of_calls.py", "--redis-url", f"{redis_url.rstrip('/')}/{db}",
                           "--prefix", prefix, "--start", FIRST.isoformat(), "--days", str((LAST - FIRST).days + 1),
                           "--calls", "8000", "--seed", "5"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["calls"] > 7000
    noon = datetime(2025, 3, 29, 12).timestamp()
    await SignedInStore(redis_client, prefix).write(
        [SignedIn(noon + 60 * m, line, 20 + m % 7 + (line == "101")) for m in range(120) for line in ("999", "101")])
    journal = JournalRange(redis_client, [prefix], wrapups_of(cfg))
    samples = await read_signed_in(redis_client, [prefix], FIRST, LAST)
    seconds = minutes * 60

    by_record = staffing_view(intervals((await journal.read(FIRST, LAST)).calls, seconds, wrapups_of(cfg), samples), cfg)
    first = staffing_view(await journal.demand(FIRST, LAST, TODAY, seconds, samples), cfg)
    assert await redis_client.exists(f"{prefix}journal-summary:{LAST.isoformat()}")
    kept = staffing_view(await journal.demand(FIRST, LAST, TODAY, seconds, samples), cfg)
    assert json.dumps(first) == json.dumps(by_record)
    assert json.dumps(kept) == json.dumps(by_record)
    assert sum(r["offered"] for r in kept["intervals"]) == json.loads(made.stdout)["calls"]
    assert sum(r["signed_in"] is not None for r in kept["intervals"]) == 2 * 120 // minutes
    # today's summary is never kept: made from its records each time, the same figures
    today = staffing_view(await journal.demand(LAST, LAST, LAST, seconds), cfg)
    assert today == staffing_view(intervals((await journal.read(LAST, LAST)).calls, seconds, wrapups_of(cfg)), cfg)
