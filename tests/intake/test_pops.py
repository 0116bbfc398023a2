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
