"""A handler whose phone rings out is taken out of distribution by intake, on the real PBX.

Real parts only: Asterisk 22 (scripts/pbx-up), `intake serve` in its own process with the
shipped rule (pause after one ring-out, reason "rang out"), pyVoIP phones for handler A (h1,
never answers) and handler B (h2, answers), a SIPp caller on 999, and Debian's chromium showing
A's desktop and a supervisor's wallboard. A raw AMI session (not intake's) is the referee.

The story: A is ready and B not yet; the 999 call rings A for the queue's 15 s; Asterisk sends
AgentRingNoAnswer; intake pauses A on both queues with "rang out" (QueueStatus says so); the
call rings B, who answers; A's desktop says why A was taken out, the wallboard shows the reason,
/metrics counts the pause and intake's log names the call and the handler; A presses Ready and
is back in distribution. ~25 s, most of it the ring timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.browser.conftest import ARTIFACTS
from tests.pbx.harness import (
    SUPERVISOR_TOKEN,
    IntakeProcess,
    desk_state,
    member_shows,
    token_of,
    wait_until,
)
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.waiting import patience_ms

pytestmark = [pytest.mark.pbx, pytest.mark.browser]

A, B = "PJSIP/handler-1", "PJSIP/handler-2"
QUEUES = ("emergency", "non-emergency")
RANG_OUT = "rang out"  # routing.ring_no_answer_reason's default, as shipped
NOTE = "You were taken out of the queues because your phone rang for a call and was not answered."


async def sign_in(page: Any, intake: IntakeProcess, path: str, token: str, ready: str) -> None:
    await page.goto(intake.base + path)
    await page.fill("#token", token)
    await page.click("#signin button[type=submit]")
    await page.wait_for_selector(ready, timeout=patience_ms(5000))


def pauses_counted(intake: IntakeProcess) -> float | None:
    text = httpx.get(intake.base + "/metrics", timeout=5).text
    wanted = 'intake_ring_out_pauses_total{line="999",queue="emergency",result="paused"} '
    return next((float(line.removeprefix(wanted)) for line in text.splitlines() if line.startswith(wanted)), None)


async def test_a_handler_whose_phone_rings_out_is_paused_by_intake_and_told_why(
        intake: IntakeProcess, ami: RawAmi, browser: Any) -> None:
    intake.start()
    absent, present = HandlerPhone("handler-1", answer_after=None), HandlerPhone("handler-2", answer_after=1.0)
    await asyncio.gather(asyncio.to_thread(absent.start), asyncio.to_thread(present.start))
    handler_ctx = await browser.new_context(viewport={"width": 1280, "height": 1000})
    supervisor_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    desk, board = await handler_ctx.new_page(), await supervisor_ctx.new_page()
    caller = None
    try:
        await sign_in(board, intake, "/wallboard", SUPERVISOR_TOKEN, "[data-line='999']")
        await sign_in(desk, intake, "/desktop", token_of("h1"), "#connection.up")
        await desk.click("#btn-ready")
        await member_shows(ami, A, QUEUES, "0")
        await desk_state(desk, "ready")

        # The 999 call rings A, the only one ready; B joins while A's phone rings.
        start = len(ami.frames)
        caller = sipp_dial("999", callers=["caller-9"], hangup_after=24.0)  # answered by the PBX: its whole stay
        called = await ami.wait_event("AgentCalled", 10, start, Interface=A)
        call_id = called["Uniqueid"]
        intake.set_state("h2", "ready")
        await member_shows(ami, B, QUEUES, "0")

        # A's phone rings out; intake, not a supervisor, pauses A on both queues with the reason.
        rang_out = await ami.wait_event("AgentRingNoAnswer", 20, start, Interface=A, Uniqueid=call_id)
        assert int(rang_out["RingTime"]) >= 15000, rang_out
        paused = await ami.wait_event("QueueMemberPause", 5, start, Interface=A, Paused="1")
        assert paused["PausedReason"] == RANG_OUT, paused
        status = await member_shows(ami, A, QUEUES, "1", RANG_OUT)
        assert {q: (s["Paused"], s["PausedReason"]) for q, s in status.items()} == {q: ("1", RANG_OUT) for q in QUEUES}

        # The call goes on to B, who answers it; A is not rung again.
        connected = await ami.wait_event("AgentConnect", 10, start, Uniqueid=call_id)
        assert connected["Interface"] == B, connected
        assert [f["Interface"] for f in ami.frames[start:] if f.get("Event") == "AgentCalled" and f.get("Uniqueid") == call_id] == [A, B]

        # A's desktop says why; the wallboard shows the reason; /metrics counts it; the log names the call.
        await desk_state(desk, "not-ready")
        assert await desk.text_content("#state-reason") == f"({RANG_OUT})"
        assert await desk.is_visible("#state-note")
        assert NOTE in await desk.text_content("#state-note")
        await board.wait_for_function(
            "r => { const row = document.querySelector('#handlers tr[data-handler=h1] [data-col=reason]');"
            " return row && row.textContent === r; }", arg=RANG_OUT, timeout=patience_ms(3000))
        ARTIFACTS.mkdir(exist_ok=True)
        await desk.screenshot(path=str(ARTIFACTS / "ring-out-desktop.png"), full_page=True)
        await board.screenshot(path=str(ARTIFACTS / "ring-out-wallboard.png"), full_page=True)
        assert await wait_until(lambda: pauses_counted(intake), 5, "the pause in /metrics") == 1
        logged = [r for r in intake.log_records() if r.get("event") == "pausing_after_ring_out"]
        assert [(r["call_id"], r["handler_id"], r["queue"]) for r in logged] == [(call_id, "h1", "emergency")], logged
        assert intake.handlers()[B]["state"] == "on-call"

        # A comes back with the desktop's Ready button.
        await desk.click("#btn-ready")
        await member_shows(ami, A, QUEUES, "0")
        await desk_state(desk, "ready")
        assert await desk.is_hidden("#state-note")
        assert await asyncio.to_thread(caller.wait, 30) == 0, caller.output()
    finally:
        if caller is not None:
            caller.stop()
        await handler_ctx.close()
        await supervisor_ctx.close()
        await asyncio.gather(asyncio.to_thread(absent.stop), asyncio.to_thread(present.stop))
