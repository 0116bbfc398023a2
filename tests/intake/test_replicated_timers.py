"""Durable wrap-up timers are written like the records when replicas must hold them: a put or a
remove returns only once the replica holds it (WAIT), against a real primary, replica and three
Sentinels (tests/support/redis_ha.py). A timer the primary alone holds would be lost with it, and
with the leader killed too the handler would stay paused "wrap-up" for good."""

from __future__ import annotations

import time

import pytest

from intake.app.connections import close_redis, redis_of, replicated_client
from routing.errors import Fenced, TimerNotReplicated
from routing.fenced import Fence, epoch_key
from routing.timers import Timer, TimerStore
from tests.support.redis_ha import RedisHA

PREFIX = "t:"


def wrapup(handler_id: str = "h1") -> Timer:
    now = time.time()
    return Timer(handler_id=handler_id, member="PJSIP/handler-1", queues=("emergency",), reason="wrap-up",
                 started=now, due=now + 30)


async def test_a_wrapup_timer_is_kept_only_once_the_replica_holds_it_and_its_removal_too(redis_ha: RedisHA) -> None:
    redis = redis_of(redis_ha.config())
    own = replicated_client(redis, 1, 0.2)
    assert own is not None
    store = TimerStore(redis, PREFIX, Fence(redis, PREFIX, "a"), replicated=own)
    timer, key = wrapup(), f"{PREFIX}timers"
    primary, replica = redis_ha.primary.client(), redis_ha.replica.client()
    try:
        with redis_ha.replica_paused():
            # The primary takes it, the replica does not say it holds it: not kept, and the desk is told.
            with pytest.raises(TimerNotReplicated) as refused:
                await store.put(timer, token=1)
            assert (refused.value.what, refused.value.handler_id, refused.value.replicas) == ("put", "h1", 1)
            assert primary.zrange(key, 0, -1) == [timer.model_dump_json().encode()]
        # The replica back: a put returns once it holds the timer, a remove once it has removed it.
        other = wrapup("h2")
        await store.put(other, token=1)
        assert sorted(replica.zrange(key, 0, -1)) == sorted(t.model_dump_json().encode() for t in (timer, other))
        await store.remove(timer, token=1)
        assert replica.zrange(key, 0, -1) == [other.model_dump_json().encode()]
        assert [t.handler_id for t in await store.load()] == ["h2"]
        # Fenced as before: a deposed leader's write is refused, not waited for.
        primary.set(epoch_key(PREFIX, "a"), 2)
        with pytest.raises(Fenced):
            await store.remove(other, token=1)
        assert replica.zcard(key) == 1
    finally:
        primary.close()
        replica.close()
        await store.close()
        await close_redis(redis)


async def test_without_replicas_to_wait_for_the_store_writes_as_before(redis_ha: RedisHA) -> None:
    redis = redis_of(redis_ha.config(wait_for_replicas=0))
    assert replicated_client(redis, 0, 0.2) is None
    store = TimerStore(redis, PREFIX)
    try:
        with redis_ha.replica_paused():
            await store.put(wrapup())  # the primary has it: nothing to wait for
            assert [t.handler_id for t in await store.load()] == ["h1"]
    finally:
        await store.close()
        await close_redis(redis)
