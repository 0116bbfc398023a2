"""Redis reports every write to a caller's history, whoever made it, to the held histories; a
lost report connection stops holding until it is back. Against a real Redis: tracking is its."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from intake.app.pops import PopRouter
from intake.app.server import history_watch_of
from intake.core.registry import Registry
from screenpop.delivery import DesktopHub
from screenpop.history import HistoryConfig, HistoryStore
from screenpop.history_watch import HistoryWatch, number_in
from telephony.events import ChannelCreated
from tests.intake.timeline import Timeline
from tests.screenpop.builders import NUMBER, marker
from tests.waiting import eventually

H1 = "PJSIP/handler-1"


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    await eventually(condition, seconds, every=0.005)


def another_writer(redis_client: aioredis.Redis, store: HistoryStore) -> HistoryStore:
    """A store on a connection pool of its own, as the history import or another node has."""
    kw = redis_client.connection_pool.connection_kwargs
    client = aioredis.Redis(host=kw["host"], port=kw["port"], db=kw.get("db", 0))
    return HistoryStore(client, HistoryConfig(prefix=store.watched_prefixes()[0].removesuffix("contacts:")))


class Seen:
    def __init__(self) -> None:
        self.numbers: list[str] = []
        self.flushes = 0
        self.states: list[bool] = []


@pytest.fixture
async def watched(redis_client: aioredis.Redis) -> AsyncIterator[tuple[HistoryStore, HistoryWatch, Seen]]:
    store = HistoryStore(redis_client, HistoryConfig(prefix=f"t{uuid.uuid4().hex[:8]}:"))
    seen = Seen()
    watch = HistoryWatch(redis_client.connection_pool.connection_kwargs, store.watched_prefixes(), changed=seen.numbers.append,
                         everything=lambda: setattr(seen, "flushes", seen.flushes + 1), watching=seen.states.append)
    task = asyncio.create_task(watch.run())
    await until(lambda: watch.live)
    yield store, watch, seen
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_the_number_is_read_from_a_history_keys_hash_tag() -> None:
    assert number_in(b"intake:markers:{+447700900123}") == "+447700900123"
    assert number_in("intake:callbacks:open") is None


async def test_a_write_by_another_client_names_the_number(watched, redis_client: aioredis.Redis) -> None:
    store, _, seen = watched
    other = another_writer(redis_client, store)
    await other.add_marker(marker(number="+447700900555"))
    await other._redis.aclose()
    await until(lambda: "+447700900555" in seen.numbers)
    await redis_client.set("unrelated:key", "1")  # outside the history prefixes: not reported
    await redis_client.flushdb()
    await until(lambda: seen.flushes >= 1)
    assert all(n == "+447700900555" for n in seen.numbers)


async def test_a_lost_connection_stops_holding_until_it_is_back(watched, redis_client: aioredis.Redis) -> None:
    _, watch, seen = watched
    clients = await redis_client.client_list(_type="pubsub")
    for c in clients:
        if "__redis__:invalidate" in str(c) or int(c.get("sub", 0)) > 0:
            await redis_client.client_kill_filter(_id=c["id"])
    await until(lambda: watch.connections >= 2 and watch.live)
    assert seen.states[:3] == [True, False, True]


async def test_a_marker_filed_elsewhere_after_the_arrival_is_on_the_pop(redis_client: aioredis.Redis) -> None:
    store = HistoryStore(redis_client, HistoryConfig(prefix=f"t{uuid.uuid4().hex[:8]}:"))
    reg = Registry({"emergency": ("999", 12.0)}, handlers={H1: ("h1", "A")})
    hub = DesktopHub()
    router = PopRouter(store, hub, {H1: "h1"}, clock=lambda: reg.now, hold_seconds=60)
    watch = history_watch_of(redis_client, store, router.held)
    assert watch is not None and not router.held.enabled  # nothing is held before the watch stands
    task = asyncio.create_task(watch.run())
    try:
        await until(lambda: router.held.enabled)
        box = hub.attach("h1", None)
        for _ in range(box.waiting):
            await box.next()
        arrival = Timeline(number=NUMBER).arrive(0).events[0]
        assert isinstance(arrival, ChannelCreated)
        router.arriving(arrival)
        await until(lambda: all(h.lookup.done() for h in router.held._held.values()))
        # The history import (another process, another connection) files a marker meanwhile.
        importer = another_writer(redis_client, store)
        await importer.add_marker(marker(kind="firearms at address", detail="shotgun licence holder"))
        await importer._redis.aclose()
        await until(lambda: router.held.counters.looked_again == 1)  # Redis told us: read again
        for e in Timeline(number=NUMBER).join(0.5).ring(0.5, H1).events:
            router.handle(reg.apply(e))
        await router.drain()
        (pop,) = [json.loads(await box.next()) for _ in range(box.waiting)]
        assert [m["detail"] for m in pop["history"]["markers"]] == ["shotgun licence holder"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
