"""End to end, two nodes: two `intake serve` processes on one Redis, both following the real
Asterisk. A handler's desktop is on node A; node A is killed (-9); a 999 call rings the
handler's phone while the desktop is cut off; the desktop reconnects to node B with its
last_seq and the ringing call's pop is on screen before the phone is answered, then B's live
messages follow: one seq for each message, though both nodes popped the calls.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from tests.pbx.harness import Desktop, IntakeProcess, intake_process, wait_until
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.pbx import PbxTestbed

pytestmark = pytest.mark.pbx


def stream_of(desk: Desktop) -> list[tuple[int, str, str]]:
    return [(m["seq"], m["type"], m["call_id"]) for _, m in desk.messages if m["type"].startswith("pop")]


async def test_a_desktop_resumes_on_the_other_node_with_the_ringing_calls_pop(
        intake: IntakeProcess, pbx: PbxTestbed, e2e_redis: str, tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    node_b = intake_process(tmp_path / "b", pbx, e2e_redis)
    intake.start()
    node_b.start()
    phone = HandlerPhone("handler-1", answer_after=3.0)
    await asyncio.to_thread(phone.start)
    calls = []
    desk = await Desktop.open(intake, "h1", last_seq=0)
    try:
        intake.set_state("h1", "ready")
        await wait_until(lambda: node_b.handlers()["PJSIP/handler-1"]["state"] == "ready", 5, "h1 ready on node B")

        calls.append(sipp_dial("999", callers=["caller-5"], hangup_after=6.0))
        _, first = await desk.wait_for(lambda m: m["type"] == "pop", 15, "first pop, on node A")
        await desk.wait_for(lambda m: m["type"] == "pop.answered", 15, "first pop.answered")
        await desk.wait_for(lambda m: m["type"] == "pop.closed", 20, "first call's end")
        seen = stream_of(desk)
        assert [s for s, _, _ in seen] == [1, 2, 3], seen  # both nodes popped it: one message each, one seq
        last_seq = seen[-1][0]
        await wait_until(lambda: node_b.handlers()["PJSIP/handler-1"]["state"] == "ready", 10, "h1 ready again")

        intake.stop(signal.SIGKILL)  # node A dies; its desktop is cut off
        await desk.close()
        calls.append(sipp_dial("999", callers=["caller-6"], hangup_after=6.0))
        await wait_until(lambda: node_b.handlers()["PJSIP/handler-1"]["state"] == "ringing", 15, "h1's phone ringing")

        desk = await Desktop.open(node_b, "h1", last_seq=last_seq)
        popped_at, second = await desk.wait_for(lambda m: m["type"] == "pop", 10, "the ringing call's pop, on node B")
        answered = await asyncio.to_thread(phone.wait_answered, 15, nth=2)
        assert popped_at < answered.answered_at, "the pop must be on screen before the phone is answered"
        assert (second["seq"], second["caller"]["number"]) == (last_seq + 1, "07700900006")
        assert second["call_id"] != first["call_id"]
        await desk.wait_for(lambda m: m["type"] == "pop.answered", 15, "the live pop.answered from node B")
        assert stream_of(desk)[:2] == [(last_seq + 1, "pop", second["call_id"]), (last_seq + 2, "pop.answered", second["call_id"])]
        for c in calls:
            assert await asyncio.to_thread(c.wait, 20) == 0, c.output()
    finally:
        for c in calls:
            c.stop()
        await desk.close()
        await asyncio.to_thread(phone.stop)
        node_b.stop()
        print(f"--- tail of node B's log ---\n{node_b.log_tail(40)}")
