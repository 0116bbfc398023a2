"""Which location a pop shows: pure rules over what each source has said for one call.

Sources (:data:`screenpop.places.LocationSource`): ``call`` (the INVITE's PIDF-LO, on the call from
its QueueCallerJoin), ``service`` (the location service looked up by number, which may answer
after the pop), ``history`` (the last location on the caller's own record, which comes with the
history lookup). ``[location] order`` ranks them; the pop shows the first in that order that has
a location now, and a better-ranked one that comes later is sent as ``pop.place``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from screenpop.models import CallerHistory
from screenpop.places import Location, LocationSource
from telephony.geolocation import CallerLocation

DEFAULT_ORDER: tuple[LocationSource, ...] = ("call", "service", "history")


def from_call(located: CallerLocation | None, at: float) -> Location | None:
    """The INVITE's location as the pop's: ``at`` is the event's PBX time (Asterisk keeps no PIDF-LO
    timestamp). A civic address without a point is not a :class:`Location` (the map needs a point):
    ``None``, and the next source is asked."""
    if located is None or located.lat is None or located.lon is None:
        return None
    try:
        return Location(lat=located.lat, lon=located.lon, source="call", at=at, radius_m=located.radius_m,
                        confidence=located.confidence, civic=located.civic[:300])
    except ValidationError:
        return None


def last_location(history: CallerHistory | None, now: float, max_age_seconds: float) -> Location | None:
    """The newest location on the caller's record no older than ``max_age_seconds``, as history's."""
    if history is None:
        return None
    for record in history.recent:  # newest first
        if record.location is not None and now - record.location.at <= max_age_seconds:
            return record.location.model_copy(update={"source": "history"})
    return None


@dataclass(frozen=True, slots=True)
class Choice:
    """What the pop shows now, and whether a better-ranked source may still answer."""

    location: Location | None
    better_pending: bool


def choose(order: Sequence[LocationSource], found: Mapping[LocationSource, Location | None],
           pending: frozenset[LocationSource] = frozenset()) -> Choice:
    """The first source in ``order`` with a location in ``found``; ``pending``: sources asked that
    have not answered yet (one ranked above the chosen one means a ``pop.place`` may follow)."""
    for source in order:
        if source in pending:
            rest = _first(order[order.index(source) + 1:], found)
            return Choice(rest, True)
        location = found.get(source)
        if location is not None:
            return Choice(location, False)
    return Choice(None, False)


def _first(order: Sequence[LocationSource], found: Mapping[LocationSource, Location | None]) -> Location | None:
    return next((found[s] for s in order if found.get(s) is not None), None)


def worth_asking(order: Sequence[LocationSource], source: LocationSource, found: Mapping[LocationSource, Location | None]) -> bool:
    """Whether to ask ``source`` at all: only if no source ranked above it already has a location
    (a lookup is a consultation of personal data: never one whose answer could not be shown)."""
    if source not in order:
        return False
    return all(found.get(s) is None for s in order[: order.index(source)])
