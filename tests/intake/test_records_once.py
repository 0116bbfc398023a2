"""Every node writes every call's records (journal, caller history, calls in progress): two nodes
that followed the same call leave one record of it and count it once, whichever writes first and
whatever each made of the call."""

from __future__ import annotations

import time
from datetime import date

import redis.asyncio as aioredis

from intake.app.journal import CallJournal, JournalRecord
from intake.core.in_progress import InProgress, InProgressStore
from intake.core.metrics import local_day
from screenpop.history import HistoryConfig, HistoryStore
from screenpop.models import ContactRecord

PREFIX = "t:"
QUEUED = time.time() - 120
NUMBER = "07700900123"


def journalled(waited: float, *, seen: bool = True) -> JournalRecord:
    return JournalRecord(call_id="1700000000.7", line="999", queue="emergency", target_seconds=12, queued_at=QUEUED,
                         settled="answered", waited_seconds=waited, outcome_seen=seen)


def in_progress() -> InProgress:
    return InProgress(call_id="1700000000.7", queue="emergency", line="999", target_seconds=12, queued_at=QUEUED,
                      caller_number=NUMBER)


def contact(waited: float) -> ContactRecord:
    return ContactRecord(call_id="1700000000.7", number=NUMBER, at=QUEUED, line="999", queue="emergency",
                         handler_id="h1", waited_seconds=waited, talked_seconds=30.0, disposition="answered")


async def write(redis: aioredis.Redis, stage) -> None:
    async with redis.pipeline(transaction=True) as tx:
        stage(tx)
        await tx.execute()


async def test_two_nodes_journalling_one_call_leave_one_record_the_first(redis_client: aioredis.Redis) -> None:
    journal, calls = CallJournal(redis_client, PREFIX), InProgressStore(redis_client, PREFIX)
    stays = journal.stays_key(local_day(QUEUED))
    # Both nodes saw the call offered; node A journals its outcome, node B (which learned it a
    # little later, through a resync) journals it too, then its late in-progress write lands.
    await write(redis_client, lambda tx: calls.stage(tx, in_progress(), stays))
    await write(redis_client, lambda tx: calls.stage(tx, in_progress(), stays))
    assert len(await calls.load()) == 1
    await write(redis_client, lambda tx: (journal.stage(tx, journalled(3.2)), calls.stage_done(tx, "1700000000.7")))
    await write(redis_client, lambda tx: (journal.stage(tx, journalled(3.9, seen=False)), calls.stage_done(tx, "1700000000.7")))
    await write(redis_client, lambda tx: calls.stage(tx, in_progress(), stays))
    day = date.fromisoformat(local_day(QUEUED))
    assert [r.waited_seconds for r in await journal.day(day)] == [3.2]
    assert await redis_client.zcard(journal.key(day.isoformat())) == 1
    assert await calls.load() == []  # a restart would not take the journalled call up again


async def test_two_nodes_filing_one_calls_history_count_it_once(redis_client: aioredis.Redis) -> None:
    history = HistoryStore(redis_client, HistoryConfig(prefix=PREFIX))
    await write(redis_client, lambda tx: history.stage_contact(tx, contact(3.2)))
    await write(redis_client, lambda tx: history.stage_contact(tx, contact(3.9)))
    seen = await history.lookup(NUMBER, time.time())
    assert seen.count_24h == 1
    assert [c.waited_seconds for c in seen.recent] == [3.2]
