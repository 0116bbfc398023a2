"""Registry notices become pops on the right desktop, in order, and contact records in Redis."""

from __future__ import annotations

import asyncio
import json

import redis.asyncio as aioredis

from intake.app.pops import PopRouter
from intake.core.registry import Registry
from screenpop.delivery import DesktopHub
from screenpop.history import HistoryConfig, HistoryStore
from telephony.events import ChannelCreated
from tests.intake.timeline import T0, Timeline
from tests.screenpop.builders import NUMBER, marker

QUEUES = {"emergency": ("999", 12.0)}
H1, H2 = "PJSIP/handler-1", "PJSIP/handler-2"


def setup(history: HistoryStore, hold_seconds: float = 0.0) -> tuple[Registry, PopRouter, DesktopHub]:
    reg = Registry(QUEUES, handlers={H1: ("h1", "A"), H2: ("h2", "B")})
    hub = DesktopHub()
    return reg, PopRouter(history, hub, {H1: "h1", H2: "h2"}, clock=lambda: reg.now, hold_seconds=hold_seconds), hub


def arrive_and_ring(reg: Registry, router: PopRouter, t: Timeline) -> None:
    """Feed the events as the server does: a new channel to the router, the rest through the registry."""
    for e in t.events:
        if isinstance(e, ChannelCreated):
            router.arriving(e)
        router.handle(reg.apply(e))


async def held_lookups_done(router: PopRouter) -> None:
    while any(not h.lookup.done() for h in router.held._held.values()):
        await asyncio.sleep(0.001)


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


async def test_a_history_looked_up_on_arrival_pops_in_the_same_pass_as_the_ring(redis_client: aioredis.Redis):
    store = HistoryStore(redis_client, HistoryConfig())
    await store.add_marker(marker(kind="firearms at address", detail="shotgun licence holder"))
    reg, router, hub = setup(store, hold_seconds=3.0)
    box = hub.attach("h1", None)
    await drain_outbox(box)
    arrive_and_ring(reg, router, Timeline(number=NUMBER).arrive(0))
    await held_lookups_done(router)
    arrive_and_ring(reg, router, Timeline(number=NUMBER).join(0.5).ring(0.5, H1))
    # No await between the ring and this: the pop is already queued for the desktop's socket.
    (pop,) = map(json.loads, await drain_outbox(box))
    assert pop["type"] == "pop" and pop["history_status"] == "ok"
    assert [m["kind"] for m in pop["history"]["markers"]] == ["firearms at address"]
    assert pop["target_seconds"] == QUEUES["emergency"][1]  # the wait clock is coloured against the line's target
    assert router.held.counters.taken_ready == 1


async def test_a_marker_filed_after_the_arrival_is_on_the_pop(redis_client: aioredis.Redis):
    store = HistoryStore(redis_client, HistoryConfig())
    reg, router, hub = setup(store, hold_seconds=3.0)
    box = hub.attach("h1", None)
    await drain_outbox(box)
    arrive_and_ring(reg, router, Timeline(number=NUMBER).arrive(0))
    await held_lookups_done(router)
    await store.add_marker(marker(kind="violence towards police", detail="assaulted officers 2024"))
    arrive_and_ring(reg, router, Timeline(number=NUMBER).join(0.5).ring(0.5, H1))
    await router.drain()
    (pop,) = map(json.loads, await drain_outbox(box))
    assert [m["detail"] for m in pop["history"]["markers"]] == ["assaulted officers 2024"]
    assert router.held.counters.looked_again == 1 and router.held.counters.missed == 0


async def test_a_ringing_call_that_leaves_the_queue_or_vanishes_closes_its_pop_saying_so(redis_client: aioredis.Redis):
    # Found by tests/fuzz: the registry says "left" and "vanished", the pop.closed message knew
    # neither: composing it raised, the pop stayed on the desktop, and the notices after it in
    # the same batch (the call's Finished: its journal record) were never handled.
    from telephony import events as ev

    reg, router, hub = setup(HistoryStore(redis_client, HistoryConfig()))
    box1, box2 = hub.attach("h1", None), hub.attach("h2", None)
    await drain_outbox(box1), await drain_outbox(box2)
    for e in Timeline(call_id="a").join(0).ring(1, H1).leave(5).events:
        router.handle(reg.apply(e))
    router.handle(reg.tick(T0 + 10))  # no AgentConnect within the grace: it left unanswered
    for e in Timeline(call_id="b").join(20).ring(21, H2).events:
        router.handle(reg.apply(e))
    for e in (ev.PbxLinkDown(T0 + 22, "lost"), ev.SnapshotStarted(T0 + 25), ev.SnapshotCompleted(T0 + 25)):
        router.handle(reg.apply(e))  # gone from the PBX's picture
    await router.drain()
    closed1 = [m for m in map(json.loads, await drain_outbox(box1)) if m["type"] == "pop.closed"]
    closed2 = [m for m in map(json.loads, await drain_outbox(box2)) if m["type"] == "pop.closed"]
    assert [(m["call_id"], m["reason"]) for m in closed1 + closed2] == [("a", "left"), ("b", "vanished")]
