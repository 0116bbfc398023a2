"""The server's connections' settings: its Redis clients (one Redis by URL, or the primary found
through Sentinel), its HTTP server, Redis's reports of writes to caller histories. (Also used by
the benchmark's floor and the history CLI.)

With Sentinel (docs/redis-sentinel.md), redis-py's SentinelConnectionPool asks the Sentinels for
the primary whenever a connection (re)connects, and a connection to a demoted primary turns its
READONLY answer into a ConnectionError that drops it. So a failover costs each command at most one
retry on a fresh connection (the client's Retry), which finds the new primary; while the Sentinels
have no primary to name (between the old one's death and the promotion) commands fail with a
ConnectionError, and the callers hold what they write (the record writer) or go without (a pop
without its history, logged)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
import uvicorn
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.sentinel import (
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
)
from redis.exceptions import RedisError

from intake.app.replicas import Replicas, ReplicatedWrite
from intake.core.config import RedisConfig
from intake.core.errors import CannotListen
from screenpop.held import HeldHistories
from screenpop.history import HistoryStore
from screenpop.history_watch import HistoryWatch

log = structlog.get_logger("intake.server")

REDIS_POOL = 32  # connections: enough for a burst of pops, bounded so a burst cannot exhaust Redis
POOL_WAIT = 2.0  # seconds a command waits for a free pooled connection


class SentinelConnection(SentinelManagedConnection):
    """A connection to the primary the Sentinels name, that asks them again whenever it reconnects.

    redis-py (8.1; redis/redis-py#3874, open) reconnects a dropped connection inside
    send_packed_command through connect_check_health, which goes back to the address the
    connection had: after a failover, the retry of a command that met READONLY on the demoted
    primary went to the demoted primary again and failed (tests/intake/test_redis_failover.py).
    Reconnecting through connect() asks the Sentinels first."""

    # Any: the packed command, as redis-py takes it
    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if not self.is_connected:
            await self.connect()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        await super().send_packed_command(command, check_health)


class BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool, bounded like the single Redis's (a command waits for a free connection
    rather than opening one mid-burst): SentinelConnectionPool's methods defer to
    BlockingConnectionPool's for taking and giving back connections."""


def _settings() -> dict[str, Any]:  # Any: redis-py connection keyword arguments
    """Every connection's settings (see make_redis for why)."""
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    return {"socket_timeout": 5, "socket_connect_timeout": 2, "driver_info": None,
            "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))}


# Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
def redis_of(config: RedisConfig, password: str | None = None, **connection: Any) -> Any:
    """The server's Redis client as ``config`` says: one Redis by its URL, or the primary that
    the Sentinels name (``password``: the Redis servers', resolved from ``redis.password``)."""
    if not config.sentinels:
        return make_redis(config.url, **connection)
    sentinels = []
    for address in config.sentinels:
        host, _, port = address.rpartition(":")
        sentinels.append((host.strip("[]"), int(port)))
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    # A Sentinel that is down must not hold up the question to the next one: short timeouts, no retry.
    manager = Sentinel(sentinels, sentinel_kwargs={"socket_timeout": 1.0, "socket_connect_timeout": 0.5,
                                                   "retry": Retry(NoBackoff(), 0)})  # type: ignore[no-untyped-call]
    return manager.master_for(config.service, connection_pool_class=BlockingSentinelPool, max_connections=REDIS_POOL,
                              timeout=POOL_WAIT, db=config.database, password=password,
                              **(_settings() | {"connection_class": SentinelConnection} | connection))


# Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
def make_redis(url: str, **connection: Any) -> Any:
    """The server's Redis client; ``connection`` adds connection settings (a benchmark counts
    round trips with ``connection_class=CountingConnection``)."""
    if url == "embedded":
        import fakeredis

        return fakeredis.FakeAsyncRedis()
    import redis.asyncio as aioredis
    # A pop must cost one round trip: a connection opened mid-burst would add its handshake, so
    # the pool is bounded (a pop waits for a free connection rather than opening one) and warmed
    # at start (warm_redis), and connections skip the CLIENT SETINFO commands redis-py sends.
    # After Redis restarts, every pooled connection is dead and says so only when next used: one
    # retry on a fresh connection, for a connection error only (the command never reached a live
    # Redis; a timed-out one may have, and is not sent twice).
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=REDIS_POOL, timeout=POOL_WAIT,
                                                    **(_settings() | connection))
    return aioredis.Redis(connection_pool=pool)


# Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
def writer_redis(redis: Any, replicas: int) -> Any:
    """The record writer's client: ``redis`` itself without WAIT; with it, a client of its own on
    one connection to the same place (WAIT must follow a batch on the connection that carried it:
    intake.app.replicas)."""
    if not replicas or _in_process(redis):
        return redis
    pool = redis.connection_pool
    settings = {k: v for k, v in pool.connection_kwargs.items() if k != "connection_pool"}
    if isinstance(pool, SentinelConnectionPool):
        single: BlockingConnectionPool = BlockingSentinelPool(  # type: ignore[no-untyped-call]  # as Sentinel
            pool.service_name, pool.sentinel_manager, is_master=True, max_connections=1, timeout=POOL_WAIT,
            connection_class=pool.connection_class, **settings)
    else:
        single = BlockingConnectionPool(max_connections=1, timeout=POOL_WAIT, connection_class=pool.connection_class,
                                        **settings)
    return type(redis).from_pool(single)


# Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
def replicated_write(redis: Any, replicas: int, timeout: float) -> ReplicatedWrite | None:
    """How outcomes and markers are written when replicas must hold them (None: as before)."""
    own = replicated_client(redis, replicas, timeout)
    return None if own is None else ReplicatedWrite(*own)


# Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
def replicated_client(redis: Any, replicas: int, timeout: float) -> tuple[Any, Replicas] | None:
    """A client of its own on one connection, and the WAIT that follows each write on it, for
    writes replicas must hold (outcomes and markers, durable timers); None: no replica to wait for."""
    if not replicas or _in_process(redis):
        return None
    return writer_redis(redis, replicas), Replicas(replicas, timeout)


# Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
def reader_redis(redis: Any) -> Any:
    """The client the pops' history lookups go through: with Sentinel, whichever server answers
    (a replica first, which spares the primary, else the primary: redis-py's replica pool falls
    back to it), so a pop keeps its history while a failover is under way; else ``redis`` itself.
    A record is acknowledged only once a replica holds it, so what a replica serves is what was
    acknowledged."""
    pool = getattr(redis, "connection_pool", None)
    if not isinstance(pool, SentinelConnectionPool):
        return redis
    settings = {k: v for k, v in pool.connection_kwargs.items() if k != "connection_pool"}
    return pool.sentinel_manager.slave_for(pool.service_name, connection_pool_class=BlockingSentinelPool,
                                           max_connections=REDIS_POOL, timeout=POOL_WAIT,
                                           connection_class=pool.connection_class, **settings)


# Any: a redis.asyncio client or fakeredis's in-process one (the demo's)
def _in_process(redis: Any) -> bool:
    return type(redis).__module__.startswith("fakeredis")


# Any: an ASGI app (uvicorn's own annotation is as open)
def http_config(app: Any, host: str, port: int, tls: tuple[str, str] | None = None,
                forwarded_allow_ips: list[str] | None = None) -> uvicorn.Config:
    """uvicorn's settings for intake's HTTP and WebSocket server (the benchmark's floor uses them too).

    No permessage-deflate: a pop is a couple of KB on a control room's LAN, and compressing every
    message cost the server a zlib flush per send (about 2% of its CPU under load, cProfile of
    scripts/bench.py's server) and each desktop socket a compressor's memory (about half of it:
    80 -> 40 KiB per desktop at 10,000). uvicorn's own WebSocket pings only once a
    minute (its default, 20 s, is a timer and a ping per socket on top of the desktops' heartbeat,
    which already ends a silent desktop): a net for the supervisors' sockets.

    ``tls``: the certificate chain's and the private key's PEM files: https and wss on the same
    port (Python's ssl defaults: TLS 1.2 at least). ``forwarded_allow_ips``: whose X-Forwarded-For
    names the client (the load balancer's; uvicorn's default, loopback, when None)."""
    cert, key = tls if tls is not None else (None, None)
    return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, ws_max_size=64 * 1024,
                          ws_per_message_deflate=False, ws_ping_interval=60.0, ws_ping_timeout=30.0, lifespan="off",
                          ssl_certfile=cert, ssl_keyfile=key, forwarded_allow_ips=forwarded_allow_ips)


def listen(host: str, port: int) -> socket.socket:
    """The HTTP server's listening socket, bound by us rather than by uvicorn, which answers a busy
    port with a logged error and ``sys.exit`` from inside its task (a 70-line traceback)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        # create_server's own text repeats the address; the errno's is the reason alone
        raise CannotListen(host, port, (os.strerror(exc.errno) if exc.errno else str(exc)).lower()) from None


# Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
def history_watch_of(redis: Any, history: HistoryStore, held: HeldHistories) -> HistoryWatch | None:
    """Redis's reports of writes to caller histories, for what the pops hold; none for the
    in-process store (every write to it goes through this process, and says so itself)."""
    if _in_process(redis):
        return None
    held.watching(False)  # until the watch stands
    pool = redis.connection_pool
    address: Mapping[str, Any] | Callable[[], Awaitable[Mapping[str, Any]]] = pool.connection_kwargs
    if isinstance(pool, SentinelConnectionPool):
        async def primary() -> Mapping[str, Any]:  # asked again at every (re)connect: the primary may have moved
            try:
                host, port = await pool.sentinel_manager.discover_master(pool.service_name)
            except RedisError as exc:  # no primary named yet: the watch's own retry (it retries on OSError)
                raise ConnectionError(f"no primary from the Sentinels: {exc}") from exc
            return {**pool.connection_kwargs, "host": host, "port": port}
        address = primary
    return HistoryWatch(address, history.watched_prefixes(), changed=held.changed,
                        everything=held.everything, watching=held.watching, tls="SSL" in pool.connection_class.__name__)


# Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
async def warm_redis(redis: Any, connections: int = REDIS_POOL) -> None:
    """Open the pool's connections now, so the first burst of pops finds them ready."""
    try:
        await asyncio.gather(*(redis.ping() for _ in range(connections)))
    except Exception as exc:  # noqa: BLE001 - Redis not up yet: the pool fills lazily later
        log.warning("redis_not_warmed", error=repr(exc))


# Any: redis.asyncio clients or fakeredis's in-process ones
async def close_redis(*clients: Any) -> None:
    """Close ``clients`` (each once) and the Sentinels' connections of any found through them."""
    managers = []
    for client in dict.fromkeys(clients):  # the writer or the reader may be the server's own client
        pool = getattr(client, "connection_pool", None)
        if isinstance(pool, SentinelConnectionPool) and pool.sentinel_manager not in managers:
            managers.append(pool.sentinel_manager)
        await client.aclose()
    for manager in managers:
        await manager.aclose()
