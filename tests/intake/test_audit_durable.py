"""The audit trail survives the Redis primary's death: an entry is settled only once a replica
holds it (WAIT), so every entry settled before a kill -9 is on the promoted primary, entries
recorded during the failover follow (held until a replica holds them too), and the one chain
still verifies (tests/support/redis_ha.py)."""

from __future__ import annotations

import asyncio

from intake.app.audit import AuditTrail
from intake.app.audit_store import AuditStore
from intake.app.auth import SupervisorPrincipal
from intake.app.connections import close_redis, redis_of, writer_redis
from intake.app.replicas import Replicas
from intake.core.audit import Action, RecordKind, Verified
from tests.support.redis_ha import RedisHA
from tests.waiting import eventually, patience

SUP = SupervisorPrincipal(id="sup1")


async def test_entries_settled_before_a_primary_kill_are_on_the_new_primary_and_the_chain_verifies(
        redis_ha: RedisHA) -> None:
    redis = redis_of(redis_ha.config())
    writer = writer_redis(redis, 1)
    trail = AuditTrail(writer, "intake:", node="n1", replicas=Replicas(1, 0.5), retry_every=0.05)
    try:
        with redis_ha.replica_paused():
            trail.record(SUP, Action.CONSULTED, RecordKind.HISTORY, why="reason: before", number="07700900001")
            # On the primary, but no replica has it: not settled.
            await eventually(lambda: trail.retries >= 2, 10, "a WAIT to come back short")
            assert trail.written == 0 and len(trail) == 1
        await asyncio.wait_for(trail.flush(), patience(10))
        assert trail.written == 1
        for n in range(20):
            trail.record(SUP, Action.CONSULTED, RecordKind.HISTORY, why=f"reason: settled {n}", number="07700900001")
        await asyncio.wait_for(trail.flush(), patience(10))

        old = redis_ha.kill_primary()
        for n in range(10):  # recorded while the Sentinels promote: held, then written to the new primary
            trail.record(SUP, Action.CONSULTED, RecordKind.HISTORY, why=f"reason: during {n}", number="07700900001")
        new = await asyncio.to_thread(redis_ha.wait_for_failover, old)

        on_new = AuditStore(redis_of(redis_ha.config()), "intake:")
        try:
            async def all_there() -> bool:
                return [link.entry.why async for link in on_new.entries()] == expected

            # Written to the new primary behind the failover; still held: it has no replica yet.
            expected = ["reason: before"] + [f"reason: settled {n}" for n in range(20)] + [
                f"reason: during {n}" for n in range(10)]
            await eventually(all_there, 10, "every entry on the new primary, in order, once")
            assert len(trail) == 10 and trail.written == 21  # settled only once a replica holds them
            result = await on_new.verify()
            assert isinstance(result, Verified) and result.entries >= 31, result
        finally:
            await close_redis(on_new.redis)
        assert new.port == await asyncio.to_thread(redis_ha.primary_port)
    finally:
        await trail.close(1)
        await close_redis(writer, redis)
