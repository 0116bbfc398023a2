"""End to end: `intake serve` follows the PBX simulator, its leader keeps how many handlers are
signed in, and `intake staffing` (JSON and CSV) sets the interval's calls against them."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import redis.asyncio as aioredis

from intake.app.journal import JournalRecord
from intake.app.signed_in_store import read_signed_in
from intake.core.demand import interval_start
from telephony.simulator.config import DEMO_HANDLERS
from tests.intake.test_serve import SECRETS
from tests.intake.test_staffing_cli import _intake, _json
from tests.support.processes import end
from tests.waiting import eventually

REPO = Path(__file__).resolve().parents[2]
HTTP_PORT = 9411
EMERGENCY_MEMBERS = sum("emergency" in h.queues for h in DEMO_HANDLERS)  # the 999 line's queue, from the start


async def test_staffing_shows_the_handlers_who_were_signed_in_while_the_calls_came(tmp_path: Path, redis_url: str,
                                                                                  redis_client: aioredis.Redis) -> None:
    db = redis_client.connection_pool.connection_kwargs["db"]
    sim = subprocess.Popen([sys.executable, "-m", "telephony.simulator", "--secret", SECRETS["INTAKE_AMI_SECRET"], "--seed", "3"],
                           cwd=REPO, stdout=subprocess.PIPE, text=True)
    serve = None
    try:
        ami_port = json.loads(sim.stdout.readline())["port"]  # type: ignore[union-attr]
        shipped = (REPO / "config" / "intake.toml").read_text()
        config = tmp_path / "intake.toml"
        config.write_text(shipped.replace("port = 5038", f"port = {ami_port}").replace("port = 8080", f"port = {HTTP_PORT}")
                          .replace('url = "redis://127.0.0.1:6379/0"', f'url = "{redis_url.rstrip("/")}/{db}"'))
        serve = subprocess.Popen([sys.executable, "-m", "intake.app.cli", "serve", "--config", str(config)], cwd=REPO,
                                 stderr=subprocess.DEVNULL, env={**os.environ, **SECRETS})

        async def sampled_call() -> tuple[JournalRecord, date] | None:
            """A 999 call journalled in a quarter hour the leader sampled the 999 line in."""
            for key in await redis_client.keys("intake:journal:*"):
                day = date.fromisoformat(key.decode().rsplit(":", 1)[1])
                samples = {interval_start(s.at, 900) for s in await read_signed_in(redis_client, ["intake:"], day, day)
                           if s.line == "999"}
                for member in await redis_client.zrange(key, 0, -1):
                    record = JournalRecord.model_validate_json(member)
                    if record.line == "999" and interval_start(record.queued_at, 900) in samples:
                        return record, day
            return None

        found = await eventually(sampled_call, 60, "a 999 call in a sampled quarter hour")
    finally:
        end(serve)
        end(sim)  # type: ignore[arg-type]
        sim.stdout.close()  # type: ignore[union-attr]
    record, day = found
    start = interval_start(record.queued_at, 900)

    view = _json(_intake(redis_client, redis_url, "staffing", "--from", day.isoformat(), "--to", day.isoformat()))
    (row,) = [r for r in view["intervals"] if r["line"] == "999" and _epoch(r["start"]) == start]
    assert row["offered"] >= 1
    assert row["signed_in"] == EMERGENCY_MEMBERS
    assert 0 <= row["service_level_signed_in"] <= 1

    done = _intake(redis_client, redis_url, "staffing", "--from", day.isoformat(), "--to", day.isoformat(), "--csv")
    assert done.returncode == 0, done.stderr
    (csv_row,) = [r for r in csv.DictReader(io.StringIO(done.stdout)) if r["line"] == "999" and r["start"] == row["start"]]
    assert float(csv_row["signed_in"]) == EMERGENCY_MEMBERS and csv_row["service_level_signed_in"] != ""


def _epoch(local: str) -> float:
    return datetime.fromisoformat(local).timestamp()
