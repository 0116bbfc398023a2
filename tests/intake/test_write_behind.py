"""Settled calls' records reach Redis in order, batched, and survive Redis being away."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from intake.journal import contact_record
from intake.registry import Finished, Registry
from intake.write_behind import WriteBehind
from screenpop.history import HistoryConfig, HistoryStore
from tests.intake.timeline import T0, Timeline

QUEUES = {"emergency": ("999", 12.0)}


def settled_calls() -> list:
    reg = Registry(QUEUES)
    finished = []
    for e in Timeline(call_id="c1").join(0).abandon(5, hold=5).events + Timeline(call_id="c2").join(6).abandon(8, hold=2).events:
        finished += [n.call for n in reg.apply(e) if isinstance(n, Finished)]
    return finished


async def test_records_refused_while_redis_is_away_are_written_in_order_when_it_is_back(redis_client: aioredis.Redis):
    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=None)
    writes = WriteBehind(down, retry_every=0.05)
    history = HistoryStore(redis_client, HistoryConfig())
    for call in settled_calls():
        record = contact_record(call, {})
        writes.submit("contact", lambda pipe, record=record: history.stage_contact(pipe, record))
    await asyncio.sleep(0.3)
    assert len(writes) == 2 and writes.failures >= 1 and writes.written == 0
    writes.redis = redis_client  # Redis is back
    await asyncio.wait_for(writes.flush(), 5)
    assert writes.written == 2 and writes.dropped == 0
    found = await history.lookup("07700900001", T0 + 60)
    assert [r.call_id for r in found.recent] == ["c2", "c1"]
    assert [r.disposition for r in found.recent] == ["abandoned", "abandoned"]
    await writes.close(1)
    await down.aclose()


async def test_a_burst_of_records_goes_in_one_transaction(redis_client: aioredis.Redis):
    async def execs() -> int:
        return int((await redis_client.info("commandstats")).get("cmdstat_exec", {}).get("calls", 0))

    writes = WriteBehind(redis_client)
    before = await execs()
    for i in range(300):  # a burst: submitted before the writer gets a turn
        writes.submit("n", lambda pipe, i=i: pipe.rpush("burst", i))
    await asyncio.wait_for(writes.flush(), 5)
    assert [int(x) for x in await redis_client.lrange("burst", 0, -1)] == list(range(300))
    assert await execs() - before == 1
    await writes.close(1)


async def test_past_the_limit_the_oldest_record_is_dropped_and_counted(redis_client: aioredis.Redis):
    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=None)
    writes = WriteBehind(down, retry_every=10, limit=3)
    done: list[int] = []
    for i in range(5):
        writes.submit("n", lambda pipe, i=i: pipe.rpush("kept", i), done=lambda i=i: done.append(i))
    assert writes.dropped == 2 and len(writes) == 3
    assert done == [0, 1]  # a dropped record is done with too: nobody waits for it any more
    writes.redis = redis_client
    await writes.close(0.1)
    await down.aclose()


async def test_done_is_told_once_the_record_is_in_redis(redis_client: aioredis.Redis):
    writes = WriteBehind(redis_client)
    told: list[int] = []  # how many records were written when ``done`` was called
    writes.submit("n", lambda pipe: pipe.rpush("written", "a"), done=lambda: told.append(writes.written))
    assert told == []
    await asyncio.wait_for(writes.flush(), 5)
    assert told == [1] and await redis_client.lrange("written", 0, -1) == [b"a"]
    await writes.close(1)
