"""Registry notices become pops on the right desktop, in order, and contact records in Redis."""

from __future__ import annotations

import json

import redis.asyncio as aioredis

from intake.pops import PopRouter
from intake.registry import Registry
from screenpop.delivery import DesktopHub
from screenpop.history import HistoryConfig, HistoryStore
from tests.intake.timeline import T0, Timeline

QUEUES = {"emergency": ("999", 12.0)}
H1, H2 = "PJSIP/handler-1", "PJSIP/handler-2"


def setup(history: HistoryStore) -> tuple[Registry, PopRouter, DesktopHub]:
    reg = Registry(QUEUES, handlers={H1: ("h1", "A"), H2: ("h2", "B")})
    hub = DesktopHub()
    return reg, PopRouter(history, hub, {H1: "h1", H2: "h2"}, clock=lambda: reg.now), hub


async def drain_outbox(outbox) -> list[str]:
    """What the desktop's socket would be sent, in order."""
    return [await outbox.next() for _ in range(outbox.waiting)]


async def test_ring_out_then_answer_elsewhere_gives_each_desktop_its_own_story(redis_client: aioredis.Redis):
    reg, router, hub = setup(HistoryStore(redis_client, HistoryConfig()))
    box1, box2 = hub.attach("h1", None), hub.attach("h2", None)
    await drain_outbox(box1), await drain_outbox(box2)
    t = Timeline().join(0).ring(1, H1).ring_out(16, H1, ring=15).ring(17, H2).answer(19, H2, hold=19).complete(30, H2, talk=11)
    for e in t.events:
        router.handle(reg.apply(e))
    await router.drain()
    kinds1 = [(m["type"], m.get("reason")) for m in map(json.loads, await drain_outbox(box1))]
    kinds2 = [(m["type"], m.get("reason")) for m in map(json.loads, await drain_outbox(box2))]
    assert kinds1 == [("pop", None), ("pop.closed", "rang-out")]
    assert kinds2 == [("pop", None), ("pop.answered", None), ("pop.closed", "ended")]


async def test_a_contact_record_refused_by_redis_is_kept_and_written_when_redis_is_back(redis_client: aioredis.Redis):
    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=None)
    reg, router, _ = setup(HistoryStore(down, HistoryConfig()))
    for e in Timeline(call_id="c1").join(0).abandon(5, hold=5).events + Timeline(call_id="c2").join(6).abandon(8, hold=2).events:
        router.handle(reg.apply(e))
    await router.drain()
    assert [r.call_id for r in router.unwritten] == ["c1", "c2"]
    assert await router.retry_unwritten() == 0
    router.history = HistoryStore(redis_client, HistoryConfig())
    assert await router.retry_unwritten() == 2
    history = await router.history.lookup("07700900001", T0 + 60)
    assert [r.call_id for r in history.recent] == ["c2", "c1"]
    assert [r.disposition for r in history.recent] == ["abandoned", "abandoned"]
    await down.aclose()
