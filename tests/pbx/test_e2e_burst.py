"""End to end under load: 22 concurrent calls (12 on 999, 10 on 101, SIPp) to four handler
phones answering after random delays. Afterwards intake's per-queue offered / answered /
abandoned equal the PBX's queue_log exactly, and every answered call's wait as intake measured
it (the call journal in Redis) agrees with queue_log's CONNECT holdtime within 1 s.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.pbx.harness import (
    HANDLERS,
    IntakeProcess,
    QueueLogWindow,
    assert_agrees_with_queue_log,
    journal,
    wait_until,
)
from tests.support.sip import HandlerPhone, sipp_dial

pytestmark = pytest.mark.pbx

CALLS_999 = 12
CALLS_101 = 10


async def test_burst_of_22_calls_agrees_with_queue_log(intake: IntakeProcess, pbx, e2e_redis: str) -> None:
    window = QueueLogWindow(pbx).mark()
    intake.start()
    rng = random.Random(2024)
    phones = [HandlerPhone(f"handler-{n}", answer_after=lambda: rng.uniform(1.0, 4.0)) for n in range(1, 5)]
    await asyncio.gather(*(asyncio.to_thread(p.start) for p in phones))
    runs = []
    try:
        for hid in HANDLERS:
            intake.set_state(hid, "ready")
        await wait_until(lambda: all(h["state"] == "ready" for h in intake.handlers().values()), 5, "all ready")
        # 999 callers hang up 10 s after the PBX answered them (answered by a handler or not:
        # some abandon); 101 callers talk 1.5 s once a handler answers.
        runs.append(sipp_dial("999", callers=[f"caller-{n}" for n in range(1, CALLS_999 + 1)], calls=CALLS_999,
                              rate_per_s=100, hangup_after=10.0))
        runs.append(sipp_dial("101", callers=[f"caller-{n}" for n in range(CALLS_999 + 1, CALLS_999 + CALLS_101 + 1)],
                              calls=CALLS_101, rate_per_s=100, hangup_after=1.5))
        await wait_until(lambda: sum(q["waiting"] for q in intake.queues().values()) >= 15, 10, "calls waiting together")
        for run in runs:
            assert await asyncio.to_thread(run.wait, 90) == 0, run.output()
    finally:
        for run in runs:
            run.stop()
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in phones))

    await wait_until(lambda: not intake.calls(), 10, "every call settled")
    await wait_until(lambda: len(journal(e2e_redis)) == CALLS_999 + CALLS_101, 10, "every call journalled")
    logged = assert_agrees_with_queue_log(intake, window, e2e_redis)
    assert logged["emergency"]["offered"] == CALLS_999 and logged["non-emergency"]["offered"] == CALLS_101
    assert logged["emergency"]["answered"] >= 4 and logged["non-emergency"]["answered"] >= 1
