"""Token buckets per client address: how many refused sign-ins (or sign-ins at all) a client may
make before it is told to wait.

Each client's bucket holds up to ``burst`` attempts and refills at ``per_minute``; an attempt
takes one; with less than one left the client is refused (HTTP 429 with ``Retry-After``, close
code 4429 on a socket) *without its credential being looked at*, so guessing goes no faster than
the refill. Pure: the clock is injected; :mod:`intake.app.limits` applies it at the web edge.

Memory is bounded: a bucket that has refilled is the same as none and is dropped, and past
``max_clients`` the longest-untouched go first (a flood of addresses cannot grow it without end).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    burst: int
    per_minute: float

    @property
    def refill_seconds(self) -> float:
        return 60.0 / self.per_minute


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimit:
    def __init__(self, rate: Rate, clock: Callable[[], float], max_clients: int = 10_000) -> None:
        self.rate = rate
        self._clock = clock
        self._max = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _level(self, client: str, now: float) -> _Bucket | None:
        """The client's bucket brought up to ``now``; None when it is full (as good as none)."""
        bucket = self._buckets.get(client)
        if bucket is None:
            return None
        bucket.tokens = min(self.rate.burst, bucket.tokens + (now - bucket.at) / self.rate.refill_seconds)
        bucket.at = now
        if bucket.tokens >= self.rate.burst:
            del self._buckets[client]
            return None
        return bucket

    def wait(self, client: str) -> int | None:
        """Whole seconds until ``client`` may try again, or None if it may now."""
        bucket = self._level(client, self._clock())
        if bucket is None or bucket.tokens >= 1:
            return None
        return max(1, math.ceil((1 - bucket.tokens) * self.rate.refill_seconds))

    def spend(self, client: str) -> None:
        """One attempt of ``client``'s (a refused token, a sign-in) taken from its bucket."""
        now = self._clock()
        bucket = self._level(client, now)
        if bucket is None:
            bucket = self._buckets[client] = _Bucket(float(self.rate.burst), now)
        bucket.tokens = max(0.0, bucket.tokens - 1)
        self._buckets.move_to_end(client)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)
