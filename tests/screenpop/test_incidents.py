"""The incident store on a real Redis: what a pop lists near a caller, in what order, and for how long."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis

from screenpop.incidents import (
    DAY,
    Incident,
    IncidentStore,
    IncidentStoreConfig,
    month_end,
    month_of,
    months_between,
)
from screenpop.places import IncidentSource, Location, Point
from screenpop.roundtrips import counting_client

pytestmark = pytest.mark.redis

NOW = float(int(time.time()))  # a month's GEO set expires by Redis's own clock: now, not a fixed day
HOME = Point(lat=53.4808, lon=-2.2426)  # the caller's location in these tests
METRE_LAT = 1 / 111_195  # degrees of latitude in a metre, near enough for these distances


def north(metres: float) -> Point:
    return Point(lat=HOME.lat + metres * METRE_LAT, lon=HOME.lon)


def incident(id: str, metres: float, *, age_days: float = 1.0, source: IncidentSource = "force",
             type: str = "burglary", status: str = "open") -> Incident:
    return Incident(id=id, source=source, type=type, grade="emergency" if source == "force" else "",
                    status=status, at=NOW - age_days * DAY, point=north(metres))


@pytest.fixture
def store(redis_client: aioredis.Redis) -> IncidentStore:
    return IncidentStore(redis_client, IncidentStoreConfig(radius_m=500, period_seconds=30 * DAY, address_m=25))


async def test_a_pop_lists_those_within_the_radius_and_period_at_the_address_first_then_nearest(store: IncidentStore) -> None:
    await store.put([incident("far", 600), incident("old", 50, age_days=31), incident("near", 120),
                     incident("nearer", 60, age_days=3), incident("door", 10, age_days=20),
                     incident("door-newer", 20, age_days=2)], NOW)
    found = await store.near(HOME, NOW)
    assert [i.id for i in found] == ["door", "door-newer", "nearer", "near"]
    assert [i.at_address for i in found] == [True, True, False, False]
    assert [round(i.distance_m) for i in found] == [10, 20, 60, 120]


async def test_at_one_distance_the_newest_comes_first(store: IncidentStore) -> None:
    await store.put([incident("older", 100, age_days=9), incident("newer", 100, age_days=1)], NOW)
    assert [i.id for i in await store.near(HOME, NOW)] == ["newer", "older"]


async def test_an_incident_sent_again_is_replaced_not_doubled(store: IncidentStore) -> None:
    await store.put([incident("cad-1", 100)], NOW)
    await store.put([incident("cad-1", 100, status="closed")], NOW)
    assert [(i.id, i.status) for i in await store.near(HOME, NOW)] == [("cad-1", "closed")]


async def test_ids_are_kept_apart_per_source(store: IncidentStore) -> None:
    await store.put([incident("1", 100), incident("1", 200, source="police.uk", type="Burglary")], NOW)
    assert [(i.source, i.id) for i in await store.near(HOME, NOW)] == [("force", "1"), ("police.uk", "1")]


async def test_a_write_removes_what_is_past_retention_and_the_keys_expire(redis_client: aioredis.Redis) -> None:
    store = IncidentStore(redis_client, IncidentStoreConfig(period_seconds=30 * DAY, retention_seconds=60 * DAY))
    await store.put([incident("kept", 10, age_days=59), incident("gone", 10, age_days=61)], NOW)
    at, record = store.keys
    assert await redis_client.zrange(at, 0, -1) == [b"force:kept"]
    assert await redis_client.hkeys(record) == [b"force:kept"]
    assert 59 * DAY < await redis_client.ttl(record) <= 60 * DAY
    kept_month = store.geo_key(month_of(NOW - 59 * DAY))
    assert await redis_client.expiretime(kept_month) == int(month_end(month_of(NOW - 59 * DAY)) + 60 * DAY) + 1
    # a day later, with nothing new, the sweep removes it as it passes retention
    assert await store.prune(NOW + 2 * DAY) == 1
    assert await redis_client.exists(*store.keys) == 0


async def test_an_incident_whose_time_moves_to_another_month_is_found_only_there(store: IncidentStore,
                                                                                 redis_client: aioredis.Redis) -> None:
    await store.put([incident("cad-1", 100, age_days=1)], NOW)
    await store.put([incident("cad-1", 100, age_days=45)], NOW)  # corrected: it happened 45 days ago
    assert await store.near(HOME, NOW) == ()  # outside the 30 days
    assert await redis_client.zcard(store.geo_key(month_of(NOW - DAY))) == 0
    await store.put([incident("cad-1", 100, age_days=2)], NOW)
    assert [i.id for i in await store.near(HOME, NOW)] == ["cad-1"]


def test_the_months_of_a_period_run_across_a_year_end() -> None:
    start = datetime(2025, 11, 15, tzinfo=UTC).timestamp()
    assert months_between(start, datetime(2026, 2, 1, tzinfo=UTC).timestamp()) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert month_end("2025-12") == datetime(2026, 1, 1, tzinfo=UTC).timestamp()


async def test_the_nearest_within_the_limit_are_shown(redis_client: aioredis.Redis) -> None:
    store = IncidentStore(redis_client, IncidentStoreConfig(limit=3))
    await store.put([incident(f"i{m}", m) for m in (300, 50, 400, 100, 200)], NOW)
    assert [i.id for i in await store.near(HOME, NOW)] == ["i50", "i100", "i200"]


async def test_nothing_near_is_an_empty_list_and_a_point_the_index_cannot_hold_too(store: IncidentStore) -> None:
    assert await store.near(HOME, NOW) == ()
    await store.put([incident("a", 10)], NOW)
    assert await store.near(Point(lat=89.0, lon=0.0), NOW) == ()


async def test_a_lookup_is_one_round_trip_even_after_the_server_lost_its_scripts(redis_url: str,
                                                                                 redis_client: aioredis.Redis) -> None:
    db = redis_client.connection_pool.connection_kwargs["db"]
    client, trips = counting_client(redis_url, db=db)
    store = IncidentStore(client)
    try:
        await store.put([incident("a", 10)], NOW)
        location = Location(lat=HOME.lat, lon=HOME.lon, source="call", at=NOW, radius_m=8)
        before = trips.count
        assert [i.id for i in await store.near(location, NOW)] == ["a"]
        assert trips.count - before == 1
        await client.script_flush()
        before = trips.count
        assert [i.id for i in await store.near(location, NOW)] == ["a"]
        assert trips.count - before == 2  # the EVAL that loads the script again
    finally:
        await client.aclose()
