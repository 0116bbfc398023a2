"""Replicas hold it: the record writer's check, with Redis's WAIT, that a replica holds what it wrote.

WAIT counts the replicas that have acknowledged everything *its own connection* wrote, so it must
go over the connection that carried the batch's MULTI/EXEC: the writer has a client of its own on
a one-connection pool (intake.app.connections.writer_redis), pins that connection to each batch's
pipeline, and sends WAIT on it once the batch is in.

A connection that reconnects (the primary died, Sentinel named another) starts over: a WAIT on
the new connection says nothing of what went to the old primary, which may never have reached a
replica. Every (re)connect therefore starts a new *generation*; a WAIT only acknowledges what was
written in its own generation, and records of an older one are written again (every record the
writer carries is idempotent: the same member, field or key written twice is one record).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger("intake.write_behind")


class Replicas:
    def __init__(self, count: int, timeout: float) -> None:
        """``count``: replicas that must hold a record before it is acknowledged (at least 1);
        ``timeout``: seconds one WAIT may take."""
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        self.count = count
        self.timeout = timeout
        self.generation = 1  # of the pinned connection: bumped by every (re)connect; never 0 (a record's "not written")
        self._conn: Any = None  # Any: a redis.asyncio connection (plain or Sentinel-managed)

    # Any: a redis.asyncio pipeline of the writer's own one-connection client
    async def pin(self, pipe: Any) -> None:
        """Have ``pipe`` use the writer's one connection (WAIT goes over it afterwards)."""
        conn = await pipe.connection_pool.get_connection()
        if conn is not self._conn:  # the pool made a new one: a new generation
            self._conn = conn
            self.generation += 1
            conn.register_connect_callback(self._connected)
        pipe.connection = conn

    # Any: the connection that (re)connected
    def _connected(self, conn: Any) -> None:
        if conn is self._conn:
            self.generation += 1

    async def hold(self) -> bool:
        """Do ``count`` replicas hold everything written in the current generation? Raises what
        Redis or the link raise (a demoted primary refuses WAIT): the caller holds and retries."""
        conn, generation = self._conn, self.generation
        if conn is None:
            return False
        # Not through the pool: the pool would hand back this connection only after checking it,
        # and silently reconnect it (to another primary) if it broke since the batch.
        await conn.send_command("WAIT", self.count, int(self.timeout * 1000))
        got = await conn.read_response(timeout=self.timeout + 2.0)
        if got is None:  # no answer in time (redis-py returns None): its late answer must not be read as another's
            await conn.disconnect()
            return False
        return self.generation == generation and int(got) >= self.count


class ReplicatedWrite:
    """One write at a time, for a caller that waits for it (a handler's outcome, a marker): it is
    acknowledged (True) only once ``replicas`` hold it. ``client``: a one-connection client of its
    own (connections.writer_redis), apart from the record writer's."""

    # Any: a redis.asyncio client on one connection
    def __init__(self, client: Any, replicas: Replicas) -> None:
        self.client = client
        self.replicas = replicas
        self._lock = asyncio.Lock()  # WAIT follows each write on the one connection, so one write at a time

    # Any: a redis pipeline, staged by the caller
    async def __call__(self, stage: Callable[[Any], None]) -> bool:
        async with self._lock:
            async with self.client.pipeline(transaction=True) as pipe:
                await self.replicas.pin(pipe)
                stage(pipe)
                await pipe.execute()
            return await self.replicas.hold()
