"""``intake audit verify`` / ``export``, ``intake erase`` and the retention sweep, against a real
Redis: tampering is named, an export and an erasure are themselves in the trail, old records go
by kind and the trail says so."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import redis.asyncio as aioredis

from intake.app.audit import AuditTrail
from intake.app.audit_store import AuditStore
from intake.app.auth import SupervisorPrincipal
from intake.app.retention import Retention
from intake.core.audit import Action, RecordKind, Verified
from intake.core.config import RetentionConfig
from screenpop.history import DAY, HistoryConfig, HistoryStore
from screenpop.models import ContactRecord, Marker, Outcome

REPO = Path(__file__).resolve().parents[2]
NUMBER, OTHER = "07700900123", "07700900999"


def intake(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "intake.app.cli", *args, "--redis-url", url], capture_output=True,
                          text=True, cwd=REPO, env=os.environ | {"PYTHONPATH": str(REPO)})


def url_of(client: aioredis.Redis, redis_url: str) -> str:
    return f"{redis_url}/{client.connection_pool.connection_kwargs['db']}"


async def written(client: aioredis.Redis, count: int = 5) -> AuditTrail:
    trail = AuditTrail(client, "intake:", node="n1")
    for n in range(count):
        trail.record(SupervisorPrincipal(id="sup1"), Action.CONSULTED, RecordKind.HISTORY, why=f"reason: r{n}",
                     number=NUMBER if n % 2 == 0 else OTHER, record="x")
    await trail.flush()
    return trail


async def test_verify_says_intact_then_names_the_entry_edited_or_deleted_in_redis(
        redis_client: aioredis.Redis, redis_url: str) -> None:
    await written(redis_client)
    url = url_of(redis_client, redis_url)
    ok = intake("audit", "verify", url=url)
    assert ok.returncode == 0 and "intact: 5 entries" in ok.stdout, ok.stderr
    key = AuditStore(redis_client, "intake:").links_key
    raw = await redis_client.lindex(key, 2)
    edited = json.loads(raw)
    edited["entry"]["why"] = "reason: nothing"
    await redis_client.lset(key, 2, json.dumps(edited))
    bad = intake("audit", "verify", url=url)
    assert bad.returncode == 1 and "entry 3 altered (at position 2)" in bad.stderr, (bad.stdout, bad.stderr)
    await redis_client.lset(key, 2, raw)
    await redis_client.lrem(key, 1, raw)
    gone = intake("audit", "verify", url=url)
    assert gone.returncode == 1 and "entry 3 removed" in gone.stderr, gone.stderr


async def test_an_export_gives_the_numbers_entries_in_its_window_and_is_itself_recorded(
        redis_client: aioredis.Redis, redis_url: str) -> None:
    await written(redis_client)
    url = url_of(redis_client, redis_url)
    result = intake("audit", "export", "--number", NUMBER, "--reason", "SAR 2026/17", url=url)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["number"], e["why"]) for e in lines] == [(NUMBER, "reason: r0"), (NUMBER, "reason: r2"), (NUMBER, "reason: r4")]
    assert intake("audit", "export", "--number", NUMBER, "--reason", "x", "--to", "2001-01-01", url=url).stdout == ""
    entries = [link.entry async for link in AuditStore(redis_client, "intake:").entries(number=NUMBER)]
    assert [(e.action, e.kind, e.who_id, e.role, e.why, e.record) for e in entries[3:]] == [
        (Action.DISCLOSED, RecordKind.AUDIT, getpass.getuser(), "admin", "reason: SAR 2026/17", "3 entries"),
        (Action.DISCLOSED, RecordKind.AUDIT, getpass.getuser(), "admin", "reason: x", "0 entries")]
    store = AuditStore(redis_client, "intake:")
    assert isinstance(await store.verify(), Verified)
    refused = intake("audit", "export", "--number", NUMBER, "--reason", " ", url=url)
    assert refused.returncode == 2 and "give the reason" in refused.stderr


async def test_erase_removes_the_numbers_records_keeps_an_open_call_back_and_is_in_the_trail(
        redis_client: aioredis.Redis, redis_url: str) -> None:
    history = HistoryStore(redis_client, HistoryConfig())
    now = time.time()
    for number in (NUMBER, OTHER):
        await history.record_contact(ContactRecord(call_id=f"c-{number}", number=number, at=now, line="999",
                                                   queue="emergency", waited_seconds=3.0, disposition="answered"))
        await history.record_outcome(number, Outcome(call_id=f"c-{number}", handler_id="h1", at=now, grading="priority"))
        await history.add_marker(Marker(id=f"m-{number}", number=number, kind="vulnerable adult", created_at=now,
                                        created_by="sup1"))
    await redis_client.hset("intake:callbacks", mapping={
        "t1": json.dumps({"id": "t1", "number": NUMBER, "status": "closed"}),
        "t2": json.dumps({"id": "t2", "number": NUMBER, "status": "open"}),
        "t3": json.dumps({"id": "t3", "number": OTHER, "status": "closed"})})
    result = intake("erase", "--number", NUMBER, "--reason", "ICO ref 42", url=url_of(redis_client, redis_url))
    assert result.returncode == 0, result.stderr
    assert "erased 07700900123: 4 history keys, 1 closed call-back task(s)" in result.stdout
    assert "still open for 07700900123: t2" in result.stdout
    gone = await history.lookup(NUMBER, now + 1)
    assert (gone.recent, gone.markers, gone.count_30d) == ((), (), 0)
    kept = await history.lookup(OTHER, now + 1)
    assert len(kept.recent) == 1 and kept.recent[0].outcome is not None and len(kept.markers) == 1
    assert sorted(await redis_client.hkeys("intake:callbacks")) == [b"t2", b"t3"]
    store = AuditStore(redis_client, "intake:")
    (entry,) = [link.entry async for link in store.entries(number=NUMBER)]
    assert (entry.action, entry.why, entry.record) == (Action.ERASED, "reason: ICO ref 42",
                                                       "4 keys, 1 closed call-back tasks")
    assert isinstance(await store.verify(), Verified)


async def test_the_retention_sweep_removes_each_kind_past_its_own_retention_and_records_it(
        redis_client: aioredis.Redis) -> None:
    history = HistoryStore(redis_client, HistoryConfig())
    now = time.time()
    old, recent = now - 40 * DAY, now - 5 * DAY
    for call_id, at in (("old", old), ("new", recent)):
        await history.record_contact(ContactRecord(call_id=call_id, number=NUMBER, at=at, line="999",
                                                   queue="emergency", waited_seconds=3.0, disposition="answered"))
        await history.record_outcome(NUMBER, Outcome(call_id=call_id, handler_id="h1", at=at, grading="priority"))
        await history.add_marker(Marker(id=call_id, number=NUMBER, kind="repeat caller", created_at=at, created_by="sup1"))
    trail = AuditTrail(redis_client, "intake:", node="n1")
    config = RetentionConfig(history_days=30, outcomes_days=60, markers_days=10)
    swept = await Retention(redis_client, history, config, trail, "intake:", clock=time.time).sweep()
    assert (swept.contacts, swept.outcomes, swept.markers) == (1, 0, 1)
    left = await history.lookup(NUMBER, now)
    assert [c.call_id for c in left.recent] == ["new"] and left.recent[0].outcome is not None
    assert [m.id for m in left.markers] == ["new"]
    assert set(await redis_client.hkeys(history.keys(NUMBER).outcome)) == {b"old", b"new"}  # outcomes: 60 days
    await trail.flush()
    entries = [link.entry async for link in trail.store.entries(number=NUMBER)]
    assert [(e.action, e.kind, e.record, e.role) for e in entries] == [
        (Action.EXPIRED, RecordKind.HISTORY, "1 removed", "system"), (Action.EXPIRED, RecordKind.MARKER, "1 removed", "system")]
    again = await Retention(redis_client, history, config, trail, "intake:", clock=time.time).sweep()
    assert (again.contacts, again.outcomes, again.markers) == (0, 0, 0)  # a second node's sweep finds nothing
