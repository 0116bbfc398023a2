"""Settled calls' records reach Redis behind the event path: batched, in order, never dropped silently.

The event path must not wait on Redis, and a call that settled while Redis was failing over still
has to reach the caller's history and the call journal. Each record is staged as a function that
adds its commands to a pipeline; a single writer task sends what has accumulated as one MULTI/EXEC
(one round trip for a whole burst, and a batch lands whole or not at all). If Redis refuses, the
batch stays at the head and is tried again; later records queue behind it, so order holds.
Bounded, because a process cannot hold an unbounded outage: what falls off the end is counted and
logged.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger("intake.write_behind")

Stage = Callable[[Any], None]  # adds its commands to a redis pipeline
Done = Callable[[], None]  # told once the record has left the queue: written, or dropped


class WriteBehind:
    def __init__(self, redis: Any, *, batch: int = 500, retry_every: float = 2.0, limit: int = 200_000) -> None:
        self.redis = redis
        self._batch = batch
        self._retry_every = retry_every
        self._limit = limit
        self._queue: deque[tuple[str, Stage, Done | None]] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task[None] | None = None
        self.written = 0
        self.failures = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._queue)

    def submit(self, kind: str, stage: Stage, done: Done | None = None) -> None:
        """Queue one record's commands; returns at once (the event path never waits on Redis).
        ``done`` is called once the record is written, or dropped."""
        if len(self._queue) >= self._limit:
            lost, _, lost_done = self._queue.popleft()
            self.dropped += 1
            log.error("record_dropped", kind=lost, limit=self._limit)
            if lost_done is not None:
                lost_done()
        self._queue.append((kind, stage, done))
        self._idle.clear()
        self._wake.set()
        if self._writer is None or self._writer.done():  # started by the first record, on its loop
            self._writer = asyncio.get_running_loop().create_task(self._run())

    async def flush(self) -> None:
        """Wait until everything submitted so far is written (tests, shutdown)."""
        await self._idle.wait()

    async def close(self, timeout: float) -> None:
        """Give held records ``timeout`` seconds to reach Redis, then stop; says what is lost."""
        try:
            await asyncio.wait_for(self.flush(), timeout)
        except TimeoutError:
            log.error("records_lost_at_shutdown", count=len(self._queue))
        if self._writer is not None:
            self._writer.cancel()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                if not await self._write_batch():
                    await asyncio.sleep(self._retry_every)
            self._idle.set()

    async def _write_batch(self) -> bool:
        batch = [self._queue[i] for i in range(min(self._batch, len(self._queue)))]
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for _, stage, _ in batch:
                    stage(pipe)
                await pipe.execute()
        except Exception as exc:
            self.failures += 1
            log.error("records_not_written", error=repr(exc), held=len(self._queue))
            return False
        for _ in batch:
            self._queue.popleft()
        self.written += len(batch)
        for _, _, done in batch:
            if done is not None:
                done()
        if self.failures:
            log.info("records_written", count=len(batch), held=len(self._queue))
        return True
