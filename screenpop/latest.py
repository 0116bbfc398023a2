"""Latest-wins delivery, for streams where only the newest value matters (supervisors' metrics).

A pop must never be skipped, so handlers get a queue each (:mod:`screenpop.delivery`). A metrics
snapshot is the opposite: once a newer one exists the older is worthless. Each socket gets a
:class:`LatestSlot` holding one value; publishing overwrites it, so a slow socket costs one slot
of memory, never a backlog, and when it catches up it gets the newest snapshot, not a stale one.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Generic, TypeVar

T = TypeVar("T")


class SlotClosed(Exception):
    """The fan-out closed the slot; its reader should end."""


class LatestSlot(Generic[T]):
    """One reader's slot: ``put`` overwrites, ``take`` waits for a value it has not taken yet."""

    def __init__(self) -> None:
        self._value: T | None = None
        self._version = 0
        self._taken = 0
        self._changed = asyncio.Event()
        self._closed = False

    def put(self, value: T) -> None:
        self._value = value
        self._version += 1
        self._changed.set()

    async def take(self) -> T:
        while self._taken == self._version and not self._closed:
            self._changed.clear()
            await self._changed.wait()
        if self._closed:
            raise SlotClosed()
        self._taken = self._version
        assert self._value is not None
        return self._value

    async def next(self) -> T:
        """:meth:`take`, as a socket's feed (:class:`screenpop.socket.Feed`) names it."""
        return await self.take()

    async def ended(self) -> None:
        """Wait until the slot is closed, then raise SlotClosed (a socket's feed ends so)."""
        while not self._closed:
            self._changed.clear()
            await self._changed.wait()
        raise SlotClosed()

    def close(self) -> None:
        self._closed = True
        self._changed.set()

    @property
    def skipped(self) -> int:
        """Values overwritten before this reader took them (a measure of how slow it is)."""
        return self._version - self._taken - (1 if self._version > self._taken else 0)


class LatestFanout(Generic[T]):
    """Publishes each value to every attached slot; a new slot starts with the current value."""

    _ids = itertools.count(1)

    def __init__(self) -> None:
        self._slots: dict[int, LatestSlot[T]] = {}
        self._current: T | None = None

    def attach(self) -> tuple[int, LatestSlot[T]]:
        slot: LatestSlot[T] = LatestSlot()
        if self._current is not None:
            slot.put(self._current)
        slot_id = next(self._ids)
        self._slots[slot_id] = slot
        return slot_id, slot

    def detach(self, slot_id: int) -> None:
        slot = self._slots.pop(slot_id, None)
        if slot is not None:
            slot.close()

    def publish(self, value: T) -> None:
        self._current = value
        for slot in self._slots.values():
            slot.put(value)

    def __len__(self) -> int:
        return len(self._slots)
