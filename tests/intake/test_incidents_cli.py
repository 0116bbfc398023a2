"""`intake incidents import` loads a police.uk crime file's incidents, and nothing of a file with a bad row."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import redis.asyncio as aioredis

from screenpop.incidents import IncidentStore
from screenpop.places import Point
from tests.support.crimes import anti_social, crime, crime_file, no_point

REPO = Path(__file__).resolve().parents[2]


def run(file: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "intake.app.cli", "incidents", "import", str(file), "--redis-url", url],
                          capture_output=True, text=True, cwd=REPO)


def last_month() -> str:
    now = datetime.now(UTC)
    return f"{now.year - (now.month == 1)}-{(now.month - 2) % 12 + 1:02d}"


async def test_a_good_file_is_imported_and_its_crimes_are_near_the_caller(tmp_path: Path, redis_client: aioredis.Redis,
                                                                         redis_url: str) -> None:
    db = redis_client.connection_pool.connection_kwargs["db"]
    month = last_month()
    path = tmp_path / f"{month}-greater-manchester-street.csv"
    path.write_text(crime_file(crime("c1", month, "-2.242631", "53.480759"), anti_social(month, "-2.2430", "53.4810"),
                               no_point("c2", month), crime("c3", month, "-2.30", "53.50")), encoding="utf-8")
    result = run(path, f"{redis_url}/{db}")
    assert result.returncode == 0, result.stderr
    assert "imported 3 incident(s) of 4 row(s); skipped 1 with no point" in result.stdout
    near = await IncidentStore(redis_client).near(Point(lat=53.4808, lon=-2.2426), time.time())
    assert [i.type for i in near] == ["Burglary", "Anti-social behaviour"]  # c3 is 4 km away
    assert [entry async for entry in redis_client.scan_iter("intake:audit*")], "the import is in the audit trail"


async def test_a_file_with_a_bad_row_loads_nothing_and_names_every_bad_row(tmp_path: Path, redis_client: aioredis.Redis,
                                                                          redis_url: str) -> None:
    db = redis_client.connection_pool.connection_kwargs["db"]
    month = last_month()
    path = tmp_path / "street.csv"
    path.write_text(crime_file(*(crime(f"c{i}", month, "-2.24", "53.48") for i in range(100)),
                               crime("bad1", month, "-2.24", "north"), crime("bad2", "2026", "-2.24", "53.48")))
    result = run(path, f"{redis_url}/{db}")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{path}: line 102: Latitude: 'north' is not a number",
        f"{path}: line 103: Month: '2026' is not a month (YYYY-MM)",
        f"{path}: nothing imported (2 problem(s) in 102 row(s))",
    ]
    assert await redis_client.keys("*") == []
