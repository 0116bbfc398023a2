"""End to end: the ways a queue call ends, through the real Asterisk, and the supervisors'
figures in /api/queues (bearer token) against the PBX's own queue_log.

- abandoned while waiting (999, nobody ready, the caller hangs up),
- abandoned while a handler's phone rings (101, the caller CANCELs),
- ring-no-answer, then answered by another handler (999: h1's phone rings out after the
  queue's 15 s, intake pauses h1 for it, h2 answers the next attempt).
"""

from __future__ import annotations

import asyncio

import pytest

from tests.pbx.harness import (
    Desktop,
    IntakeProcess,
    QueueLogWindow,
    intake_counts,
    journal,
    wait_until,
)
from tests.support.sip import HandlerPhone, sipp_dial

pytestmark = pytest.mark.pbx


async def test_abandons_and_ring_no_answer_figures_match_queue_log(intake: IntakeProcess, pbx, e2e_redis: str) -> None:
    window = QueueLogWindow(pbx).mark()
    intake.start()
    absent = HandlerPhone("handler-1", answer_after=None)  # rings, never answers
    present = HandlerPhone("handler-2", answer_after=1.0)
    await asyncio.gather(asyncio.to_thread(absent.start), asyncio.to_thread(present.start))
    h1, h2 = await Desktop.open(intake, "h1"), await Desktop.open(intake, "h2")
    runs = []
    try:
        # 1. Abandoned while waiting: nobody is ready.
        runs.append(sipp_dial("999", callers=["caller-6"], hangup_after=2.0))
        assert await asyncio.to_thread(runs[-1].wait, 20) == 0, runs[-1].output()
        await wait_until(lambda: intake.queues()["emergency"]["abandoned"] == 1, 5, "999 abandon counted")

        # 2. Abandoned while h1's phone rings (101, a CANCEL before anyone answered).
        intake.set_state("h1", "ready")
        await wait_until(lambda: intake.handlers()["PJSIP/handler-1"]["state"] == "ready", 5, "h1 ready")
        runs.append(sipp_dial("101", callers=["caller-7"], cancel_after=3.0))
        _, pop_b = await h1.wait_for(lambda m: m["type"] == "pop" and m["line"] == "101", 10, "101 pop")
        await h1.wait_for(lambda m: m["type"] == "pop.closed" and m["call_id"] == pop_b["call_id"], 10, "101 close")
        assert await asyncio.to_thread(runs[-1].wait, 20) == 0, runs[-1].output()
        closed_b = next(m for _, m in h1.messages if m["type"] == "pop.closed" and m["call_id"] == pop_b["call_id"])
        assert closed_b["reason"] == "abandoned"
        # The caller hung up while h1's phone rang: no ring-out (no AgentRingNoAnswer), so h1 stays ready.
        assert intake.handlers()["PJSIP/handler-1"]["state"] == "ready"

        # 3. h1 rings out (15 s), then h2 (made ready once h1 rings) answers.
        runs.append(sipp_dial("999", callers=["caller-8"], hangup_after=22.0))
        _, pop_c = await h1.wait_for(lambda m: m["type"] == "pop" and m["line"] == "999", 10, "999 pop on h1")
        intake.set_state("h2", "ready")
        _, closed_c = await h1.wait_for(lambda m: m["type"] == "pop.closed" and m["call_id"] == pop_c["call_id"], 20, "ring-out close")
        assert closed_c["reason"] == "rang-out"
        # rrmemory would ring the absent h1 again once the round wraps: intake takes h1 out of
        # distribution itself after the ring-out (routing.pause_after_ring_no_answer = 1).
        await wait_until(lambda: (h := intake.handlers()["PJSIP/handler-1"])["state"] == "not-ready" and h["reason"] == "rang out",
                         5, "h1 paused by intake for the ring-out")
        await h2.wait_for(lambda m: m["type"] == "pop" and m["call_id"] == pop_c["call_id"], 10, "999 pop on h2")
        await h2.wait_for(lambda m: m["type"] == "pop.answered" and m["call_id"] == pop_c["call_id"], 10, "answered by h2")
        assert await asyncio.to_thread(runs[-1].wait, 30) == 0, runs[-1].output()
    finally:
        for run in runs:
            run.stop()
        for desk in (h1, h2):
            await desk.close()
        await asyncio.gather(asyncio.to_thread(absent.stop), asyncio.to_thread(present.stop))

    logged = window.counts()
    assert logged == {
        "emergency": {"offered": 2, "answered": 1, "abandoned": 1, "left_other": 0},
        "non-emergency": {"offered": 1, "answered": 0, "abandoned": 1, "left_other": 0},
    }, window.rows()
    await wait_until(lambda: intake_counts(intake.queues()) == logged, 5, "intake's counts = queue_log's")
    assert window.events_of(pop_c["call_id"]) == ["ENTERQUEUE", "RINGNOANSWER", "CONNECT", "COMPLETECALLER"]
    # The answered call's wait: intake (PBX timestamps) vs queue_log's CONNECT holdtime (whole s).
    holdtime = window.holdtimes()[pop_c["call_id"]]
    record = (await wait_until(lambda: journal(e2e_redis).get(pop_c["call_id"]), 5, "journal record"))
    assert record["settled"] == "answered"
    assert abs(record["waited_seconds"] - holdtime) <= 1.0, (record, holdtime)
    figures = intake.queues()["emergency"]
    assert figures["from_queue_entry"]["mean_answer_seconds"] == pytest.approx(record["waited_seconds"], abs=0.01)
