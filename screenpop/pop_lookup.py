"""What a pop reads from Redis when the caller's location came with the call: their history and
the incidents near them, in one round trip.

The two reads are a script each (each one's later reads depend on its earlier ones), sent in one
pipeline (screenpop.scripts): a pop with a location costs what a pop without one did. A location
that comes later costs one more round trip, :meth:`IncidentStore.near`, for the ``pop.place``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from screenpop.history import HistoryStore
from screenpop.incidents import IncidentStore
from screenpop.models import CallerHistory, is_history_number
from screenpop.places import NearbyIncident, Point
from screenpop.scripts import run_scripts


@dataclass(frozen=True, slots=True)
class PopLookup:
    history: HistoryStore
    incidents: IncidentStore

    async def near(self, point: Point, now: float) -> tuple[NearbyIncident, ...]:
        return await self.incidents.near(point, now)

    async def lookup_near(self, number: str, point: Point, now: float, calling: Mapping[str, float] | None = None
                          ) -> tuple[CallerHistory | None, tuple[NearbyIncident, ...]]:
        """The history of ``number`` (None for a withheld or unusable number, which has none) and
        the incidents near ``point``, both as of ``now``, in one round trip."""
        if not is_history_number(number):
            return None, await self.incidents.near(point, now)
        history_call = self.history.lookup_call(number, now, calling)
        near_call = self.incidents.near_call(point, now)
        if near_call is None:
            return await self.history.lookup(number, now, calling), ()
        history, nearby = await run_scripts(self.history.reader, [history_call, near_call])
        return self.history.read_lookup(number, now, history), self.incidents.read_near(nearby)
