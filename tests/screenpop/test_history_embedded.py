"""The same store runs on fakeredis, the embedded default a newcomer's demo starts with.

This is not a claim about Redis behaviour (test_history.py makes those against a real server):
only that the Lua lookup and the transactions run in process as well, with the same answers.
"""

from __future__ import annotations

import fakeredis
import pytest
import redis.asyncio as aioredis

from screenpop.history import HistoryStore
from screenpop.models import CallerHistory
from tests.screenpop.builders import NUMBER, T0, called_back, contact, marker, outcome


async def test_the_store_works_on_embedded_fakeredis() -> None:
    client = fakeredis.FakeAsyncRedis()
    try:
        store = HistoryStore(client)
        await store.record_outcome(NUMBER, outcome("c1"))
        await store.record_contact(contact("c1"))
        await store.record_contact(called_back("t1", at=T0 + 100))
        await store.add_markers([marker("m-1"), marker("m-2", expires_at=T0)])
        history = await store.lookup(NUMBER, now=T0 + 300)
    finally:
        await client.aclose()
    assert [r.call_id for r in history.recent] == ["callback:t1", "c1"]
    assert history.recent[1].outcome == outcome("c1")
    assert (history.count_24h, [m.id for m in history.markers]) == (1, ["m-1"])


async def repeat_lookups(client: aioredis.Redis) -> list[CallerHistory]:
    """Recorded calls inside, at the edge of and outside the hour, and calls not recorded yet."""
    store, now = HistoryStore(client), T0 + 7200
    for call_id, age in (("old", 3700), ("edge", 3600), ("in", 3599.5), ("recent", 60)):
        await store.record_contact(contact(call_id, at=now - age))
    return [
        await store.lookup("+447700900999", now, {"ringing": now}),  # a number never seen
        await store.lookup(NUMBER, now),
        await store.lookup(NUMBER, now, {"recent": now - 60, "on-its-way": now - 10, "too-old": now - 4000, "ringing": now}),
        await store.lookup(NUMBER, now, {"old": now}),  # recorded before the window, calling again now
    ]


@pytest.mark.redis
async def test_embedded_and_real_redis_count_the_repeat_window_alike(redis_client: aioredis.Redis) -> None:
    embedded = fakeredis.FakeAsyncRedis()
    try:
        fake = await repeat_lookups(embedded)
    finally:
        await embedded.aclose()
    real = await repeat_lookups(redis_client)
    assert [h.calls_in_window for h in real] == [1, 2, 4, 3]
    assert fake == real
