"""Two small clocks of the AMI session, kept sans-I/O so tests can drive them without sleeping.

- :class:`Backoff`: capped exponential backoff with full jitter (delay drawn uniformly from
  ``[0, min(max, initial * 2**attempt)]``): many intake nodes losing one PBX do not come back in
  step, and a refused login is retried ever more slowly up to the cap, never hammered.
- :class:`PbxClock`: the offset between the PBX's clock (event ``Timestamp``) and ours, so events
  without a Timestamp (QueueStatus list items) and our own link events are stamped in PBX time.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable


class Backoff:
    __slots__ = ("initial", "maximum", "attempt", "_rng")

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


class PbxClock:
    """Estimate of ``pbx_time - local_time`` from recent timestamped events.

    Each sample ``Timestamp - time()`` at arrival is the true offset minus the event's transit and
    queueing delay, so samples err low: the largest of a recent window is the best estimate. The
    window is short so that a stepped PBX clock is followed within a few dozen events.
    """

    __slots__ = ("_samples", "_now", "_offset")

    def __init__(self, window: int = 64, now: Callable[[], float] = time.time) -> None:
        self._samples: deque[float] = deque(maxlen=window)
        self._now = now
        self._offset: float | None = 0.0

    def observe(self, pbx_timestamp: float) -> None:
        self._samples.append(pbx_timestamp - self._now())
        self._offset = None  # recomputed on demand: observe() is on the hot path, reads are rare

    @property
    def offset(self) -> float:
        if self._offset is None:
            self._offset = max(self._samples)
        return self._offset

    def now(self) -> float:
        """Our best estimate of the PBX's clock now (local time until a Timestamp is seen)."""
        return self._now() + self.offset
