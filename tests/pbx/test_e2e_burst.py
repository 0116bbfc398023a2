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
    IntakeProcess,
    QueueLogWindow,
    assert_agrees_with_queue_log,
    journal,
    ready_then_burst,
    wait_until,
)
from tests.support.sip import HandlerPhone
from tests.support.sip.callers import SippRun

pytestmark = pytest.mark.pbx

CALLS_999 = 12
CALLS_101 = 10


async def test_burst_of_22_calls_agrees_with_queue_log(intake: IntakeProcess, pbx, e2e_redis: str) -> None:
    window = QueueLogWindow(pbx).mark()
    intake.start()
    rng = random.Random(2024)
    phones = [HandlerPhone(f"handler-{n}", answer_after=lambda: rng.uniform(1.0, 4.0)) for n in range(1, 5)]
    await asyncio.gather(*(asyncio.to_thread(p.start) for p in phones))
    runs: list[SippRun] = []
    try:
        await ready_then_burst([intake], runs, calls_999=CALLS_999, calls_101=CALLS_101, hangup_999=10.0, waiting=15)
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
