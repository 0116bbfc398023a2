"""kill -9 the Redis primary under a running intake: the Sentinels promote the replica, intake
follows it (pops go on, new records land on the new primary) and every record intake acknowledged
before the kill is on the new primary.

Real parts on loopback: a primary, a replica and three Sentinels (tests/support/redis_ha.py), the
server in the test's loop attached to the simulated PBX over real AMI, desktops over WebSockets.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from intake.app.connections import (
    REDIS_POOL,
    close_redis,
    reader_redis,
    redis_of,
    warm_redis,
)
from intake.core.metrics import local_day
from screenpop.history import HistoryStore
from screenpop.models import ContactRecord
from telephony.simulator import SimulatedPbx
from tests.routing import test_callback_desk as floors
from tests.routing.test_callback_desk import until
from tests.support.redis_ha import SERVICE, Process, RedisHA
from tests.waiting import eventually, patience

sim, tokens = floors.sim, floors.tokens  # the call-back tests' floor: four handlers, none in a queue yet

NUMBERS = [f"0770090030{i}" for i in range(4)]


def on_primary(server: Process, intake: Any, call_ids: dict[str, str]) -> dict[str, set[str]]:
    """What ``server`` holds of each call: which of its records are there."""
    day = local_day(intake.pbx_now())
    with server.client() as c:
        journalled = {json.loads(raw)["call_id"] for raw in c.zrange(intake.journal.key(day), 0, -1)}
        found: dict[str, set[str]] = {}
        for number, call_id in call_ids.items():
            kinds = {"journal"} if call_id in journalled else set()
            if c.hexists(intake.history.keys(number).contact, call_id):
                kinds.add("contact")
            if c.hexists("intake:callbacks", call_id):
                kinds.add("callback")
            if c.hexists(intake.in_progress.key, call_id):
                kinds.add("still in progress")
            found[call_id] = kinds
    return found


async def test_the_primary_killed_the_replica_promoted_intake_follows_and_loses_no_acknowledged_record(
        redis_ha: RedisHA, sim: SimulatedPbx, tokens: dict[str, str], tmp_path: Path) -> None:
    config = redis_ha.config(wait_timeout_seconds=0.5)
    redis = redis_of(config)
    try:
        async with floors.serving(sim, redis, tokens, redis_config=config, spool=tmp_path / "unwritten.jsonl") as floor:
            server = floor.server
            # Abandoned 999 calls: each leaves a journal record, a history entry and a call-back task.
            before: dict[str, str] = {}
            for number in NUMBERS:
                before[number] = await floor.abandoned_999(number)
            await asyncio.wait_for(server.writes.flush(), patience(10))  # every record acknowledged
            assert len(server.writes) == 0 and server.writes.written >= 3 * len(NUMBERS)
            everything = {"journal", "contact", "callback"}
            assert set(map(frozenset, on_primary(redis_ha.primary, server, before).values())) == {frozenset(everything)}

            # The set's own waits run beside the loop: intake goes on serving throughout.
            old = redis_ha.kill_primary()
            new = await asyncio.to_thread(redis_ha.wait_for_failover, old)
            assert new is redis_ha.replica
            # Every record acknowledged before the kill is on the new primary.
            assert on_primary(new, server, before) == {call_id: everything for call_id in before.values()}

            # Redis's reports of writes to caller histories come from the new primary.
            watch = server.history_watch
            assert watch is not None
            await until(lambda: watch.live and watch.connections >= 2, patience(10))

            # Pops go on, with the caller's history read from the new primary.
            h1 = await floor.desktop("h1")
            await floor.state("h1", "ready")
            again = sim.place_call("emergency", NUMBERS[0], "Pat Caller")
            pop = await h1.expect(lambda m: m["type"] == "pop" and m["call_id"] == again, timeout=patience(10))
            assert pop["history_status"] == "ok" and pop["history"]["count_24h"] >= 1
            assert before[NUMBERS[0]] in [r["call_id"] for r in pop["history"]["recent"]]

            # New records land on the new primary; with no replica left they wait for one.
            sim.hangup_caller(again)
            await until(lambda: "journal" in on_primary(new, server, {NUMBERS[0]: again})[again], patience(10))
            health = (await floor.http.get("/healthz")).json()
            assert health["redis"]["reachable"] and health["redis"]["records_awaiting_replica"] >= 1

            # The old primary back as the new one's replica: what waited is acknowledged.
            await asyncio.to_thread(redis_ha.restart_as_replica, old, new)
            await asyncio.wait_for(server.writes.flush(), patience(10))
            assert server.writes.awaiting_replica() == 0
            health = (await floor.http.get("/healthz")).json()
            assert health["redis"]["records_awaiting_replica"] == 0 and health["redis"]["records_held"] == 0
            assert "journal" in on_primary(old, server, {NUMBERS[0]: again})[again]  # the replica holds it
    finally:
        await close_redis(redis)


async def test_connections_to_a_demoted_primary_find_the_new_one(redis_ha: RedisHA) -> None:
    """A switch-over (SENTINEL FAILOVER): the old primary lives on as a replica and answers the
    pooled connections intake holds to it with READONLY; each command still lands on the new primary."""
    redis = redis_of(redis_ha.config())
    try:
        await warm_redis(redis)  # every pooled connection open to the primary, as in a running intake
        old = redis_ha.primary
        with redis_ha.sentinels[0].client() as sentinel:
            assert sentinel.sentinel_failover(SERVICE)
        new = await asyncio.to_thread(redis_ha.wait_for_failover, old)
        await asyncio.to_thread(redis_ha.wait_for, lambda: replica_of(old) == new.port,
                                "the old primary to become the new one's replica", old, 30)
        # As many commands as the pool has connections: each takes one opened to the old primary.
        assert all([await redis.set(f"k{i}", i) for i in range(REDIS_POOL + 8)])
        with new.client() as c:
            assert c.get(f"k{REDIS_POOL + 7}") == str(REDIS_POOL + 7).encode()
    finally:
        await close_redis(redis)


def replica_of(server: Process) -> int | None:
    with server.client(decode_responses=True) as c:
        info = c.info("replication")
    return int(info["master_port"]) if info.get("role") == "slave" else None


async def test_caller_history_is_read_from_the_replica_and_from_the_primary_once_the_replica_is_gone(
        redis_ha: RedisHA) -> None:
    redis = redis_of(redis_ha.config())
    reader = reader_redis(redis)
    history = HistoryStore(redis, reader=reader)
    record = ContactRecord(call_id="1700000000.9", number=NUMBERS[0], at=time.time() - 60, line="999",
                           queue="emergency", waited_seconds=8.0, disposition="abandoned")
    try:
        await history.record_contact(record)
        with redis_ha.replica.client() as replica:
            await eventually(lambda: replica.exists(history.keys(NUMBERS[0]).contact), 10, "the replica to hold it")
            assert [r.call_id for r in (await history.lookup(NUMBERS[0], time.time())).recent] == [record.call_id]
            assert scripts_run(replica) >= 1  # the lookup was the replica's
        redis_ha.replica.proc.kill()  # type: ignore[union-attr]
        redis_ha.replica.proc.wait(10)  # type: ignore[union-attr]
        assert [r.call_id for r in (await history.lookup(NUMBERS[0], time.time())).recent] == [record.call_id]
        with redis_ha.primary.client() as primary:
            assert scripts_run(primary) >= 1
    finally:
        await reader.aclose()
        await close_redis(redis)


def scripts_run(server: Any) -> int:
    stats = server.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("eval", "evalsha"))
