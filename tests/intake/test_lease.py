"""A site's lease and its fenced writes against the real Redis: two nodes asking for one lease,
its expiry, its release, and a deposed leader's late writes refused (and dead-lettered, when
they went behind the event path)."""

from __future__ import annotations

import json
import time
from functools import partial

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from intake.app.lease import SiteLease
from intake.app.write_behind import WriteBehind
from intake.core.leadership import Effect, Leadership, Reconciled, Role
from routing.callbacks import CallbackStore, CallbackTask
from routing.errors import Fenced
from routing.fenced import Fence
from tests.waiting import eventually

PREFIX = "t:"
LONG = 30.0  # a lease that cannot expire during the test, however busy the machine


def node(redis: aioredis.Redis, name: str, lease_seconds: float = LONG) -> tuple[SiteLease, Leadership, list[Effect]]:
    leadership = Leadership(name, time.monotonic)
    effects: list[Effect] = []
    lease = SiteLease(redis, leadership, "a", prefix=PREFIX, lease_seconds=lease_seconds,
                      on_effects=lambda site, done: effects.extend(done))
    return lease, leadership, effects


async def test_one_lease_per_site_and_the_other_node_knows_who_holds_it(redis_client: aioredis.Redis) -> None:
    a, us, a_effects = node(redis_client, "node-a")
    b, them, b_effects = node(redis_client, "node-b")
    await a.once()
    await b.once()
    assert us.lease("a").role is Role.TAKING_OVER and a_effects == [Effect.RECONCILE]
    assert them.lease("a").role is Role.FOLLOWER and b_effects == []
    assert them.view("a")["leader"] == "node-a"
    assert await redis_client.get("t:site:a:leader") == f"node-a|{us.lease('a').token}".encode()
    await a.once()  # renewed, still the same token
    assert us.lease("a").token == 1 and us.lease("a").holds(time.monotonic())


async def test_when_the_leader_stops_renewing_the_other_takes_over_only_after_it_stepped_down(
        redis_client: aioredis.Redis) -> None:
    a, us, _ = node(redis_client, "node-a", lease_seconds=0.3)
    b, them, b_effects = node(redis_client, "node-b", lease_seconds=0.3)
    await a.once()
    old = us.lease("a").token
    assert old is not None
    # node-a's process stalls (no renewals); node-b keeps asking.
    await eventually(lambda: _granted(b, them), what="node-b granted the lease")
    # Redis let the key expire no earlier than node-a's own clock gave it up: never both at once.
    assert not us.gate("a").holds() and not us.gate("a").acts()
    assert them.lease("a").token == old + 1 and b_effects == [Effect.RECONCILE]
    await a.once()  # node-a wakes: its renewal is refused, it is a follower
    assert us.lease("a").role is Role.FOLLOWER and us.view("a")["leader"] == "node-b"


async def _granted(lease: SiteLease, leadership: Leadership) -> bool:
    await lease.once()
    return leadership.lease("a").holds(time.monotonic())


async def test_a_released_lease_goes_to_the_other_node_at_once(redis_client: aioredis.Redis) -> None:
    a, us, a_effects = node(redis_client, "node-a")
    b, them, _ = node(redis_client, "node-b")
    await a.once()
    assert us.feed("a", Reconciled(us.lease("a").token or 0)) == (Effect.ACT,)
    await a.stop()
    assert a_effects == [Effect.RECONCILE, Effect.STOP_ACTING, Effect.RELEASE]
    assert await redis_client.get("t:site:a:leader") is None
    await b.once()
    assert them.lease("a").token == 2
    await a.once()  # a stopped node asks for nothing more
    assert us.lease("a").role is Role.STOPPED and await redis_client.get("t:site:a:leader") == b"node-b|2"


async def test_a_restarted_node_takes_its_own_lease_back_at_once_with_a_newer_token(
        redis_client: aioredis.Redis) -> None:
    before, old, _ = node(redis_client, "node-a")
    await before.once()
    after, new, _ = node(redis_client, "node-a")  # kill -9 and start again, within the lease
    await after.once()
    assert (old.lease("a").token, new.lease("a").token) == (1, 2)
    with pytest.raises(Fenced):  # the process before the restart is fenced off
        await Fence(redis_client, PREFIX, "a").check(1)


async def test_a_deposed_leaders_late_write_is_refused_and_not_applied(redis_client: aioredis.Redis) -> None:
    a, us, _ = node(redis_client, "node-a")
    b, them, _ = node(redis_client, "node-b")
    await a.once()
    deposed = us.lease("a").token
    assert deposed is not None
    await redis_client.delete("t:site:a:leader")  # as if it expired while node-a was stalled
    await b.once()
    current = them.lease("a").token
    assert current == deposed + 1
    fence = Fence(redis_client, PREFIX, "a")
    async with redis_client.pipeline(transaction=False) as pipe:
        fence.stage(pipe, deposed, "zadd", "t:timers", 10.0, "late wrap-up")
        fence.stage(pipe, deposed, "hset", "t:callbacks", "c1", "late offer")
        fence.stage(pipe, current, "zadd", "t:timers", 20.0, "leader's wrap-up")
        results = await pipe.execute(raise_on_error=False)
    assert isinstance(results[0], ResponseError) and isinstance(results[1], ResponseError)
    refused = fence.refusal(results[0])
    assert refused is not None and (refused.token, refused.current) == (deposed, current)
    assert await redis_client.zrange("t:timers", 0, -1) == [b"leader's wrap-up"]
    assert await redis_client.hgetall("t:callbacks") == {}
    with pytest.raises(Fenced):
        await fence.check(deposed)
    await fence.check(current)


async def test_a_deposed_leaders_call_back_save_is_refused_dead_lettered_and_the_new_leaders_kept(
        redis_client: aioredis.Redis) -> None:
    await redis_client.set("t:site:a:epoch", 5)  # the site's lease was granted again since token 4
    fence = Fence(redis_client, PREFIX, "a")
    store = CallbackStore(redis_client, PREFIX, fence)
    writes = WriteBehind(redis_client, dead_letters="t:dead-letters")
    current = CallbackTask(id="1700000000.9", number="07700900009", queue="emergency", abandoned_at=1.0,
                           waited_seconds=3.0, offered_to="h2")
    late = current.model_copy(update={"offered_to": "h1"})
    writes.submit("callback", partial(store.stage, current, token=5), record=current)
    writes.submit("callback", partial(store.stage, late, token=4), record=late)  # the deposed leader's offer, late
    await writes.flush()
    [kept] = await store.load_open()
    assert kept.offered_to == "h2"
    [letter] = [json.loads(raw) for raw in await redis_client.lrange("t:dead-letters", 0, -1)]
    assert letter["call_id"] == "1700000000.9" and "FENCED 4 5" in letter["reason"]
    await writes.close(1)
