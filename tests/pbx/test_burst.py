"""A burst of 20 concurrent 999 calls from distinct callers: every one is queued and, with no
handler logged in, abandons. Proves the caller endpoints and SIPp bursts work (~4 s)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.sip import sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.support.testbed.pbx import PbxTestbed

pytestmark = pytest.mark.pbx

CALLS = 20


async def test_twenty_concurrent_callers_are_all_queued_then_abandon(pbx: PbxTestbed, ami: RawAmi) -> None:
    start = len(ami.frames)
    burst = sipp_dial("999", callers=[f"caller-{n}" for n in range(1, CALLS + 1)], calls=CALLS, rate_per_s=100, hangup_after=2.0)
    try:
        status = await asyncio.to_thread(burst.wait, 30)
        assert status == 0, burst.output()
        await ami.wait_for(lambda _: len(_abandons(ami, start)) >= CALLS, 10)
    finally:
        burst.stop()
    joins = [f for f in ami.frames[start:] if f.get("Event") == "QueueCallerJoin"]
    assert len(joins) == CALLS
    assert len({f["CallerIDNum"] for f in joins}) == CALLS  # each call came from its own endpoint
    assert max(int(f["Count"]) for f in joins) >= CALLS // 2  # they really overlapped in the queue
    assert len(_abandons(ami, start)) == CALLS


def _abandons(ami: RawAmi, start: int) -> list[dict[str, str]]:
    return [f for f in ami.frames[start:] if f.get("Event") == "QueueCallerAbandon"]
