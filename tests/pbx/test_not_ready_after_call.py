"""End to end on Asterisk: Not ready pressed during a call means "not ready after this call". The
PBX pauses the handler with their reason at once (no call is offered meanwhile), the call's
wrap-up still runs when it ends, and at the wrap-up's end intake pauses them with their reason:
never unpaused in between. The PBX's own QueueMemberPause events and QueueStatus are the referee."""

from __future__ import annotations

import asyncio

import pytest

from tests.pbx.harness import (
    IntakeProcess,
    member_shows,
    ready,
    wait_until,
    write_config,
)
from tests.pbx.test_e2e_durable import MEMBER, QUEUES
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.waiting import patience

pytestmark = pytest.mark.pbx

WRAPUP_SECONDS = 4


async def test_not_ready_pressed_on_a_call_pauses_with_the_reason_when_the_calls_wrapup_ends(
        intake: IntakeProcess, pbx, ami: RawAmi, e2e_redis: str) -> None:
    write_config(intake.config, pbx, e2e_redis, intake.http_port, wrapup_seconds=WRAPUP_SECONDS)
    intake.start()
    phone = HandlerPhone("handler-1", answer_after=1.0)
    await asyncio.to_thread(phone.start)
    run = None
    try:
        intake.set_state("h1", "ready")
        await wait_until(lambda: ready(intake, MEMBER), 5, "h1 ready")
        mark = len(ami.frames)
        run = sipp_dial("999", callers=["caller-1"], hangup_after=6.0)  # from the PBX answering the caller
        await wait_until(lambda: intake.handlers()[MEMBER]["state"] == "on-call", 30, "h1 on the call")
        intake.set_state("h1", "not-ready", "meal")
        await member_shows(ami, MEMBER, QUEUES, "1", "meal")  # at once: the PBX offers h1 nothing more
        assert intake.handlers()[MEMBER]["state"] == "on-call"  # still talking

        wrapup = await ami.wait_event("QueueMemberPause", patience(30), mark, Interface=MEMBER, Paused="1",
                                      PausedReason="wrap-up")
        after = await ami.wait_event("QueueMemberPause", patience(WRAPUP_SECONDS + 20), ami.frames.index(wrapup) + 1,
                                     Interface=MEMBER, Paused="1", PausedReason="meal", Queue=wrapup["Queue"])
        assert float(after["Timestamp"]) >= float(wrapup["Timestamp"]) + WRAPUP_SECONDS - 0.5, (wrapup, after)
        await member_shows(ami, MEMBER, QUEUES, "1", "meal")
        assert not [f for f in ami.frames[mark:] if f.get("Event") == "QueueMemberPause" and f.get("Interface") == MEMBER
                    and f.get("Paused") == "0"], "h1 was made ready between the call and the break"
        await wait_until(lambda: intake.handlers()[MEMBER]["state"] == "not-ready"
                         and intake.handlers()[MEMBER]["reason"] == "meal", 5, "h1 not ready (meal) in intake's picture")
        assert await asyncio.to_thread(run.wait, 20) == 0, run.output()
    finally:
        if run is not None:
            run.stop()
        await asyncio.to_thread(phone.stop)
        intake.set_state("h1", "ready")
