"""A pop whose call brought the caller's location lists the incidents near it, read with the
caller's history in the one round trip a pop without a location costs."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import pytest
import redis.asyncio as aioredis

from screenpop.delivery import DesktopHub
from screenpop.history import HistoryStore
from screenpop.incidents import DAY, Incident, IncidentStore, IncidentStoreConfig
from screenpop.messages import Pop
from screenpop.places import Location, Point
from screenpop.pop import CallSnapshot
from screenpop.pop_lookup import PopLookup
from screenpop.popper import pop_ringing_call
from screenpop.roundtrips import counting_client
from tests.screenpop.builders import NUMBER, contact, marker

pytestmark = pytest.mark.redis

NOW = float(int(time.time()))  # a month's GEO set expires by Redis's own clock: now, not a fixed day
HOME = Location(lat=53.4808, lon=-2.2426, source="call", at=NOW - 5, radius_m=15, confidence=90)
CALL = CallSnapshot("1790000500.7", "999", "999-north", NUMBER, "J SMITH", NOW - 100, 3.0, location=HOME)


def north(metres: float) -> Point:
    return Point(lat=HOME.lat + metres / 111_195, lon=HOME.lon)


def incident(id: str, metres: float, age_days: float) -> Incident:
    return Incident(id=id, source="force", type="domestic", grade="emergency", status="open",
                    at=NOW - age_days * DAY, point=north(metres))


async def fill(history: HistoryStore, incidents: IncidentStore) -> None:
    await history.record_contact(contact("c1", at=NOW - 600))
    await history.add_marker(marker())
    await incidents.put([incident("door", 5, 3), incident("street", 200, 1), incident("town", 3000, 1),
                         incident("last-year", 50, 300)], NOW)


async def test_the_pop_lists_the_incidents_near_the_calls_location_with_its_history_in_one_round_trip(
        redis_url: str, redis_client: aioredis.Redis) -> None:
    db = redis_client.connection_pool.connection_kwargs["db"]
    client, trips = counting_client(redis_url, db=db)
    history = HistoryStore(client)
    places = PopLookup(history, IncidentStore(client, IncidentStoreConfig(radius_m=500, period_seconds=90 * DAY)))
    hub = DesktopHub()
    hub.attach("ana", 0)
    try:
        await fill(history, places.incidents)
        await places.lookup_near(NUMBER, HOME, NOW)  # the server has both scripts after this
        before = trips.count
        sent = await pop_ringing_call(history, hub, "ana", CALL, now=NOW, incidents=places)
        assert trips.count - before == 1
    finally:
        await client.aclose()
    assert isinstance(sent, Pop) and sent.history_status == "ok" and sent.history is not None
    assert [r.call_id for r in sent.history.recent] == ["c1"] and sent.history.markers
    assert sent.location == HOME
    assert [(i.id, i.at_address) for i in sent.incidents] == [("door", True), ("street", False)]
    wire = json.loads(sent.encode())
    assert wire["location"]["source"] == "call" and [i["id"] for i in wire["incidents"]] == ["door", "street"]


async def test_a_held_history_costs_one_round_trip_more_for_the_incidents(redis_url: str,
                                                                          redis_client: aioredis.Redis) -> None:
    db = redis_client.connection_pool.connection_kwargs["db"]
    client, trips = counting_client(redis_url, db=db)
    history = HistoryStore(client)
    places = PopLookup(history, IncidentStore(client))
    hub = DesktopHub()
    hub.attach("ana", 0)
    try:
        await fill(history, places.incidents)
        await places.lookup_near(NUMBER, HOME, NOW)  # the server has both scripts after this
        held = asyncio.ensure_future(history.lookup(NUMBER, NOW, {CALL.call_id: NOW}))
        await held
        before = trips.count
        sent = await pop_ringing_call(history, hub, "ana", CALL, now=NOW, incidents=places, held=held)
        assert trips.count - before == 1
    finally:
        await client.aclose()
    assert isinstance(sent, Pop) and sent.history is not None
    assert [i.id for i in sent.incidents] == ["door", "street"]


async def pop_from_filled(redis_client: aioredis.Redis, call: CallSnapshot) -> Pop:
    history = HistoryStore(redis_client)
    places = PopLookup(history, IncidentStore(redis_client))
    await fill(history, places.incidents)
    hub = DesktopHub()
    hub.attach("ana", 0)
    sent = await pop_ringing_call(history, hub, "ana", call, now=NOW, incidents=places)
    assert isinstance(sent, Pop)
    return sent


async def test_a_withheld_caller_with_a_location_gets_the_incidents_and_no_history(redis_client: aioredis.Redis) -> None:
    sent = await pop_from_filled(redis_client, dataclasses.replace(CALL, caller_number="anonymous"))
    assert (sent.history_status, sent.history) == ("withheld", None)
    assert [i.id for i in sent.incidents] == ["door", "street"]


async def test_a_call_without_a_location_pops_as_before(redis_client: aioredis.Redis) -> None:
    sent = await pop_from_filled(redis_client, dataclasses.replace(CALL, location=None))
    assert sent.history is not None and sent.incidents == ()
    assert "location" not in json.loads(sent.encode()) and "incidents" not in json.loads(sent.encode())


async def test_after_the_server_lost_its_scripts_one_round_trip_more_loads_both(redis_url: str,
                                                                                redis_client: aioredis.Redis) -> None:
    db = redis_client.connection_pool.connection_kwargs["db"]
    client, trips = counting_client(redis_url, db=db)
    history = HistoryStore(client)
    places = PopLookup(history, IncidentStore(client))
    try:
        await fill(history, places.incidents)
        await client.script_flush()
        before = trips.count
        found, nearby = await places.lookup_near(NUMBER, HOME, NOW, {CALL.call_id: NOW})
        assert trips.count - before == 2
    finally:
        await client.aclose()
    assert found is not None and found.calls_in_window == 2 and [i.id for i in nearby] == ["door", "street"]
