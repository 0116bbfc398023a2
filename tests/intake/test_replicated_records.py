"""Records that must never be lost are acknowledged only once a replica holds them (WAIT), against
a real primary, replica and three Sentinels (tests/support/redis_ha.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from intake.app.connections import close_redis, redis_of, replicated_write, writer_redis
from intake.app.replicas import Replicas
from intake.app.write_behind import WriteBehind
from screenpop.errors import NotReplicated
from screenpop.history import HistoryStore
from screenpop.models import Marker, Outcome, Thrive
from tests.support.redis_ha import RedisHA
from tests.waiting import eventually

NUMBER = "07700900001"


async def on(client: Any, key: str) -> list[bytes]:
    return list(await client.lrange(key, 0, -1))


async def test_a_record_is_acknowledged_only_once_the_replica_holds_it(redis_ha: RedisHA) -> None:
    redis = redis_of(redis_ha.config())
    writer = writer_redis(redis, 1)
    writes = WriteBehind(writer, replicas=Replicas(1, 0.2), retry_every=0.05)
    done: list[str] = []
    primary = redis_ha.primary.client()
    try:
        with redis_ha.replica_paused():
            writes.submit("journal", lambda pipe: pipe.rpush("records", "r1"), done=lambda: done.append("r1"))
            # On the primary (the pops read it), but WAIT came back short: not acknowledged.
            await eventually(lambda: writes.replica_waits >= 2, 10, "a WAIT to come back short")
            assert primary.lrange("records", 0, -1) == [b"r1"]
            assert done == [] and writes.written == 0 and len(writes) == 1 and writes.awaiting_replica() == 1
            # Records behind it still reach the primary meanwhile, and wait with it.
            writes.submit("journal", lambda pipe: pipe.rpush("records", "r2"), done=lambda: done.append("r2"))
            await eventually(lambda: writes.awaiting_replica() == 2, 10, "the second record on the primary")
            assert done == []
        await asyncio.wait_for(writes.flush(), 10)
        assert done == ["r1", "r2"] and writes.written == 2 and writes.awaiting_replica() == 0
        with redis_ha.replica.client() as replica:
            assert replica.lrange("records", 0, -1) == [b"r1", b"r2"]  # written once each
    finally:
        primary.close()
        await writes.close(1)
        await close_redis(writer, redis)


async def test_records_unacknowledged_at_shutdown_are_spooled(redis_ha: RedisHA, tmp_path: Any) -> None:
    redis = redis_of(redis_ha.config())
    spool = tmp_path / "unwritten.jsonl"
    writer = writer_redis(redis, 1)
    writes = WriteBehind(writer, replicas=Replicas(1, 0.2), retry_every=0.05, spool=spool)
    try:
        with redis_ha.replica_paused():
            writes.submit("journal", lambda pipe: pipe.rpush("records", "r1"), record={"call_id": "1700000000.1"})
            await eventually(lambda: writes.awaiting_replica() == 1, 10, "the record on the primary")
            await writes.close(0.1)
        assert writes.lost == 0 and writes.spooled_at_stop == 1
        assert [kind for kind, _ in WriteBehind(None, spool=spool).spooled()] == ["journal"]
    finally:
        await close_redis(writer, redis)


async def test_with_wait_for_replicas_0_a_record_is_acknowledged_once_the_primary_has_it(redis_ha: RedisHA) -> None:
    redis = redis_of(redis_ha.config(wait_for_replicas=0))
    writer = writer_redis(redis, 0)
    writes = WriteBehind(writer)
    try:
        with redis_ha.replica_paused():
            writes.submit("journal", lambda pipe: pipe.rpush("records", "r1"))
            await asyncio.wait_for(writes.flush(), 10)
            assert writes.written == 1 and writes.replica_waits == 0
    finally:
        await writes.close(1)
        await close_redis(writer, redis)


async def test_a_record_on_a_primary_that_died_before_a_replica_held_it_is_written_to_the_next(redis_ha: RedisHA) -> None:
    redis = redis_of(redis_ha.config())
    writer = writer_redis(redis, 1)
    writes = WriteBehind(writer, replicas=Replicas(1, 0.2), retry_every=0.05)
    done: list[str] = []
    try:
        with redis_ha.replica_paused():
            writes.submit("journal", lambda pipe: pipe.hset("records", "r1", "data"), done=lambda: done.append("r1"))
            await eventually(lambda: writes.awaiting_replica() == 1, 10, "the record on the primary")
            old = redis_ha.kill_primary()  # with the record not acknowledged
        new = await asyncio.to_thread(redis_ha.wait_for_failover, old)
        # Written again to the new primary (a new connection: the old one's WAIT says nothing of it),
        # and still not acknowledged: the new primary has no replica yet.
        await eventually(lambda: writes.awaiting_replica() == 1 and writes.replicas is not None
                         and writes.replicas.generation > 2, 10, "the record written to the new primary")
        with new.client() as c:
            assert c.hget("records", "r1") == b"data"
        assert done == []
        await asyncio.to_thread(redis_ha.restart_as_replica, old, new)
        await asyncio.wait_for(writes.flush(), 10)
        assert done == ["r1"] and writes.written == 1
        with old.client() as c:
            assert c.hget("records", "r1") == b"data"  # the replica holds it
    finally:
        await writes.close(1)
        await close_redis(writer, redis)


async def test_an_outcome_is_saved_only_once_the_replica_holds_it(redis_ha: RedisHA) -> None:
    redis = redis_of(redis_ha.config())
    replicated = replicated_write(redis, 1, 0.2)
    assert replicated is not None
    history = HistoryStore(redis, replicated=replicated)
    outcome = Outcome(call_id="1700000000.3", handler_id="h1", at=1_790_000_000.0, grading="priority",
                      thrive=Thrive(threat="low"))
    marker = Marker(id="m1", number=NUMBER, kind="vulnerable adult", detail="lives alone",
                    created_at=1_790_000_000.0, created_by="sup1")
    try:
        with redis_ha.replica_paused():
            with pytest.raises(NotReplicated):  # the handler is told to try again
                await history.record_outcome(NUMBER, outcome)
            with pytest.raises(NotReplicated):
                await history.add_marker(marker)

        async def saved_again() -> bool:  # as the handler does: again until it is saved
            try:
                await history.record_outcome(NUMBER, outcome)
                await history.add_marker(marker)
            except NotReplicated:
                return False
            return True

        await eventually(saved_again, 10, "the outcome saved once the replica is back")
        with redis_ha.replica.client() as replica:
            assert replica.hexists(history.keys(NUMBER).outcome, outcome.call_id)
            assert replica.hexists(history.keys(NUMBER).markers, marker.id)
    finally:
        await close_redis(replicated.client, redis)
