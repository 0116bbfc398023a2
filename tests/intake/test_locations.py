"""The caller's location on pops: the call's own first, then the location service (asked only
when worth it, its late answer sent as pop.place to the handlers shown the pop), then history;
each location shown and each lookup audited; the call's record keeps the fresh one.

Real Redis (history) and a real HTTP location service on loopback (tests/support/location_service.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from intake.app.locations import CallerLocations
from intake.app.pops import PopRouter
from intake.core.config_location import LocationConfig
from intake.core.registry import Registry
from screenpop.delivery import DesktopHub, Outbox
from screenpop.history import HistoryConfig, HistoryStore
from screenpop.location_service import LocationService
from screenpop.places import Location
from telephony.geolocation import CallerLocation
from tests.intake.timeline import T0, Timeline
from tests.screenpop.builders import contact
from tests.support.location_service import LocationServer

QUEUES = {"emergency": ("999", 12.0)}
H1, H2 = "PJSIP/handler-1", "PJSIP/handler-2"
NUMBER = "07700900031"
INVITE = CallerLocation(51.501364, -0.14189, 35.0, 95, shape="Circle")
FIX = {"lat": 53.4808, "lon": -2.2426, "radius_m": 18, "confidence": 68, "at": T0 - 30}


@pytest.fixture
def server() -> Iterator[LocationServer]:
    with LocationServer() as s:
        yield s


class Bed:
    def __init__(self, redis: aioredis.Redis, server: LocationServer, **config: Any) -> None:
        self.store = HistoryStore(redis, HistoryConfig())
        self.registry = Registry(QUEUES, handlers={H1: ("h1", "A"), H2: ("h2", "B")})
        self.hub = DesktopHub()
        self.router = PopRouter(self.store, self.hub, {H1: "h1", H2: "h2"}, clock=lambda: self.registry.now)
        located = LocationConfig(service_url=server.url, **config)
        self.places = CallerLocations(located, self.hub, lambda: self.registry.now,
                                      service=LocationService(located.service_url, 5.0))
        self.router.places = self.places
        self.shown: list[tuple[str, str, str, str]] = []  # the audit's consultations
        self.asked: list[tuple[str, str, str]] = []  # the audit's lookups
        self.places.shown_to = lambda h, c, n, loc: self.shown.append((h, c, n, loc.source))
        self.places.asked = lambda c, n, outcome: self.asked.append((c, n, outcome))
        self.boxes = {h: self.hub.attach(h, None) for h in ("h1", "h2")}

    def feed(self, t: Timeline) -> None:
        for e in t.events:
            self.router.handle(self.registry.apply(e))

    async def received(self, handler_id: str, count: int) -> list[dict[str, Any]]:
        """The next ``count`` messages to ``handler_id``'s desktop (after its hello), waited for."""
        box: Outbox = self.boxes[handler_id]
        got = [json.loads(await asyncio.wait_for(box.next(), 10)) for _ in range(count)]
        return [m for m in got if m["type"] not in ("hello", "snapshot", "handler.state")]

    async def close(self) -> None:
        await self.router.drain()
        await self.places.close()


async def pops(bed: Bed, handler_id: str, count: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while len(messages) < count:
        messages += await bed.received(handler_id, 1)
    return messages


async def test_the_invites_own_location_is_on_the_pop_and_the_service_is_never_asked(redis_client: aioredis.Redis,
                                                                                     server: LocationServer) -> None:
    bed = Bed(redis_client, server)
    try:
        bed.feed(Timeline(number=NUMBER).join(0, location=INVITE).ring(0.5, H1))
        (pop,) = await pops(bed, "h1", 1)
        assert pop["location"] == {"lat": 51.501364, "lon": -0.14189, "source": "call", "at": T0, "radius_m": 35.0,
                                   "confidence": 95, "civic": ""}
        assert server.asked == [] and bed.asked == []
        assert bed.shown == [("h1", "1700000000.1", NUMBER, "call")]
    finally:
        await bed.close()


async def test_a_location_the_service_gives_after_the_ring_updates_the_pop_of_the_handler_it_rings(
        redis_client: aioredis.Redis, server: LocationServer) -> None:
    server.answer(NUMBER, FIX)
    server.hold(NUMBER)
    bed = Bed(redis_client, server)
    try:
        bed.feed(Timeline(number=NUMBER).join(0).ring(0.5, H1))
        (pop,) = await pops(bed, "h1", 1)
        assert "location" not in pop  # nothing known yet: the pop went without waiting
        server.release(NUMBER)
        (place,) = await pops(bed, "h1", 1)
        assert place["type"] == "pop.place" and place["call_id"] == pop["call_id"]
        assert place["location"]["source"] == "service" and place["location"]["radius_m"] == 18.0
        assert server.asked == [NUMBER] and bed.asked == [("1700000000.1", NUMBER, "found")]
        assert bed.shown == [("h1", "1700000000.1", NUMBER, "service")]
        assert bed.places.settled("1700000000.1") == Location(lat=53.4808, lon=-2.2426, source="service", at=T0 - 30,
                                                              radius_m=18.0, confidence=68)
    finally:
        await bed.close()


async def test_a_phone_that_stopped_ringing_is_not_sent_the_late_location(redis_client: aioredis.Redis,
                                                                         server: LocationServer) -> None:
    server.answer(NUMBER, FIX)
    server.hold(NUMBER)
    bed = Bed(redis_client, server)
    try:
        t = Timeline(number=NUMBER)
        bed.feed(t.join(0).ring(0.5, H1).ring_out(15.5, H1, ring=15).ring(16, H2))
        h1 = await pops(bed, "h1", 2)
        assert [m["type"] for m in h1] == ["pop", "pop.closed"]
        await pops(bed, "h2", 1)
        server.release(NUMBER)
        (place,) = await pops(bed, "h2", 1)
        assert place["type"] == "pop.place"
        assert bed.boxes["h1"].waiting == 0 and [s[0] for s in bed.shown] == ["h2"]
    finally:
        await bed.close()


async def test_without_the_calls_or_the_services_location_the_pop_shows_the_last_one_on_record(
        redis_client: aioredis.Redis, server: LocationServer) -> None:
    bed = Bed(redis_client, server)
    before = Location(lat=52.2, lon=0.12, source="call", at=T0 - 3 * 86_400, radius_m=50.0)
    await bed.store.record_contact(contact("1699990000.1", number=NUMBER, at=T0 - 3 * 86_400, location=before))
    try:
        bed.feed(Timeline(number=NUMBER).join(0).ring(0.5, H1))
        (pop,) = await pops(bed, "h1", 1)  # the service still asked or already said none: history's either way
        assert pop["location"]["source"] == "history" and pop["location"]["at"] == T0 - 3 * 86_400
        await bed.places.drain()
        assert server.asked == [NUMBER] and bed.asked == [("1700000000.1", NUMBER, "none")]
        assert bed.boxes["h1"].waiting == 0  # no pop.place: nothing better came
        assert bed.places.settled("1700000000.1") is None  # history's is not recorded again
    finally:
        await bed.close()


async def test_a_service_left_out_of_the_order_is_never_asked(redis_client: aioredis.Redis, server: LocationServer) -> None:
    server.answer(NUMBER, FIX)
    bed = Bed(redis_client, server, order=("call", "history"))
    try:
        bed.feed(Timeline(number=NUMBER).join(0).ring(0.5, H1))
        (pop,) = await pops(bed, "h1", 1)
        assert "location" not in pop and server.asked == []
    finally:
        await bed.close()
