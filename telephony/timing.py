"""The small clocks of the AMI session, kept sans-I/O so tests can drive them without sleeping.

- :class:`Backoff`: capped exponential backoff with full jitter (delay drawn uniformly from
  ``[0, min(max, initial * 2**attempt)]``): many intake nodes losing one PBX do not come back in
  step, and a refused login is retried ever more slowly up to the cap, never hammered.
- :class:`PbxClock`: the offset between the PBX's clock (event ``Timestamp``) and ours, so events
  without a Timestamp (QueueStatus list items) and our own link events are stamped in PBX time.
  It is also the one gate every ``Timestamp`` passes (:meth:`PbxClock.stamp`): a PBX time is
  believed only if it is a finite number within ``max_skew`` of our clock. One absurd frame
  (``inf``, ``1e300``, a year ahead) would otherwise become intake's idea of "now" for good.
- :class:`Throttle`: at most one log line per interval, for faults that can come in floods.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable


class Backoff:
    __slots__ = ("_rng", "attempt", "initial", "maximum")

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError(f"backoff needs 0 < initial <= maximum, got {initial} and {maximum}")
        self.initial = initial
        self.maximum = maximum
        self.attempt = 0
        self._rng = rng or random.Random()

    def ceiling(self, attempt: int) -> float:
        """Largest delay possible before retry number ``attempt`` (0-based)."""
        # min() before the power would overflow for a long outage; cap the exponent instead.
        return float(min(self.maximum, self.initial * 2.0 ** min(attempt, 62)))

    def next(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        delay = self._rng.uniform(0.0, self.ceiling(self.attempt))
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


DEFAULT_MAX_SKEW = 300.0
"""Seconds the PBX's clock may differ from ours before its Timestamps are no longer believed."""
_YEAR_9999 = 253_402_300_799.0  # the last second time.localtime and strftime can render


def pbx_timestamp(raw: str) -> float | None:
    """A ``Timestamp`` field as seconds since the epoch, or None if it is not a time at all:
    not a number, not finite, not after 1970 or beyond what a calendar can show."""
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0.0 < value <= _YEAR_9999 else None  # NaN fails both comparisons


class PbxClock:
    """Estimate of ``pbx_time - local_time`` from recent timestamped events.

    Each sample ``Timestamp - time()`` at arrival is the true offset minus the event's transit and
    queueing delay, so samples err low: the largest of a recent window is the best estimate. The
    window is short so that a stepped PBX clock is followed within a few dozen events.

    A sample further than ``max_skew`` from our clock is never taken: the PBX's word is trusted
    for its own events' order and spacing, not to move our "now" by a year.
    """

    __slots__ = ("_now", "_offset", "_samples", "last_rejected", "max_skew", "rejected")

    def __init__(self, window: int = 64, now: Callable[[], float] = time.time, max_skew: float = DEFAULT_MAX_SKEW) -> None:
        if not max_skew > 0:
            raise ValueError(f"max_skew must be a positive number of seconds, got {max_skew}")
        self._samples: deque[float] = deque(maxlen=window)
        self._now = now
        self._offset: float | None = 0.0
        self.max_skew = max_skew
        self.rejected = 0
        """Timestamps not believed since start (each replaced by :meth:`now`)."""
        self.last_rejected = ""

    def observe(self, pbx_timestamp: float) -> bool:
        """Take one sample; False (and nothing taken) if it is further than ``max_skew`` from us."""
        sample = pbx_timestamp - self._now()
        if not -self.max_skew <= sample <= self.max_skew:  # NaN fails too
            return False
        self._samples.append(sample)
        self._offset = None  # recomputed on demand: observe() is on the hot path, reads are rare
        return True

    def stamp(self, raw: str) -> float:
        """The PBX time of an event whose ``Timestamp`` field is ``raw``: that time if it is
        believable (and then it is a sample of the clock too), else our estimate of the PBX's
        clock now, and the frame is counted in :attr:`rejected`."""
        value = pbx_timestamp(raw)
        if value is not None and self.observe(value):
            return value
        self.rejected += 1
        self.last_rejected = raw[:40]
        return self.now()

    @property
    def offset(self) -> float:
        if self._offset is None:
            self._offset = max(self._samples)
        return self._offset

    def now(self) -> float:
        """Our best estimate of the PBX's clock now (local time until a Timestamp is seen)."""
        return self._now() + self.offset


class Throttle:
    """True at most once per ``interval`` (monotonic clock injected): one log line for a flood."""

    __slots__ = ("_next", "_now", "interval")

    def __init__(self, interval: float, now: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._now = now
        self._next = float("-inf")

    def due(self) -> bool:
        now = self._now()
        if now < self._next:
            return False
        self._next = now + self.interval
        return True
