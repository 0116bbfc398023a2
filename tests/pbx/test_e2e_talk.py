"""End to end through the real Asterisk: the talk time intake files beside an answered call's
journal record (staffing's handle time, docs/staffing.md) is the PBX's own, against queue_log's
COMPLETECALLER calltime."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis

from tests.pbx.harness import (
    E2E_REDIS_DB,
    Desktop,
    IntakeProcess,
    QueueLogWindow,
    journal,
    wait_until,
)
from tests.support.sip import HandlerPhone, sipp_dial

pytestmark = pytest.mark.pbx


def journal_seconds(redis_url: str, kind: str) -> dict[str, float]:
    """call id -> seconds, from every day's ``journal-{kind}`` hash (talk, wrapup; field: call id|queue|queue entry)."""
    client = redis.Redis.from_url(f"{redis_url}/{E2E_REDIS_DB}")
    try:
        return {field.decode().split("|")[0]: float(value) for key in client.scan_iter(f"e2e:journal-{kind}:*")
                for field, value in client.hgetall(key).items()}
    finally:
        client.close()


def talk_times(redis_url: str) -> dict[str, float]:
    return journal_seconds(redis_url, "talk")


async def test_an_answered_calls_talk_time_is_the_pbxs(intake: IntakeProcess, pbx, e2e_redis: str) -> None:
    window = QueueLogWindow(pbx).mark()
    intake.start()
    phone = HandlerPhone("handler-1", answer_after=1.0)
    await asyncio.to_thread(phone.start)
    h1 = await Desktop.open(intake, "h1")
    run = None
    try:
        intake.set_state("h1", "ready")
        await wait_until(lambda: intake.handlers()["PJSIP/handler-1"]["state"] == "ready", 5, "h1 ready")
        started = time.monotonic()
        run = sipp_dial("999", callers=["caller-6"], hangup_after=8.0)
        _, pop = await h1.wait_for(lambda m: m["type"] == "pop" and m["line"] == "999", 10, "999 pop")
        assert await asyncio.to_thread(run.wait, 30) == 0, run.output()
        call_id = pop["call_id"]
        talk = await wait_until(lambda: talk_times(e2e_redis).get(call_id), 10, "the call's talk time filed")
    finally:
        if run is not None:
            run.stop()
        await h1.close()
        await asyncio.to_thread(phone.stop)

    completed = [row for row in window.rows() if row[1] == call_id and row[4] in ("COMPLETECALLER", "COMPLETEAGENT")]
    assert completed, window.rows()
    calltime = int(completed[0][6])  # holdtime|calltime|position: whole seconds, time(NULL) truncated
    assert abs(talk - calltime) <= 1.0, (talk, calltime)
    assert 0 < talk < time.monotonic() - started
    assert journal(e2e_redis)[call_id]["settled"] == "answered"
