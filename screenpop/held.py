"""Caller histories looked up as a call arrives at the PBX, held for the pop when a phone rings.

A lookup at the ring puts a Redis round trip (and the task it runs in, on a busy loop) between
the AgentCalled frame and the handler's screen. The caller's number is known earlier: Newchannel
comes before the dialplan reaches Queue(), and the queue rings a free handler at once. So the
lookup starts on the caller's channel's Newchannel, and the pop at the ring takes its result,
in the same pass over the frame that brought the ring, with no task and no wait.

A held history stands only while nothing has written the number's history since:
- :meth:`changed` replaces what is held for a number, a lookup still in flight included, with a
  new lookup. It is called for writes through this process (a contact record written, an
  outcome filed, a marker added or removed, a call-back filed), so a caller who rings straight
  back sees their last call, and, through screenpop.history_watch, for writes by anyone else
  (the history import, another node), which Redis reports. While that watch is down (:meth:`watching`), nothing is
  held: every ring looks up, as without holding. An in-process store has no other writers.
- ``hold_seconds`` bounds its age all the same: the counts of the last 24 hours and 30 days,
  the repeat window and markers' expiry are worked out at the lookup's moment.
A held lookup that failed is not used: the ring looks up afresh, under the pop's own deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from screenpop.models import CallerHistory

log = structlog.get_logger(__name__)

Lookup = Callable[[str, float, Mapping[str, float]], Coroutine[Any, Any, CallerHistory]]


@dataclass(slots=True)
class _Held:
    lookup: asyncio.Task[CallerHistory]
    calls: set[str]  # the calls from the number in progress that it stands for
    started: float  # monotonic
    now: float  # the lookup's PBX time
    calling: Mapping[str, float]  # and its calls in progress


@dataclass(slots=True)
class HeldCounters:
    looked_up: int = 0  # lookups started on arrival
    taken_ready: int = 0  # rings that found the history there: the pop went out at once
    taken_in_flight: int = 0  # rings that found the lookup still running and waited for it
    missed: int = 0  # rings that found nothing usable, so looked up at the ring; of them:
    missed_aged: int = 0  # the caller waited past the hold
    missed_failed: int = 0  # the lookup on arrival failed
    looked_again: int = 0  # lookups made again because the number's history was written meanwhile


class HeldHistories:
    def __init__(self, lookup: Lookup, hold_seconds: float, *, clock: Callable[[], float] = time.monotonic,
                 limit: int = 10_000, watched: bool = True) -> None:
        """``watched``: every write to the store is reported to :meth:`changed` (false until a
        watch of a shared Redis says it stands)."""
        self._lookup = lookup
        self.hold_seconds = hold_seconds
        self.watched = watched
        self._clock = clock
        self._limit = limit
        self._held: dict[str, _Held] = {}
        self._read_again: set[str] = set()  # numbers looked up again in this pass of the loop
        self.counters = HeldCounters()

    @property
    def enabled(self) -> bool:
        return self.hold_seconds > 0 and self.watched

    def watching(self, live: bool) -> None:
        """Whether every write is reported from now on; when not, what is held may be stale."""
        self.watched = live
        if not live:
            self._held.clear()

    def everything(self) -> None:
        """Every number's history changed (the database was flushed)."""
        self._held.clear()

    def fetch(self, number: str, call_id: str, now: float, calling: Mapping[str, float]) -> None:
        """Start looking ``number`` up for its call ``call_id`` (PBX time ``now``; ``calling`` as
        HistoryStore.lookup). A newer call from the number replaces what is held (its calling set
        is newer too) and it then stands for both calls."""
        if not self.enabled:
            return
        previous = self._held.pop(number, None)
        self._start(number, {call_id} | (previous.calls if previous is not None else set()), now, calling)

    def _start(self, number: str, calls: set[str], now: float, calling: Mapping[str, float]) -> None:
        self._expire()
        # A lookup replaced is not cancelled: a ring may be waiting on it.
        task = asyncio.get_running_loop().create_task(self._lookup(number, now, calling), name=f"held-history-{number}")
        task.add_done_callback(_observe)
        self._held[number] = _Held(task, calls, self._clock(), now, calling)
        self.counters.looked_up += 1

    def take(self, number: str) -> asyncio.Task[CallerHistory] | None:
        """The held lookup for ``number`` if it may stand for a lookup now: young enough, not
        overtaken by a write, not failed. Done or still running; the caller tells which."""
        held = self._held.get(number)
        if held is None or not self._usable(held):
            self.counters.missed += 1
            return None
        if held.lookup.done():
            self.counters.taken_ready += 1
        else:
            self.counters.taken_in_flight += 1
        return held.lookup

    def changed(self, number: str) -> None:
        """The number's history was written: what is held for it no longer stands. A call from
        the number is on its way (that is why anything is held), so it is read again at once:
        its ring finds the history as written, ready, instead of looking it up then."""
        held = self._held.get(number)
        if held is None or number in self._read_again:
            return  # nothing held; or a lookup made in this same pass, after this write, already
        del self._held[number]
        if self.enabled:
            # One write is several keys (Redis reports each), and ours are reported by us and by
            # Redis: one lookup again per pass of the loop is enough, as it runs after them all.
            if not self._read_again:
                asyncio.get_running_loop().call_soon(self._read_again.clear)
            self._read_again.add(number)
            self.counters.looked_again += 1
            self._start(number, held.calls, held.now + (self._clock() - held.started), held.calling)

    def finished(self, number: str, call_id: str) -> None:
        """The call is over: what was held for it is no longer needed, unless another call
        from the number is in progress (the caller rang again while this one was waiting)."""
        held = self._held.get(number)
        if held is not None:
            held.calls.discard(call_id)
            if not held.calls:
                del self._held[number]

    def _usable(self, held: _Held) -> bool:
        if self._clock() - held.started > self.hold_seconds:
            self.counters.missed_aged += 1
            return False
        task = held.lookup
        if task.done() and (task.cancelled() or task.exception() is not None):
            self.counters.missed_failed += 1
            return False
        return True

    def _expire(self) -> None:
        """Forget what is too old to be used; bounded by ``limit`` numbers whatever the clock says.
        The dict is in the order of the lookups' starts (a number fetched again moves to the
        end), so the old ones are at the front and this costs only what it removes."""
        oldest_kept = self._clock() - self.hold_seconds
        held = self._held
        while held:
            number, first = next(iter(held.items()))
            if first.started >= oldest_kept and len(held) < self._limit:
                break
            del held[number]

    def __len__(self) -> int:
        return len(self._held)


def _observe(task: asyncio.Task[CallerHistory]) -> None:
    """A held lookup's failure is the ring's business (it looks up again); here it is only noted,
    so that asyncio does not report an exception nobody retrieved."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.info("held_history_lookup_failed", error=f"{type(exc).__name__}: {exc}")
