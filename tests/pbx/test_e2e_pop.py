"""End to end: a 999 caller (SIPp) through the real Asterisk, `intake serve` in its own process,
a handler's desktop on a real WebSocket and the handler's pyVoIP phone.

The pop with the caller's history reaches the desktop before the phone is answered, from the
lookup intake started on the caller channel's Newchannel (Redis reporting writes to histories);
the answer shows as pop.answered; the outcome filed over the socket is in the history of the next call
from the same number.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.pbx.harness import (
    Desktop,
    IntakeProcess,
    QueueLogWindow,
    token_of,
    wait_until,
)
from tests.support.sip import HandlerPhone, sipp_dial

pytestmark = pytest.mark.pbx

CALLER = "caller-5"
NUMBER = "07700900005"


async def test_pop_before_answer_then_outcome_in_the_next_pop(intake: IntakeProcess, pbx) -> None:
    window = QueueLogWindow(pbx).mark()
    intake.start()
    r = httpx.post(intake.base + "/api/markers", headers={"Authorization": f"Bearer {token_of('h2')}"},
                   json={"number": NUMBER, "kind": "vulnerable adult", "detail": "lives alone"})
    assert r.status_code == 201, r.text
    phone = HandlerPhone("handler-1", answer_after=2.0)
    await asyncio.to_thread(phone.start)
    desk = await Desktop.open(intake, "h1")
    calls = []
    try:
        intake.set_state("h1", "ready")
        await wait_until(lambda: intake.handlers()["PJSIP/handler-1"]["state"] == "ready", 5, "h1 ready")

        calls.append(sipp_dial("999", callers=[CALLER], hangup_after=3.0))
        popped_at, pop = await desk.wait_for(lambda m: m["type"] == "pop", 15, "pop")
        answered = await asyncio.to_thread(phone.wait_answered, 15)
        assert popped_at < answered.answered_at, "the pop must reach the desktop before the phone is answered"
        assert pop["line"] == "999" and pop["queue"] == "emergency"
        assert pop["caller"]["number"] == NUMBER
        assert pop["history_status"] == "ok"
        assert [m["kind"] for m in pop["history"]["markers"]] == ["vulnerable adult"]
        assert intake.metric("intake_history_watched") == 1
        held = intake.metric('intake_pop_history_total{source="ready"}') + intake.metric('intake_pop_history_total{source="in_flight"}')
        assert (held, intake.metric('intake_pop_history_total{source="at_ring"}')) == (1, 0)
        call_id = pop["call_id"]

        _, ans = await desk.wait_for(lambda m: m["type"] == "pop.answered" and m["call_id"] == call_id, 10, "pop.answered")
        assert ans["handler_id"] == "h1"
        await desk.send({"type": "outcome", "call_id": call_id, "grading": "priority", "notes": "e2e outcome"})
        await desk.wait_for(lambda m: m["type"] == "outcome.saved" and m["call_id"] == call_id, 5, "outcome.saved")
        assert await asyncio.to_thread(calls[0].wait, 20) == 0, calls[0].output()
        await desk.wait_for(lambda m: m["type"] == "pop.closed" and m["call_id"] == call_id, 10, "pop.closed")

        # The same number calls again: its pop carries the first call with the outcome filed.
        calls.append(sipp_dial("999", callers=[CALLER], hangup_after=4.0))
        _, again = await desk.wait_for(lambda m: m["type"] == "pop" and m["call_id"] != call_id, 15, "second pop")
        recent = again["history"]["recent"]
        assert recent[0]["call_id"] == call_id
        assert recent[0]["grading"] == "priority"
        assert recent[0]["disposition"] == "answered"
        assert again["history"]["count_24h"] >= 1
        await desk.wait_for(lambda m: m["type"] == "pop.answered" and m["call_id"] == again["call_id"], 10, "2nd pop.answered")
        assert await asyncio.to_thread(calls[1].wait, 20) == 0, calls[1].output()
    finally:
        for c in calls:
            c.stop()
        await desk.close()
        await asyncio.to_thread(phone.stop)

    # intake's figures agree with the PBX's record of these two calls.
    await wait_until(lambda: intake.queues()["emergency"]["answered"] == 2, 10, "two answered")
    logged = window.counts()["emergency"]
    figures = intake.queues()["emergency"]
    assert (figures["offered"], figures["answered"], figures["abandoned"]) == (logged["offered"], logged["answered"], logged["abandoned"]) == (2, 2, 0)
