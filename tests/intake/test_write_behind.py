"""Settled calls' records reach Redis in order, batched, and survive Redis being away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from structlog.testing import capture_logs

from intake.app.journal import CallJournal, JournalRecord, contact_record
from intake.app.write_behind import WriteBehind
from intake.core.registry import Finished, Registry
from screenpop.history import HistoryConfig, HistoryStore
from tests.intake.own_redis import OwnRedis
from tests.intake.timeline import T0, Timeline
from tests.waiting import eventually

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


# --- poison records, outages, shutdown ---------------------------------------------------------

DEAD = "intake:dead-letters"


def journal_record(call_id: str, queued_at: float = T0) -> JournalRecord:
    return JournalRecord(call_id=call_id, line="999", queue="emergency", target_seconds=12.0, queued_at=queued_at,
                         settled="answered", waited_seconds=3.0)


def counted(call_id: str) -> Callable[[Any], None]:
    """A record whose every application is seen: it appends its id to a list and counts itself."""
    def stage(pipe: Any) -> None:
        pipe.rpush("landed", call_id)
        pipe.incr(f"applied:{call_id}")
    return stage


async def dead_letters(redis: aioredis.Redis) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in reversed(await redis.lrange(DEAD, 0, -1))]  # oldest first


async def landed(redis: aioredis.Redis, ids: list[str]) -> tuple[list[str], list[int]]:
    order = [x.decode() for x in await redis.lrange("landed", 0, -1)]
    return order, [int(await redis.get(f"applied:{i}") or 0) for i in ids]


async def test_a_record_that_cannot_be_staged_goes_to_dead_letters_and_every_later_call_is_written(redis_client: aioredis.Redis):
    journal = CallJournal(redis_client)
    writes = WriteBehind(redis_client, dead_letters=DEAD)
    bad, good = journal_record("bad-1", queued_at=1e300), journal_record("good-2")  # 1e300: in no day
    with capture_logs() as logs:
        writes.submit("journal", lambda pipe: journal.stage(pipe, bad), record=bad)
        writes.submit("journal", lambda pipe: journal.stage(pipe, good), record=good)
        writes.submit("n", counted("c3"))
        await asyncio.wait_for(writes.flush(), 5)
    assert [r.call_id for r in await journal.day(date.fromtimestamp(T0))] == ["good-2"]
    assert await landed(redis_client, ["c3"]) == (["c3"], [1])
    [letter] = await dead_letters(redis_client)
    assert (letter["kind"], letter["call_id"], letter["data"]["queued_at"]) == ("journal", "bad-1", 1e300)
    assert letter["reason"].startswith("could not be staged: ValueError") and letter["at"] > T0
    assert [(e["kind"], e["call_id"]) for e in logs if e["event"] == "record_dead_lettered"] == [("journal", "bad-1")]
    assert (writes.written, writes.view()["dead_lettered"]) == (2, {"journal": 1})
    await writes.close(1)


async def test_records_redis_refuses_go_to_dead_letters_and_no_good_record_is_applied_twice(redis_client: aioredis.Redis):
    await redis_client.set("not-a-list", "x")
    writes = WriteBehind(redis_client, dead_letters=DEAD)
    good = ["g1", "g2", "g3", "g4"]
    writes.submit("n", counted("g1"))
    # Refused when EXEC runs it (WRONGTYPE): Redis applies the rest of the transaction.
    writes.submit("contact", lambda pipe: pipe.rpush("not-a-list", "r1"), record={"call_id": "wrongtype-1"})
    writes.submit("n", counted("g2"))
    # Refused as it is queued (wrong number of arguments): Redis discards the whole transaction.
    writes.submit("journal", lambda pipe: pipe.execute_command("ZADD", "journal"), record={"call_id": "arity-2"})
    writes.submit("n", counted("g3"))
    writes.submit("n", counted("g4"))
    await asyncio.wait_for(writes.flush(), 5)
    assert await landed(redis_client, good) == (good, [1, 1, 1, 1])
    letters = await dead_letters(redis_client)
    assert [(d["kind"], d["call_id"]) for d in letters] == [("contact", "wrongtype-1"), ("journal", "arity-2")]
    assert "WRONGTYPE" in letters[0]["reason"] and "wrong number of arguments" in letters[1]["reason"]
    assert letters[1]["data"] == {"call_id": "arity-2"}
    assert await redis_client.get("not-a-list") == b"x"
    assert writes.written == 4 and writes.failures == 0
    await writes.close(1)


async def test_records_submitted_during_an_outage_land_afterwards_in_order_exactly_once(tmp_path: Path):
    server = OwnRedis(tmp_path)
    await server.start()
    client = server.client(socket_timeout=2)
    try:
        writes = WriteBehind(client, dead_letters=DEAD, retry_every=0.05)
        ids = [f"c{i}" for i in range(10)]
        for i in ids[:3]:
            writes.submit("n", counted(i))
        await asyncio.wait_for(writes.flush(), 5)
        server.stop()
        for i in ids[3:]:
            writes.submit("n", counted(i))
        await eventually(lambda: writes.failures >= 2, 10, "tried, refused, held", every=0.02)
        assert len(writes) == 7 and writes.view()["dead_lettered"] == {}
        await server.start()
        await asyncio.wait_for(writes.flush(), 10)
        assert await landed(client, ids) == (ids, [1] * 10)
        assert await client.exists(DEAD) == 0 and writes.written == 10
        await writes.close(1)
    finally:
        await client.aclose()
        server.stop()


async def test_a_redis_too_slow_to_answer_holds_the_records_and_each_is_written_once_when_it_answers(tmp_path: Path):
    server = OwnRedis(tmp_path)
    await server.start()
    admin = aioredis.Redis(port=server.port)
    client = server.client(socket_timeout=0.3)
    try:
        writes = WriteBehind(client, dead_letters=DEAD, retry_every=0.05)
        await admin.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")  # writes wait; ours time out
        ids = [f"c{i}" for i in range(5)]
        for i in ids:
            writes.submit("n", counted(i))
        await eventually(lambda: writes.failures >= 2, 10, "sent, no answer in time, held, sent again", every=0.02)
        await admin.execute_command("CLIENT", "UNPAUSE")
        await asyncio.wait_for(writes.flush(), 10)
        assert await landed(admin, ids) == (ids, [1] * 5)
        assert await admin.exists(DEAD) == 0
        await writes.close(1)
    finally:
        await client.aclose()
        await admin.aclose()
        server.stop()


async def test_records_still_held_at_shutdown_are_each_logged_with_kind_and_call_id():
    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=None)
    writes = WriteBehind(down, retry_every=10)
    writes.submit("journal", counted("c1"), record=journal_record("c1"))
    writes.submit("contact", counted("c2"), record={"call_id": "c2"})
    with capture_logs() as logs:
        await writes.close(0.1)
    lost = [(e["kind"], e["call_id"]) for e in logs if e["event"] == "record_not_written"]
    assert lost == [("journal", "c1"), ("contact", "c2")] and writes.view()["lost"] == 2
    await down.aclose()


async def test_records_held_at_shutdown_are_spooled_and_read_back_in_order_by_the_next_start(tmp_path: Path):
    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=None)
    spool = tmp_path / "unwritten.jsonl"
    writes = WriteBehind(down, retry_every=10, spool=spool)
    first = journal_record("c1")
    writes.submit("journal", counted("c1"), record=first)
    writes.submit("contact", counted("c2"), record={"call_id": "c2", "number": "07700900002"})
    with capture_logs() as logs:
        await writes.close(0.1)
    assert [(e["kind"], e["call_id"]) for e in logs if e["event"] == "record_spooled"] == [("journal", "c1"), ("contact", "c2")]
    assert writes.view()["lost"] == 0 and writes.view()["spooled"] == 2
    again = WriteBehind(down, spool=spool)
    found = again.spooled()
    assert [kind for kind, _ in found] == ["journal", "contact"]
    assert JournalRecord.model_validate(found[0][1]) == first and found[1][1] == {"call_id": "c2", "number": "07700900002"}
    await again.close(0.1)  # what was read back is the reader's to submit: nothing is held, the file goes
    assert not spool.exists()
    await down.aclose()


async def test_a_done_callback_that_raises_does_not_stop_later_records(redis_client: aioredis.Redis):
    writes = WriteBehind(redis_client)

    def broken() -> None:
        raise RuntimeError("pop router gone")

    writes.submit("n", counted("c1"), done=broken)
    writes.submit("n", counted("c2"))
    await asyncio.wait_for(writes.flush(), 5)
    writes.submit("n", counted("c3"))
    await asyncio.wait_for(writes.flush(), 5)
    assert await landed(redis_client, ["c1", "c2", "c3"]) == (["c1", "c2", "c3"], [1, 1, 1])
    await writes.close(1)
