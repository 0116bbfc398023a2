"""The server's connections' settings: its Redis client, its HTTP server, Redis's reports of
writes to caller histories. (Also used by the benchmark's floor and the history CLI.)"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
import uvicorn

from screenpop.held import HeldHistories
from screenpop.history import HistoryStore
from screenpop.history_watch import HistoryWatch

log = structlog.get_logger("intake.server")

REDIS_POOL = 32  # connections: enough for a burst of pops, bounded so a burst cannot exhaust Redis


# Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
def make_redis(url: str, **connection: Any) -> Any:
    """The server's Redis client; ``connection`` adds connection settings (a benchmark counts
    round trips with ``connection_class=CountingConnection``)."""
    if url == "embedded":
        import fakeredis

        return fakeredis.FakeAsyncRedis()
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    # A pop must cost one round trip: a connection opened mid-burst would add its handshake, so
    # the pool is bounded (a pop waits for a free connection rather than opening one) and warmed
    # at start (warm_redis), and connections skip the CLIENT SETINFO commands redis-py sends.
    # After Redis restarts, every pooled connection is dead and says so only when next used: one
    # retry on a fresh connection, for a connection error only (the command never reached a live
    # Redis; a timed-out one may have, and is not sent twice).
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=REDIS_POOL, timeout=2, socket_timeout=5,
                                                    socket_connect_timeout=2, driver_info=None,
                                                    retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
                                                    **connection)
    return aioredis.Redis(connection_pool=pool)


# Any: an ASGI app (uvicorn's own annotation is as open)
def http_config(app: Any, host: str, port: int) -> uvicorn.Config:
    """uvicorn's settings for intake's HTTP and WebSocket server (the benchmark's floor uses them too).

    No permessage-deflate: a pop is a couple of KB on a control room's LAN, and compressing every
    message cost the server a zlib flush per send (about 2% of its CPU under load, cProfile of
    scripts/bench.py's server) and each desktop socket a compressor's memory (about half of it:
    80 -> 40 KiB per desktop at 10,000). uvicorn's own WebSocket pings only once a
    minute (its default, 20 s, is a timer and a ping per socket on top of the desktops' heartbeat,
    which already ends a silent desktop): a net for the supervisors' sockets."""
    return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, ws_max_size=64 * 1024,
                          ws_per_message_deflate=False, ws_ping_interval=60.0, ws_ping_timeout=30.0, lifespan="off")


# Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
def history_watch_of(redis: Any, history: HistoryStore, held: HeldHistories) -> HistoryWatch | None:
    """Redis's reports of writes to caller histories, for what the pops hold; none for the
    in-process store (every write to it goes through this process, and says so itself)."""
    if type(redis).__module__.startswith("fakeredis"):
        return None
    held.watching(False)  # until the watch stands
    pool = redis.connection_pool
    return HistoryWatch(pool.connection_kwargs, history.watched_prefixes(), changed=held.changed,
                        everything=held.everything, watching=held.watching, tls="SSL" in pool.connection_class.__name__)


# Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
async def warm_redis(redis: Any, connections: int = REDIS_POOL) -> None:
    """Open the pool's connections now, so the first burst of pops finds them ready."""
    try:
        await asyncio.gather(*(redis.ping() for _ in range(connections)))
    except Exception as exc:  # noqa: BLE001 - Redis not up yet: the pool fills lazily later
        log.warning("redis_not_warmed", error=repr(exc))
