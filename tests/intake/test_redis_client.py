"""The server's Redis client across a restart of Redis: pooled connections the old process held
are dead, and the first command on each must not fail for that (a pop would lose its history, a
call-back task its save)."""

from __future__ import annotations

from pathlib import Path

from intake.app.server import make_redis, warm_redis
from tests.intake.own_redis import OwnRedis


async def test_after_redis_restarts_every_pooled_connection_serves_its_next_command(tmp_path: Path) -> None:
    server = OwnRedis(tmp_path)
    await server.start()
    client = make_redis(f"redis://127.0.0.1:{server.port}")
    try:
        await warm_redis(client)  # every pooled connection open, as in a running intake
        server.stop()
        await server.start()
        # As many commands at once as the pool has connections: each takes an old one.
        results = [await client.set(f"k{i}", i) for i in range(40)]
        assert all(results)
        assert int(await client.get("k39")) == 39
    finally:
        await client.aclose()
        await client.connection_pool.disconnect()  # a pool given to the client is not the client's to close
        server.stop()
