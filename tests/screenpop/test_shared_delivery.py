"""Desktops across nodes: two hubs on one real Redis, as two intake nodes following one PBX.

Each hub stands for a node: the same pop published by both is one message with one seq; a
desktop that leaves one node resumes on the other from its last seq; what one node appends
reaches a desktop held by the other; and with Redis away, pops still reach the desktop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from screenpop.delivery import Outbox
from screenpop.handler_streams import HandlerStreams
from screenpop.messages import CallbackOffer, PopPlace
from screenpop.places import Location
from screenpop.pop import CallSnapshot, compose_answered, compose_closed, compose_pop
from screenpop.shared_delivery import SharedDesktopHub, hub_for
from tests.screenpop.redis_link import redis_link
from tests.waiting import eventually

pytestmark = pytest.mark.redis


def _pop(call_id: str) -> Any:
    return compose_pop(CallSnapshot(call_id, "999", "999-north", "+447700900123", "J SMITH", 1.0, 2.0), None)


def _card(task_id: str, status: str = "open") -> CallbackOffer:
    return CallbackOffer(call_id=f"callback:{task_id}", task_id=task_id, number="+447700900123", abandoned_at=1.0,
                         waited_seconds=20.0, queue="999-north", history=("1 abandoned",), status=status)  # type: ignore[arg-type]


def _ring(*hubs: SharedDesktopHub, call_id: str, handler_id: str = "ana") -> None:
    for hub in hubs:  # every node follows the PBX: each publishes the same pop
        hub.publish(handler_id, _pop(call_id), active=True)


def _close(*hubs: SharedDesktopHub, call_id: str, handler_id: str = "ana") -> None:
    for hub in hubs:
        hub.publish(handler_id, compose_closed(call_id, "answered-elsewhere", at=3.0), active=False)


async def _next(outbox: Outbox) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(outbox.next(), 5))


async def _messages(outbox: Outbox, count: int) -> list[tuple[int, str, str]]:
    got = [await _next(outbox) for _ in range(count)]
    return [(m.get("seq", -1), m["type"], m.get("call_id", "")) for m in got]


@contextlib.asynccontextmanager
async def _node(redis_url: str, db: int, **options: Any) -> AsyncIterator[SharedDesktopHub]:
    """A node: its own Redis client, its hub, and the hub's tail running."""
    client = aioredis.Redis.from_url(redis_url, db=db)
    hub = SharedDesktopHub(HandlerStreams(client, "t:"), **options)
    tail = asyncio.create_task(hub.follow())
    try:
        yield hub
    finally:
        tail.cancel()
        await asyncio.gather(tail, return_exceptions=True)
        hub.close()
        await client.aclose()


async def _drained(*hubs: SharedDesktopHub) -> None:
    for hub in hubs:
        await hub.drain()


def _db(client: aioredis.Redis) -> int:
    return int(client.connection_pool.connection_kwargs["db"])


async def test_the_same_pop_from_two_nodes_is_one_message_with_one_seq(redis_url: str, redis_client: aioredis.Redis) -> None:
    async with _node(redis_url, _db(redis_client)) as a, _node(redis_url, _db(redis_client)) as b:
        on_a, on_b = await a.open("ana", None), await b.open("ana", None)
        assert [m["type"] for m in (await _next(on_a), await _next(on_b))] == ["snapshot", "snapshot"]
        _ring(a, b, call_id="c1")
        b.publish("ana", compose_answered("c1", answered_at=4.0, handler_id="ana"), active=True)
        a.publish("ana", compose_answered("c1", answered_at=4.0, handler_id="ana"), active=True)
        _close(b, a, call_id="c1")
        for outbox in (on_a, on_b):
            assert await _messages(outbox, 3) == [(1, "pop", "c1"), (2, "pop.answered", "c1"), (3, "pop.closed", "c1")]
        await _drained(a, b)
        assert await redis_client.xlen("t:desktop:ana:stream") == 3
        assert on_a.waiting == on_b.waiting == 0
        assert a.counters.sequenced + b.counters.sequenced == 3
        assert a.counters.already_there + b.counters.already_there == 3


async def test_the_next_ring_of_a_call_is_a_new_pop_and_a_late_copy_of_the_last_is_not(
        redis_url: str, redis_client: aioredis.Redis) -> None:
    def ring(hub: SharedDesktopHub, waited: float) -> None:
        hub.publish("ana", compose_pop(CallSnapshot("c1", "999", "999-north", "+447700900123", "J SMITH", 1.0, waited), None),
                    active=True)

    async with _node(redis_url, _db(redis_client)) as a, _node(redis_url, _db(redis_client)) as b:
        desk = await a.open("ana", 0)
        ring(a, 2.0)
        a.publish("ana", compose_closed("c1", "rang-out", at=17.0), active=False)
        ring(b, 2.2)  # node B lags: its copy of the first ring comes after the ring ended
        b.publish("ana", compose_closed("c1", "rang-out", at=17.0), active=False)
        await _drained(a, b)
        ring(a, 18.0)  # app_queue rings her again for the same call
        ring(b, 18.1)
        assert await _messages(desk, 3) == [(1, "pop", "c1"), (2, "pop.closed", "c1"), (3, "pop", "c1")]
        await _drained(a, b)
        assert await redis_client.xlen("t:desktop:ana:stream") == 3


async def test_a_call_back_card_is_sent_again_when_it_changes_and_once_when_it_does_not(
        redis_url: str, redis_client: aioredis.Redis) -> None:
    async with _node(redis_url, _db(redis_client)) as a, _node(redis_url, _db(redis_client)) as b:
        desk = await a.open("ana", 0)
        for hub in (a, b, a):
            hub.publish("ana", _card("t1"), active=True)
        b.publish("ana", _card("t1", "calling"), active=True)
        assert await _messages(desk, 2) == [(1, "callback", "callback:t1"), (2, "callback", "callback:t1")]
        await _drained(a, b)
        assert await redis_client.xlen("t:desktop:ana:stream") == 2


async def test_a_desktop_resumes_on_the_other_node_with_what_it_missed_then_live_messages(
        redis_url: str, redis_client: aioredis.Redis) -> None:
    async with _node(redis_url, _db(redis_client)) as b:
        async with _node(redis_url, _db(redis_client)) as a:
            desk = await a.open("ana", 0)
            _ring(a, b, call_id="shown-then-closed")
            _ring(a, b, call_id="shown-still-ringing")
            assert await _messages(desk, 2) == [(1, "pop", "shown-then-closed"), (2, "pop", "shown-still-ringing")]
            a.detach(desk)
        # node A is gone; B goes on following the PBX
        _ring(b, call_id="came-and-went")
        _close(b, call_id="came-and-went")
        _close(b, call_id="shown-then-closed")
        _ring(b, call_id="new")
        await _drained(b)
        desk = await b.open("ana", 2, shows_state=False)
        assert await _messages(desk, 3) == [(4, "pop.closed", "came-and-went"), (5, "pop.closed", "shown-then-closed"),
                                            (6, "pop", "new")]
        _close(b, call_id="new")
        assert await _messages(desk, 1) == [(7, "pop.closed", "new")]


async def test_a_desktop_too_far_behind_gets_a_snapshot_of_the_screen(redis_url: str, redis_client: aioredis.Redis) -> None:
    async with _node(redis_url, _db(redis_client)) as a, _node(redis_url, _db(redis_client)) as b:
        for i in range(5):
            _ring(a, call_id=f"c{i}")
        _close(a, call_id="c1")
        await _drained(a)
        for last_seq in (None, 99):
            (snapshot,) = [await _next(await b.open("ana", last_seq))]
            assert (snapshot["type"], snapshot["seq"]) == ("snapshot", 6)
            assert [(p["seq"], p["call_id"]) for p in snapshot["pops"]] == [(1, "c0"), (3, "c2"), (4, "c3"), (5, "c4")]


async def test_what_another_node_appends_reaches_a_desktop_held_here(redis_url: str, redis_client: aioredis.Redis) -> None:
    async with _node(redis_url, _db(redis_client)) as here, _node(redis_url, _db(redis_client)) as leader:
        desk = await here.open("ana", 0)
        await eventually(lambda: leader.present("ana"), 10, every=0.01)  # the leader offers call-backs to handlers with a desktop anywhere
        assert not leader.present("bo") and leader.sockets("ana") == 0
        leader.publish("ana", _card("t7"), active=True)
        assert await _messages(desk, 1) == [(1, "callback", "callback:t7")]
        _ring(here, call_id="c1")
        leader.publish("ana", compose_closed("callback:t7", "callback-withdrawn", at=5.0), active=False)
        assert await _messages(desk, 2) == [(2, "pop", "c1"), (3, "pop.closed", "callback:t7")]
        assert here.counters.from_stream >= 2


async def test_with_redis_gone_pops_still_reach_the_desktop_without_a_seq(redis_url: str, redis_client: aioredis.Redis) -> None:
    async with redis_link(redis_url) as link, _node(f"redis://127.0.0.1:{link.port}", _db(redis_client)) as hub:
        desk = await hub.open("ana", 0)
        _ring(hub, call_id="c1")
        assert await _messages(desk, 1) == [(1, "pop", "c1")]
        await link.cut()
        _ring(hub, call_id="c2")
        _close(hub, call_id="c2")
        assert await _messages(desk, 2) == [(0, "pop", "c2"), (0, "pop.closed", "c2")]
        assert hub.counters.unsequenced == 2
        await link.mend()
        _ring(hub, call_id="c3")  # until Redis has answered again, sent at once, and appended
        assert await _messages(desk, 1) == [(0, "pop", "c3")]
        await eventually(lambda: hub.counters.sequenced == 2, 10, every=0.01)
        _ring(hub, call_id="c4")  # Redis answers: with its seq again (c2's appends failed: not replayable)
        assert await _messages(desk, 1) == [(3, "pop", "c4")]


async def test_with_redis_not_answering_a_pop_goes_out_within_the_budget_and_once(redis_url: str,
                                                                                    redis_client: aioredis.Redis) -> None:
    async with redis_link(redis_url) as link, _node(f"redis://127.0.0.1:{link.port}", _db(redis_client),
                                                    budget_seconds=0.05) as hub:
        desk = await hub.open("ana", 0)
        link.hang()
        _ring(hub, call_id="c1")
        assert await _messages(desk, 1) == [(0, "pop", "c1")]
        await link.mend()
        await eventually(lambda: hub.counters.sequenced == 1, 10, every=0.01)  # the held reply came: c1 has seq 1 in the stream
        _close(hub, call_id="c1")
        assert await _messages(desk, 1) == [(2, "pop.closed", "c1")]  # and c1's pop was not sent again
        stream = await redis_client.xrange("t:desktop:ana:stream")
        assert [(i, e[b"k"], e[b"c"]) for i, e in stream] == [(b"1-0", b"pop", b"c1"), (b"2-0", b"close", b"c1")]


async def test_a_handlers_stream_keeps_the_configured_number_of_messages(redis_url: str, redis_client: aioredis.Redis) -> None:
    client = aioredis.Redis.from_url(redis_url, db=_db(redis_client))
    hub = hub_for(client, "t:", stream_length=64, budget_seconds=1.0, presence_seconds=1.0)  # [desktop_streams]
    assert isinstance(hub, SharedDesktopHub)
    try:
        desk = await hub.open("ana", None)
        assert (await _next(desk))["type"] == "snapshot"
        for n in range(70):  # read as they come, as a desktop does (its outbox holds 64)
            _ring(hub, call_id=f"c{n}")
            assert await _messages(desk, 1) == [(n + 1, "pop", f"c{n}")]  # each with its seq
        stream = await redis_client.xrange("t:desktop:ana:stream")
        assert len(stream) == 64 and stream[0][0] == b"7-0"  # the oldest six gone: a desktop that missed them gets a snapshot
    finally:
        hub.close()
        await client.aclose()


async def test_a_late_location_is_added_to_its_pop_once_and_never_to_a_call_not_on_the_screen(
        redis_url: str, redis_client: aioredis.Redis) -> None:
    where = Location(lat=53.4808, lon=-2.2426, source="service", at=1.5, radius_m=18.0)
    async with _node(redis_url, _db(redis_client)) as a, _node(redis_url, _db(redis_client)) as b:
        desk = await a.open("ana", 0)
        _ring(a, b, call_id="c1")
        for hub in (a, b):  # both nodes' location lookups answer: one pop.place
            hub.publish("ana", PopPlace(call_id="c1", location=where), active=True)
            hub.publish("ana", PopPlace(call_id="gone", location=where), active=True)  # never shown here
        assert await _messages(desk, 2) == [(1, "pop", "c1"), (2, "pop.place", "c1")]
        await _drained(a, b)
        (snapshot,) = [await _next(await b.open("ana", None))]
        assert [(p["type"], p["call_id"]) for p in snapshot["pops"]] == [("pop", "c1"), ("pop.place", "c1")]
        assert await redis_client.xlen("t:desktop:ana:stream") == 2
