"""From a ringing phone to a published pop: with the history when it comes in time, without it otherwise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from screenpop.delivery import DesktopHub
from screenpop.history import HistoryStore
from screenpop.messages import Pop
from screenpop.models import CallerHistory
from screenpop.pop import CallSnapshot
from screenpop.popper import pop_ringing_call
from tests.screenpop.builders import NUMBER, T0, contact, marker

CALL = CallSnapshot("1790000500.7", "999", "999-north", NUMBER, "J SMITH", T0 + 500, 3.0)


class SlowStore:
    async def lookup(self, number: str, now: float, calling: Mapping[str, float] | None = None) -> CallerHistory:
        await asyncio.sleep(10)
        raise AssertionError("never reached")


class BrokenStore:
    async def lookup(self, number: str, now: float, calling: Mapping[str, float] | None = None) -> CallerHistory:
        raise RedisConnectionError("Connection refused")


@pytest.mark.redis
async def test_the_pop_carries_the_history_from_redis(redis_client: aioredis.Redis) -> None:
    store, hub = HistoryStore(redis_client), DesktopHub()
    await store.record_contact(contact("c1"))
    await store.add_marker(marker())
    outbox = hub.attach("ana", 0)
    sent = await pop_ringing_call(store, hub, "ana", CALL, now=T0 + 600)
    assert isinstance(sent, Pop) and sent.seq == 1 and sent.history_status == "ok"
    assert sent.history is not None and [r.call_id for r in sent.history.recent] == ["c1"]
    assert outbox.waiting == 1


@pytest.mark.redis
async def test_the_third_call_within_the_hour_pops_as_a_repeat_caller(redis_client: aioredis.Redis) -> None:
    store, hub = HistoryStore(redis_client), DesktopHub()
    hub.attach("ana", 0)
    await store.record_contact(contact("c1", at=CALL.queued_at - 3000))
    second = await pop_ringing_call(store, hub, "ana", CALL, now=T0 + 503)
    await store.record_contact(contact("c2", at=CALL.queued_at - 1200))
    third = await pop_ringing_call(store, hub, "ana", CALL, now=T0 + 503)
    assert isinstance(second, Pop) and (second.flags, second.repeat) == ((), None)
    assert isinstance(third, Pop) and third.flags == ("repeat-caller",)
    assert third.repeat is not None and (third.repeat.calls, third.repeat.window_seconds) == (3, 3600.0)


@pytest.mark.redis
async def test_the_ringing_call_counts_once_even_when_already_recorded(redis_client: aioredis.Redis) -> None:
    """A channel moved on from another queue was recorded there under the same id: still one call."""
    store, hub = HistoryStore(redis_client), DesktopHub()
    hub.attach("ana", 0)
    await store.record_contact(contact("c1", at=CALL.queued_at - 600))
    await store.record_contact(contact(CALL.call_id, at=CALL.queued_at - 30))
    sent = await pop_ringing_call(store, hub, "ana", CALL, now=T0 + 503, repeat_calls=1)
    assert isinstance(sent, Pop) and sent.repeat is not None and sent.repeat.calls == 2


async def test_a_slow_lookup_does_not_hold_the_pop_back() -> None:
    started = time.monotonic()
    sent = await pop_ringing_call(SlowStore(), DesktopHub(), "ana", CALL, now=T0, deadline=0.05)
    assert time.monotonic() - started < 0.5
    assert isinstance(sent, Pop) and (sent.history_status, sent.history) == ("unavailable", None)


async def test_a_failed_lookup_still_pops() -> None:
    sent = await pop_ringing_call(BrokenStore(), DesktopHub(), "ana", CALL, now=T0)
    assert isinstance(sent, Pop) and sent.history_status == "unavailable"


async def test_a_withheld_number_is_not_looked_up() -> None:
    withheld = CallSnapshot("c2", "999", "999-north", "anonymous", "", T0, 0.0)
    sent = await pop_ringing_call(BrokenStore(), DesktopHub(), "ana", withheld, now=T0)
    assert isinstance(sent, Pop) and sent.history_status == "withheld"
