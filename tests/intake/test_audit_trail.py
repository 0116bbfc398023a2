"""The audit trail's writer and store against a real Redis: entries of two nodes in one chain,
in order; tampering with Redis is named by verification; nothing is lost while Redis is away."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from intake.app.audit import AuditTrail
from intake.app.audit_store import AuditStore
from intake.app.auth import HandlerPrincipal, SupervisorPrincipal
from intake.core.audit import Action, Finding, RecordKind, Verified

PREFIX = "t:"


def trail(redis: Any, node: str = "n1", **more: Any) -> AuditTrail:
    return AuditTrail(redis, PREFIX, node=node, **more)


async def test_two_nodes_append_to_one_chain_that_verifies(redis_client: aioredis.Redis) -> None:
    one, two = trail(redis_client, "n1"), trail(redis_client, "n2")
    sup = SupervisorPrincipal(id="sup1")
    for n in range(30):
        one.record(sup, Action.CONSULTED, RecordKind.HISTORY, why=f"reason {n}", number="07700900123")
        two.record(HandlerPrincipal(id="h1", position="desk-4"), Action.ALTERED, RecordKind.OUTCOME,
                   why=f"call 1.{n}", number="07700900124", record=f"1.{n}")
        if n % 7 == 0:
            await asyncio.sleep(0)  # let the writers race
    await asyncio.gather(one.flush(), two.flush())
    store = AuditStore(redis_client, PREFIX)
    assert await store.verify() == Verified(60, await store.tail())
    links = [link async for link in store.entries()]
    assert [link.seq for link in links] == list(range(1, 61))
    mine = [link.entry for link in links if link.entry.node == "n1"]
    assert [e.why for e in mine] == [f"reason {n}" for n in range(30)]  # each node's entries in its order
    first = mine[0]
    assert (first.who_subject, first.who_id, first.role, first.action, first.number) == (
        "token:sup1", "sup1", "supervisor", Action.CONSULTED, "07700900123")
    theirs = next(link.entry for link in links if link.entry.node == "n2")
    assert (theirs.who_id, theirs.role, theirs.position, theirs.record) == ("h1", "handler", "desk-4", "1.0")
    await asyncio.gather(one.close(1.0), two.close(1.0))


async def test_editing_or_deleting_an_entry_in_redis_is_named(redis_client: aioredis.Redis) -> None:
    writer = trail(redis_client)
    for n in range(5):
        writer.record(SupervisorPrincipal(id="sup1"), Action.CONSULTED, RecordKind.HISTORY, why=f"r{n}", number="07700900123")
    await writer.flush()
    store = AuditStore(redis_client, PREFIX)
    raw = await redis_client.lindex(store.links_key, 2)
    edited = json.loads(raw)
    edited["entry"]["who_id"] = "sup2"
    await redis_client.lset(store.links_key, 2, json.dumps(edited))
    found = await store.verify()
    assert isinstance(found, Finding) and (found.problem, found.seq) == ("altered", 3)
    await redis_client.lset(store.links_key, 2, raw)
    assert isinstance(await store.verify(), Verified)
    await redis_client.lrem(store.links_key, 1, raw)
    found = await store.verify()
    assert isinstance(found, Finding) and (found.problem, found.seq) == ("removed", 3)
    await writer.close(1.0)


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_entries_held_while_redis_is_away_are_spooled_and_written_by_the_next_start(
        redis_client: aioredis.Redis, tmp_path: Path) -> None:
    away = aioredis.Redis(port=_dead_port(), socket_connect_timeout=0.2)
    spool = tmp_path / "unwritten.audit.jsonl"
    first = trail(away, spool=spool, retry_every=0.05)
    for n in range(3):
        first.record(SupervisorPrincipal(id="sup1"), Action.DISCLOSED, RecordKind.REPORT, why=f"r{n}", record="2026-12-01")
    await first.close(0.2)  # Redis never answered: nothing may be lost
    await away.aclose()
    assert len(spool.read_text().splitlines()) == 3
    second = trail(redis_client, spool=spool)
    assert second.restore() == 3
    await second.flush()
    store = AuditStore(redis_client, PREFIX)
    assert [link.entry.why async for link in store.entries()] == ["r0", "r1", "r2"]
    await second.close(1.0)
    assert not spool.exists()  # everything read back is in Redis now


async def test_record_never_raises_into_its_caller(redis_client: aioredis.Redis) -> None:
    writer = trail(redis_client)
    writer.record(SupervisorPrincipal(id="sup1"), Action.CONSULTED, RecordKind.HISTORY, why="")  # no reason: dropped, logged
    writer.record(SupervisorPrincipal(id="sup1"), Action.CONSULTED, RecordKind.HISTORY, why="x" * 10_000)
    writer.record(SupervisorPrincipal(id="sup1"), Action.CONSULTED, RecordKind.HISTORY, why="reason: " + "x" * 500)
    await writer.flush()
    entries = [link.entry async for link in AuditStore(redis_client, PREFIX).entries()]
    assert [len(e.why) for e in entries] == [508]  # the longest reason the API takes, with its label
    await writer.close(1.0)


async def test_a_pops_entry_names_the_handler_as_they_signed_in_and_where_they_sit(redis_client: aioredis.Redis) -> None:
    writer = trail(redis_client)
    writer.consulted_by_pop("h1", "1700000000.1", "07700900123")  # never seen signing in: named by id
    writer.seen(HandlerPrincipal(id="h1", subject="idp|h1"))
    writer.position_of = {"h1": "desk-7"}.get
    writer.consulted_by_pop("h1", "1700000000.2", "07700900123")
    await writer.flush()
    entries = [link.entry async for link in AuditStore(redis_client, PREFIX).entries()]
    assert [(e.who_subject, e.who_id, e.role, e.position, e.why) for e in entries] == [
        ("", "h1", "handler", None, "call 1700000000.1"), ("idp|h1", "h1", "handler", "desk-7", "call 1700000000.2")]
    await writer.close(1.0)
