"""Writes to Redis that must not be lost when Redis is away: held in order and retried.

A call that settled while Redis was failing over still has to reach the caller's history and
the call journal. Each kind of record gets one :class:`HeldWrites`: a write that fails is kept,
every later one queues behind it (so order is kept), and :meth:`HeldWrites.retry` is called on
the server's tick. Bounded, because a process cannot hold an unbounded outage; what falls off the
end is counted and logged, never silent.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import structlog

T = TypeVar("T")
log = structlog.get_logger("intake.held")


class HeldWrites(Generic[T]):
    def __init__(self, name: str, write: Callable[[T], Awaitable[None]], limit: int = 100_000) -> None:
        self.name = name
        self._write = write
        self._held: deque[T] = deque()
        self._limit = limit
        self._lock = asyncio.Lock()  # a retry and a new submit must not reorder writes
        self.failures = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._held)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._held)

    async def submit(self, item: T) -> None:
        async with self._lock:
            if self._held:
                self._hold(item)
                return
            try:
                await self._write(item)
            except Exception as exc:
                self.failures += 1
                self._hold(item)
                log.error("write_failed", kind=self.name, error=repr(exc), held=len(self._held))

    async def retry(self) -> int:
        """Write held items, oldest first, until one fails; returns how many were written."""
        written = 0
        async with self._lock:
            while self._held:
                try:
                    await self._write(self._held[0])
                except Exception as exc:
                    log.warning("retry_failed", kind=self.name, error=repr(exc), held=len(self._held))
                    break
                self._held.popleft()
                written += 1
        if written:
            log.info("written_late", kind=self.name, count=written, held=len(self._held))
        return written

    def _hold(self, item: T) -> None:
        if len(self._held) >= self._limit:
            self._held.popleft()
            self.dropped += 1
            log.error("held_write_dropped", kind=self.name, limit=self._limit)
        self._held.append(item)
