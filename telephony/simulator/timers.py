"""Reactions due at times of the PBX clock: what simulated callers and handlers use to act later.

A reaction is never run from inside a PBX event callback: it is set here and run on the next
:meth:`Timers.run_due`, so a sequence of PBX events is never interleaved with a reaction to itself.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from telephony.simulator.errors import SimulatorError


class Timers:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()  # ties run in the order they were set

    def __len__(self) -> int:
        return len(self._heap)

    def at(self, when: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), action))

    def after(self, delay: float, action: Callable[[], None]) -> None:
        self.at(self._clock() + delay, action)

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def run_due(self) -> None:
        """Run every reaction that is due now, in time order."""
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            _, _, action = heapq.heappop(self._heap)
            try:
                action()
            except SimulatorError:
                pass  # the world moved on (the call ended, the phone stopped ringing): nothing to do
