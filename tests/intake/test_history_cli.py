"""`intake history import` puts every marker of a good file into Redis, and none of a bad one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import redis.asyncio as aioredis

from screenpop.history import HistoryConfig, HistoryStore
from tests.support.redis_ha import SERVICE, RedisHA

REPO = Path(__file__).resolve().parents[2]


def marker(i: int, **over: object) -> str:
    m = {"id": f"m{i}", "number": f"0770090{i:04d}", "kind": "vulnerable adult", "detail": "lives alone",
         "created_at": 1_790_000_000.0, "created_by": "sup1"}
    m.update(over)
    return json.dumps(m)


def run(file: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "intake.app.cli", "history", "import", str(file), "--redis-url", url],
                          capture_output=True, text=True, cwd=REPO)


async def test_good_file_is_imported_and_shows_in_lookups(tmp_path: Path, redis_client: aioredis.Redis, redis_url: str):
    db = redis_client.connection_pool.connection_kwargs["db"]
    path = tmp_path / "markers.jsonl"
    path.write_text("# exported from the old system\n" + "\n".join(marker(i) for i in range(3)) + "\n\n")
    result = run(path, f"{redis_url}/{db}")
    assert result.returncode == 0, result.stderr
    assert "imported 3 marker(s)" in result.stdout
    history = await HistoryStore(redis_client, HistoryConfig()).lookup("07700900001", 1_790_000_100.0)
    assert [m.kind for m in history.markers] == ["vulnerable adult"]


async def test_one_bad_line_names_every_problem_and_imports_nothing(tmp_path: Path, redis_client: aioredis.Redis, redis_url: str):
    db = redis_client.connection_pool.connection_kwargs["db"]
    path = tmp_path / "markers.jsonl"
    path.write_text("\n".join([marker(1), marker(2, kind="firearm"), "{not json", marker(4, number="abc")]) + "\n")
    result = run(path, f"{redis_url}/{db}")
    assert result.returncode == 1
    assert "line 2: kind:" in result.stderr and "line 3:" in result.stderr and "line 4: number" in result.stderr
    assert "nothing imported" in result.stderr
    assert await redis_client.dbsize() == 0


def test_with_sentinel_in_the_config_markers_go_to_the_primary_the_sentinels_name(tmp_path: Path, redis_ha: RedisHA):
    shipped = (REPO / "config" / "intake.toml").read_text()
    sentinels = ", ".join(f'"127.0.0.1:{s.port}"' for s in redis_ha.sentinels)
    config = tmp_path / "intake.toml"
    config.write_text(shipped.replace('url = "redis://127.0.0.1:6379/0"', f'sentinels = [{sentinels}]\nservice = "{SERVICE}"'))
    path = tmp_path / "markers.jsonl"
    path.write_text(marker(1) + "\n")
    result = subprocess.run([sys.executable, "-m", "intake.app.cli", "history", "import", str(path), "--config", str(config)],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    with redis_ha.primary.client() as primary:
        assert primary.hexists("intake:markers:{07700900001}", "m1")
