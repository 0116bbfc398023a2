"""The caller's location for each call in the queue: asked of the sources in ``[location] order``,
shown on the pops, updated on them as ``pop.place`` when a better-ranked source answers late.

Per call, from its QueueCallerJoin (:meth:`CallerLocations.queued`) to its record
(:meth:`CallerLocations.settled`):

- ``call``: the INVITE's own location is on the call already (intake.core.registry, from INTAKE_GEO);
- ``service``: the location service is asked once, at once, when no source ranked above it has a
  location and the number is one (a lookup is itself a consultation: never made for nothing);
- ``history``: the last location on the caller's record, taken from the history the pop is
  composed with (the same lookup, no round trip of its own).

A pop shows :func:`screenpop.location.choose` of what is known when it is composed; when the
service answers later with a better-ranked location, every handler shown this call's pop gets a
``pop.place`` (and nobody else: a handler whose phone stopped ringing is forgotten). Each location
shown to a handler, and each lookup of the service, is an audit entry tied to the call id.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from intake.app.audit import AuditTrail
from intake.core.audit import Action, RecordKind, Who
from intake.core.calls import CallView
from intake.core.config_location import LocationConfig
from screenpop.delivery import DesktopHub, Told
from screenpop.errors import LocationServiceFailed
from screenpop.location import choose, last_location, worth_asking
from screenpop.location_service import LocationService
from screenpop.messages import PopPlace
from screenpop.models import CallerHistory, is_history_number
from screenpop.places import Location, LocationSource, NearbyIncident

log = structlog.get_logger("intake.locations")

MAX_CALLS = 10_000
"""Calls followed at once; the oldest is dropped past it (a net: each is dropped when it settles)."""


@dataclass(slots=True)
class _Place:
    number: str
    found: dict[LocationSource, Location | None]
    pending: set[LocationSource] = field(default_factory=set)
    shown: dict[str, Location | None] = field(default_factory=dict)  # handler id -> what their pop shows
    lookup: asyncio.Task[None] | None = None


Shown = Callable[[str, str, str, Location], None]
"""(handler id, call id, number, location): a location reached a handler's desktop (audit)."""
Asked = Callable[[str, str, str], None]
"""(call id, number, outcome): the location service was asked (audit)."""
Nearby = Callable[[Location, float], Awaitable[tuple[NearbyIncident, ...]]]
"""(location, now) -> the incidents near it (the incident store's ``near``): one round trip for a
location that came after the pop, sent in the same ``pop.place``."""


class CallerLocations:
    def __init__(self, config: LocationConfig, hub: DesktopHub, clock: Callable[[], float], *,
                 service: LocationService | None = None) -> None:
        self.config = config
        self.order = config.order
        self.hub = hub
        self.clock = clock
        self.service = service if config.service_on else None
        self.max_age_seconds = config.history_max_age_days * 86_400.0
        self.shown_to: Shown = lambda *_: None
        self.asked: Asked = lambda *_: None
        self.nearby: Nearby | None = None
        self._calls: OrderedDict[str, _Place] = OrderedDict()
        self.lookups = self.lookups_failed = self.places_sent = 0

    # --- the call's life ------------------------------------------------------------------------

    def queued(self, call: CallView) -> None:
        """The call joined a queue: its own location is known; ask the service if worth it."""
        if call.call_id in self._calls:
            return  # moved on to another queue: the same caller, the same lookup
        place = _Place(call.caller_number, {"call": call.location})
        self._calls[call.call_id] = place
        while len(self._calls) > MAX_CALLS:
            self._forget(next(iter(self._calls)))
        if (self.service is not None and is_history_number(call.caller_number)
                and worth_asking(self.order, "service", place.found)):
            place.pending.add("service")
            place.lookup = asyncio.get_running_loop().create_task(self._ask(call.call_id, place))

    def for_pop(self, call_id: str, history: CallerHistory | None, own: Location | None = None) -> Location | None:
        """The location a pop composed now shows (``history``: the one it is composed with;
        ``own``: the call's own as the registry has it now: a call learned from a resync gets it
        from the PBX's picture after its queue entry was told)."""
        place = self._calls.get(call_id)
        if place is None:
            return None
        if own is not None and place.found.get("call") is None and "call" in self.order:
            place.found["call"] = own
        if "history" not in place.found:
            place.found["history"] = last_location(history, self.clock(), self.max_age_seconds) if "history" in self.order else None
        return choose(self.order, place.found, frozenset(place.pending)).location

    def shown(self, call_id: str, handler_id: str, location: Location | None) -> None:
        """A pop for the call reached ``handler_id`` showing ``location`` (its consultation,
        :attr:`shown_to`, is the pop router's to record, once the hub says this node delivered it)."""
        place = self._calls.get(call_id)
        if place is None:
            return
        place.shown[handler_id] = location

    def left(self, call_id: str, handler_id: str) -> None:
        """The call is no longer on ``handler_id``'s desktop: a late location is not for them."""
        place = self._calls.get(call_id)
        if place is not None:
            place.shown.pop(handler_id, None)

    def settled(self, call_id: str) -> Location | None:
        """The call is over: the location to keep on its record (its own or the service's), and forget it."""
        place = self._calls.get(call_id)
        if place is None:
            return None
        self._forget(call_id)
        return choose([s for s in self.order if s != "history"], place.found).location

    async def drain(self) -> None:
        """Wait for every lookup in flight to be answered and its pop.place sent (tests, shutdown)."""
        lookups = [p.lookup for p in self._calls.values() if p.lookup is not None and not p.lookup.done()]
        if lookups:
            await asyncio.wait(lookups)

    async def close(self) -> None:
        for call_id in list(self._calls):
            self._forget(call_id)
        if self.service is not None:
            await self.service.close()

    # --- the service's answer -------------------------------------------------------------------

    async def _ask(self, call_id: str, place: _Place) -> None:
        self.lookups += 1
        with structlog.contextvars.bound_contextvars(call_id=call_id):
            assert self.service is not None
            try:
                found = await self.service.lookup(place.number)
            except LocationServiceFailed as exc:
                self.lookups_failed += 1
                log.warning("location_service_failed", reason=exc.reason, status=exc.status)
                found, outcome = None, "failed"
            else:
                outcome = "found" if found is not None else "none"
                log.info("location_service_answered", found=found is not None)
            self.asked(call_id, place.number, outcome)
            place.pending.discard("service")
            place.found["service"] = found
            await self._update(call_id, place)

    async def _update(self, call_id: str, place: _Place) -> None:
        """Tell each handler shown this call's pop of a location better than the one it shows."""
        now_best = choose(self.order, place.found, frozenset(place.pending)).location
        if now_best is None or all(was == now_best for was in place.shown.values()):
            return
        incidents = await self._incidents_near(now_best)
        for handler_id, was in list(place.shown.items()):  # read again: a ring may have stopped meanwhile
            if was == now_best:
                continue
            place.shown[handler_id] = now_best
            self.hub.publish(handler_id, PopPlace(call_id=call_id, location=now_best, incidents=incidents), active=True,
                             told=self._told(handler_id, call_id, place.number, now_best))
            self.places_sent += 1
            log.info("pop_place_sent", handler_id=handler_id, source=now_best.source)

    def _told(self, handler_id: str, call_id: str, number: str, location: Location) -> Told:
        """The consultation of a pop.place, once the hub says this node delivered it."""
        return lambda _sent: self.shown_to(handler_id, call_id, number, location)

    async def _incidents_near(self, location: Location) -> tuple[NearbyIncident, ...]:
        if self.nearby is None:
            return ()
        try:
            return await self.nearby(location, self.clock())
        except Exception:  # the incident store failing must not cost the handler the location
            log.exception("incidents_near_failed")
            return ()

    def _forget(self, call_id: str) -> None:
        place = self._calls.pop(call_id, None)
        if place is not None and place.lookup is not None and not place.lookup.done():
            place.lookup.cancel()

    # Any-free: a JSON view for /metrics
    def view(self) -> dict[str, int]:
        return {"followed": len(self._calls), "lookups": self.lookups, "lookups_failed": self.lookups_failed,
                "places_sent": self.places_sent}


def audited(places: CallerLocations, audit: AuditTrail) -> CallerLocations:
    """``places`` with its audit entries (docs/audit.md): a location shown to a handler is
    ``consulted`` by them (``record``: its source), a lookup of the service ``collected`` by intake."""
    system = Who(subject="intake:locations", id=audit.node or "intake", role="system")
    places.shown_to = lambda handler_id, call_id, number, location: audit.record(
        audit.handler(handler_id), Action.CONSULTED, RecordKind.LOCATION, why=f"call {call_id}", number=number,
        record=location.source)
    places.asked = lambda call_id, number, outcome: audit.record(
        system, Action.COLLECTED, RecordKind.LOCATION, why=f"call {call_id}: location service, {outcome}",
        number=number, record=call_id)
    return places


def caller_locations(config: LocationConfig, hub: DesktopHub, clock: Callable[[], float], audit: AuditTrail) -> CallerLocations:
    """The server's: the service client made when ``service_url`` is set and ranked."""
    service = LocationService(config.service_url, config.timeout_seconds) if config.service_on else None
    return audited(CallerLocations(config, hub, clock, service=service), audit)
