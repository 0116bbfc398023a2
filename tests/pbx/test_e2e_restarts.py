"""End to end: restarts. Asterisk restarted under live calls; intake restarted while calls wait."""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter

import pytest

from tests.pbx.harness import (
    Desktop,
    IntakeProcess,
    QueueLogWindow,
    assert_agrees_with_queue_log,
    journal_rows,
    ready,
    wait_until,
)
from tests.support.sip import HandlerPhone, sipp_dial

pytestmark = pytest.mark.pbx


def pbx_rx(pbx, command: str) -> str:
    proc = subprocess.run(["chroot", str(pbx.root), "/usr/sbin/asterisk", "-rx", command],
                          capture_output=True, text=True, timeout=30)
    return proc.stdout + proc.stderr


async def test_asterisk_restart_under_live_calls_loses_and_double_counts_nothing(intake: IntakeProcess, pbx, e2e_redis: str) -> None:
    window = QueueLogWindow(pbx).mark()
    intake.start()
    phone = HandlerPhone("handler-1", answer_after=1.0)
    await asyncio.to_thread(phone.start)
    runs = []
    try:
        intake.set_state("h1", "ready")
        await wait_until(lambda: ready(intake, "PJSIP/handler-1"), 5, "h1 ready")
        # One call answered and talking, two waiting behind it (h1 is busy, ringinuse=no).
        runs.append(sipp_dial("999", callers=["caller-1"], hangup_after=60))
        await asyncio.to_thread(phone.wait_answered, 10)
        runs.append(sipp_dial("999", callers=["caller-2", "caller-3"], calls=2, hangup_after=60))
        await wait_until(lambda: intake.queues()["emergency"]["waiting"] == 2, 10, "two waiting")

        pbx_rx(pbx, "core restart now")  # hangs up every channel; SIPp's calls end with the PBX's BYE
        await asyncio.sleep(1.0)
        await asyncio.to_thread(intake.wait_healthy, 30)
        # intake resynced: nothing live, and h1 back in its queues (Asterisk forgot every member).
        await wait_until(lambda: not intake.calls(), 10, "no live calls after the restart")
        await wait_until(lambda: ready(intake, "PJSIP/handler-1"), 10, "h1 restored to ready")
        for run in runs:
            await asyncio.to_thread(run.wait, 10)  # SIPp counts the PBX's BYE as a failed call: status ignored

        # Calls after the restart are followed as usual.
        runs.append(sipp_dial("999", callers=["caller-4"], hangup_after=3))
        rang = await asyncio.to_thread(phone.wait_ringing, 15, 2)
        assert rang.caller == "07700900004"
        assert await asyncio.to_thread(runs[-1].wait, 20) == 0, runs[-1].output()
    finally:
        for run in runs:
            run.stop()
        await asyncio.to_thread(phone.stop)

    await wait_until(lambda: not intake.calls() and len(journal_rows(e2e_redis)) == 4, 10, "four calls journalled")
    # No call lost or counted twice: one journal record per call queue_log saw enter a queue.
    rows = window.rows()
    entered = [r[1] for r in rows if r[4] == "ENTERQUEUE"]
    records = journal_rows(e2e_redis)
    assert Counter(r["call_id"] for r in records) == Counter(entered), (records, entered)
    # Each call's fate, per queue_log's last word and per intake. Calls cut by `core restart now`:
    # Asterisk hangs up their channels before it closes AMI, so app_queue logs ABANDON (waiting)
    # and COMPLETEAGENT (talking) and sends the matching events first; intake normally sees them
    # and agrees exactly. If the link closed before an abandon got out, intake's resync finds the
    # call gone and can only say "left" (left_other: vanished, fate unknown) where queue_log says
    # ABANDON. So, precisely: answered calls agree one for one; an intake "left" is allowed only
    # for a call queue_log abandoned at the restart; nothing else may differ.
    fate = {r[1]: r[4] for r in rows if r[4] in ("CONNECT", "ABANDON")}
    restarted_at = int(next(r[0] for r in rows if r[4] == "QUEUESTART"))
    abandoned_at = {r[1]: int(r[0]) for r in rows if r[4] == "ABANDON"}
    for record in records:
        cid, settled = record["call_id"], record["settled"]
        if fate.get(cid) == "CONNECT":
            assert settled == "answered", record
        else:
            assert fate.get(cid) == "ABANDON", (record, rows)
            assert settled == "abandoned" or (settled == "left" and abandoned_at[cid] <= restarted_at), (record, rows)
    assert [r["settled"] for r in records].count("answered") == 2
    if all(r["settled"] != "left" for r in records):
        assert_agrees_with_queue_log(intake, window, e2e_redis)  # the usual case: exact agreement
    else:
        figures = intake.queues()["emergency"]
        logged = window.counts()["emergency"]
        assert (figures["offered"], figures["answered"]) == (logged["offered"], logged["answered"])
        assert figures["abandoned"] + figures["left_other"] == logged["abandoned"]


async def test_intake_restarted_while_calls_wait_learns_them_and_pops_the_next_handler(intake: IntakeProcess, pbx) -> None:
    intake.start()
    phone = HandlerPhone("handler-2", answer_after=2.0)
    await asyncio.to_thread(phone.start)
    runs = []
    desk = None
    try:
        # Two callers wait; nobody is ready.
        runs.append(sipp_dial("999", callers=["caller-9"], hangup_after=10))
        runs.append(sipp_dial("101", callers=["caller-10"], hangup_after=2))
        await wait_until(lambda: sum(q["waiting"] for q in intake.queues().values()) == 2, 10, "two waiting")
        intake.stop()
        # While intake is down the PBX carries on; intake comes back and learns the waiting calls.
        await asyncio.sleep(1.0)
        await asyncio.to_thread(intake.start)
        calls = await wait_until(lambda: len(intake.calls()) == 2 and intake.calls(), 10, "waiting calls learned")
        assert {c["caller_number"] for c in calls} == {"07700900009", "07700900010"}
        assert all(c["state"] == "queued" and c["waited_seconds"] >= 1.0 for c in calls), calls
        # The handler who rings next gets the pop, with the caller (999 first: weight).
        desk = await Desktop.open(intake, "h2")
        intake.set_state("h2", "ready")
        _, pop = await desk.wait_for(lambda m: m["type"] == "pop", 10, "pop after intake restart")
        assert pop["caller"]["number"] == "07700900009" and pop["line"] == "999"
        assert pop["waited_seconds"] >= 1.0
        await desk.wait_for(lambda m: m["type"] == "pop.answered" and m["call_id"] == pop["call_id"], 10, "answered")
        _, pop2 = await desk.wait_for(lambda m: m["type"] == "pop" and m["call_id"] != pop["call_id"], 60, "101 pop")
        assert pop2["caller"]["number"] == "07700900010"
        for run in runs:
            assert await asyncio.to_thread(run.wait, 60) == 0, run.output()
    finally:
        for run in runs:
            run.stop()
        if desk is not None:
            await desk.close()
        await asyncio.to_thread(phone.stop)
    # Learned from QueueStatus, not seen joining: shown and settled, but the figures since this
    # intake started count them as offered once each, at the wait QueueStatus reported.
    await wait_until(lambda: not intake.calls(), 10, "all settled")
    figures = intake.queues()
    assert (figures["emergency"]["offered"], figures["emergency"]["answered"]) == (1, 1)
    assert (figures["non-emergency"]["offered"], figures["non-emergency"]["answered"]) == (1, 1)
