"""End to end: two `intake serve` nodes on one real Asterisk and one Redis. The leader of the
site does the wrap-ups; `kill -9` it while a handler is in wrap-up and a 999 caller waits: the
other node leads within its lease, ends the wrap-up once and on time (the PBX's own
QueueMemberPause events say so), wraps up the next call itself, and each call is journalled once
although both nodes journal every call. `kill -9` it during a burst: the other node's figures
still equal the PBX's queue_log, every call is journalled once, every wrap-up ends."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.pbx.harness import (
    IntakeProcess,
    QueueLogWindow,
    assert_agrees_with_queue_log,
    flush_e2e_db,
    intake_process,
    journal_rows,
    ready,
    ready_then_burst,
    wait_until,
)
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.sip.callers import SippRun
from tests.support.testbed.ami import RawAmi

pytestmark = pytest.mark.pbx

MEMBER = "PJSIP/handler-1"
QUEUES = ("emergency", "non-emergency")
WRAPUP_SECONDS = 6
LEASE_SECONDS = 1.5


def cluster_node(tmp: Path, pbx: Any, redis_url: str, node_id: str, wrapup_seconds: float = WRAPUP_SECONDS) -> IntakeProcess:
    tmp.mkdir()
    return intake_process(tmp, pbx, redis_url, wrapup_seconds=wrapup_seconds, node_id=node_id, lease_seconds=LEASE_SECONDS)


async def start_leader_then_follower(a: IntakeProcess, b: IntakeProcess) -> None:
    """node-a first, leading once it has reconciled; then node-b, following it."""
    await asyncio.to_thread(a.start)
    await wait_until(lambda: a.leadership()["role"] == "leading", 10, "node-a leads")
    await asyncio.to_thread(b.start)
    await wait_until(lambda: b.leadership()["leader"] == "node-a", 10, "node-b sees node-a lead")


def pauses(ami: RawAmi, start: int, paused: str) -> list[dict[str, str]]:
    return [dict(f) for f in ami.frames[start:] if f.get("Event") == "QueueMemberPause" and f.get("Interface") == MEMBER
            and f.get("Paused") == paused]


async def test_the_leader_killed_during_a_wrap_up_the_other_node_leads_ends_it_once_and_journals_each_call_once(
        pbx: Any, ami: RawAmi, e2e_redis: str, tmp_path: Path) -> None:
    flush_e2e_db(e2e_redis)
    a = cluster_node(tmp_path / "a", pbx, e2e_redis, "node-a")
    b = cluster_node(tmp_path / "b", pbx, e2e_redis, "node-b")
    phone = HandlerPhone("handler-1", answer_after=1.0)
    runs = []
    try:
        await start_leader_then_follower(a, b)
        await asyncio.to_thread(phone.start)
        b.set_state("h1", "ready")  # a handler's own command: carried out by the follower it reached
        await wait_until(lambda: ready(a, MEMBER) and ready(b, MEMBER), 5, "h1 ready on both nodes")

        mark = len(ami.frames)
        runs.append(sipp_dial("999", callers=["caller-1"], hangup_after=2.0))
        await wait_until(lambda: len(pauses(ami, mark, "1")) == len(QUEUES), 30, "h1 paused for wrap-up")
        runs.append(sipp_dial("999", callers=["caller-2"], hangup_after=15.0))  # waits: h1 is the only handler
        await wait_until(lambda: any(c["caller_number"] == "07700900002" for c in b.calls()), 10, "caller-2 waiting")

        a.stop(signal.SIGKILL)
        killed = time.monotonic()
        await wait_until(lambda: b.leadership()["role"] == "leading", 10, "node-b leads")
        print(json.dumps({"takeover_seconds": round(time.monotonic() - killed, 3), "lease_seconds": LEASE_SECONDS}))

        # node-b ends the first wrap-up, caller-2 is answered, and node-b wraps that call up and ends it too.
        await wait_until(lambda: len(pauses(ami, mark, "0")) == 2 * len(QUEUES), 60, "both wrap-ups ended")
        for run in runs:
            assert await asyncio.to_thread(run.wait, 30) == 0, run.output()
        await wait_until(lambda: not b.calls() and ready(b, MEMBER), 10, "both calls over, h1 ready")
        # Each wrap-up paused and ended h1 once per queue, never twice: node-a was dead, node-b alone leads.
        assert sorted(p["Queue"] for p in pauses(ami, mark, "1")) == sorted(QUEUES * 2)
        assert sorted(p["Queue"] for p in pauses(ami, mark, "0")) == sorted(QUEUES * 2)
        first_end = min(float(p["Timestamp"]) for p in pauses(ami, mark, "0"))
        first_start = min(float(p["Timestamp"]) for p in pauses(ami, mark, "1"))
        assert first_end - first_start >= WRAPUP_SECONDS - 0.5, "the first wrap-up ended early"

        rows = await wait_until(lambda: len(journal_rows(e2e_redis)) >= 2 and journal_rows(e2e_redis), 10, "journalled")
        numbers = sorted(r["call_id"] for r in rows)
        assert len(numbers) == len(set(numbers)) == 2, rows
    finally:
        for run in runs:
            run.stop()
        await asyncio.to_thread(phone.stop)
        a.stop()
        b.stop()
        print(f"--- node-a ---\n{a.log_tail(30)}\n--- node-b ---\n{b.log_tail(60)}")


CALLS_999, CALLS_101 = 8, 6


async def test_the_leader_killed_during_a_burst_figures_equal_queue_log_and_each_call_is_journalled_once(
        pbx: Any, e2e_redis: str, tmp_path: Path) -> None:
    flush_e2e_db(e2e_redis)
    window = QueueLogWindow(pbx).mark()
    a = cluster_node(tmp_path / "a", pbx, e2e_redis, "node-a", wrapup_seconds=1.0)
    b = cluster_node(tmp_path / "b", pbx, e2e_redis, "node-b", wrapup_seconds=1.0)
    phones = [HandlerPhone(f"handler-{n}", answer_after=1.0 + n / 2) for n in range(1, 5)]
    runs: list[SippRun] = []
    try:
        await start_leader_then_follower(a, b)
        await asyncio.gather(*(asyncio.to_thread(p.start) for p in phones))
        await ready_then_burst([b, a], runs, calls_999=CALLS_999, calls_101=CALLS_101, hangup_999=6.0, waiting=6)
        a.stop(signal.SIGKILL)
        await wait_until(lambda: b.leadership()["role"] == "leading", 10, "node-b leads")
        for run in runs:
            assert await asyncio.to_thread(run.wait, 90) == 0, run.output()
        await wait_until(lambda: not b.calls(), 10, "every call settled")
        await wait_until(lambda: all(h["state"] == "ready" for h in b.handlers().values()), 20, "every wrap-up ended")
        await wait_until(lambda: len(journal_rows(e2e_redis)) >= CALLS_999 + CALLS_101, 10, "every call journalled")
        ids = [r["call_id"] for r in journal_rows(e2e_redis)]
        assert len(ids) == len(set(ids)) == CALLS_999 + CALLS_101  # both nodes journalled them: once each
        logged = assert_agrees_with_queue_log(b, window, e2e_redis)
        assert logged["emergency"]["offered"] == CALLS_999 and logged["non-emergency"]["offered"] == CALLS_101
    finally:
        for run in runs:
            run.stop()
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in phones))
        a.stop()
        b.stop()
        print(f"--- node-b ---\n{b.log_tail(40)}")
