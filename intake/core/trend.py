"""The day's trend of one queue or line: settled calls and those answered within target in each
quarter hour since local midnight, for the wallboard's small plot.

At most 96 slots a day, whatever the volume: the wallboard is sent the whole day on every
picture, so it must stay small. Like :class:`intake.core.metrics.DayTally` it starts again at the
first call of a new day, and reads as empty once the day is over.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

SLOT_SECONDS = 900
"""A quarter hour: the interval control rooms report service levels in."""


def local_slot(at: float) -> tuple[str, int]:
    """(local day, quarter hour of that day) of a PBX time; ("", -1) for one no calendar can show."""
    try:
        t = time.localtime(at)
    except (OverflowError, ValueError, OSError):  # NaN, infinities, beyond the platform's time_t
        return "", -1
    return time.strftime("%Y-%m-%d", t), (t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec) // SLOT_SECONDS


@dataclass(slots=True)
class DayTrend:
    slot_of: Callable[[float], tuple[str, int]] = local_slot
    day: str = ""
    slots: dict[int, list[int]] = field(default_factory=dict)  # quarter hour -> [settled, within target]

    def add(self, at: float, within: bool) -> None:
        if not math.isfinite(at):
            return
        day, slot = self.slot_of(at)
        if slot < 0:
            return  # not today's, nor any day's: it must not start a new day
        if day < self.day:
            return  # a late call of yesterday's must not wipe today's
        if day != self.day:
            self.day, self.slots = day, {}
        counts = self.slots.setdefault(slot, [0, 0])
        counts[0] += 1
        counts[1] += within

    def points(self, now: float) -> list[tuple[int, int, int]]:
        """(quarter hour, settled, answered within target) of each quarter hour of today that
        had a settled call, in order."""
        if self.slot_of(now)[0] != self.day:
            return []
        return [(slot, c[0], c[1]) for slot, c in sorted(self.slots.items())]

    @classmethod
    def added(cls, parts: Sequence[DayTrend], now: float) -> DayTrend:
        """Several sites' trends of one line as one (today's quarter hours only)."""
        total = cls(parts[0].slot_of, parts[0].slot_of(now)[0])
        for p in parts:
            for slot, settled, within in p.points(now):
                counts = total.slots.setdefault(slot, [0, 0])
                counts[0] += settled
                counts[1] += within
        return total
