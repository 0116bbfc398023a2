"""End to end on Asterisk: a handler's wrap-up is measured as it really lasted, not as configured.
A real call ends, intake pauses the handler in wrap-up (the line's configured 60 s), the handler
goes ready after a few seconds; the wrap-up intake files is the PBX's own pause-to-unpause (its
QueueMemberPause events are the referee), and ``intake staffing`` for the day counts it in the
handle time (talk + measured wrap-up), saying so (docs/staffing.md)."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import pytest

from tests.pbx.harness import (
    IntakeProcess,
    intake_cli,
    journal,
    wait_until,
)
from tests.pbx.test_e2e_talk import journal_seconds, talk_times
from tests.pbx.wrapup_call import MEMBER, a_999_call_into_wrapup
from tests.support.testbed.ami import RawAmi
from tests.waiting import patience

pytestmark = pytest.mark.pbx

CONFIGURED_WRAPUP = 60  # what the line means to give; the handler takes far less
TAKES = 3.0  # seconds the handler spends in wrap-up before going ready


def wrapup_times(redis_url: str) -> dict[str, float]:
    return journal_seconds(redis_url, "wrapup")


async def test_a_handler_going_ready_early_ends_the_wrap_up_staffing_counts(
        intake: IntakeProcess, pbx, ami: RawAmi, e2e_redis: str) -> None:
    async with a_999_call_into_wrapup(intake, pbx, ami, e2e_redis, wrapup_seconds=CONFIGURED_WRAPUP, hangup_after=4.0) as call:
        paused = await ami.wait_event("QueueMemberPause", patience(30), call.mark, Interface=MEMBER, Paused="1",
                                      PausedReason="wrap-up")
        await wait_until(lambda: intake.handlers()[MEMBER]["state"] == "wrap-up", 5, "h1 in wrap-up")
        await asyncio.sleep(TAKES)  # the handler's few seconds of notes: a span to measure, not a wait for an outcome
        intake.set_state("h1", "ready")
        unpaused = await ami.wait_event("QueueMemberPause", patience(10), ami.frames.index(paused) + 1,
                                        Interface=MEMBER, Paused="0")
    (call_id,) = [c for c, r in journal(e2e_redis).items() if r["line"] == "999"]
    measured = await wait_until(lambda: wrapup_times(e2e_redis).get(call_id), 10, "the call's wrap-up filed")
    talk = await wait_until(lambda: talk_times(e2e_redis).get(call_id), 10, "the call's talk filed")

    pbx_span = float(unpaused["Timestamp"]) - float(paused["Timestamp"])
    assert abs(measured - pbx_span) <= 0.5, (measured, pbx_span)
    assert TAKES <= measured < CONFIGURED_WRAPUP / 2

    day = date.fromtimestamp(journal(e2e_redis)[call_id]["queued_at"]).isoformat()
    done = await asyncio.to_thread(intake_cli, intake, "staffing", "--from", day, "--to", day)
    assert done.returncode == 0, done.stderr
    (row,) = [r for r in json.loads(done.stdout)["intervals"] if r["line"] == "999"]
    assert (row["answered"], row["wrapup"], row["wrapups_measured"]) == (1, "measured", 1)
    assert row["handle_seconds"] == pytest.approx(talk + measured, abs=0.1)  # not talk + the configured 60 s
    csv_done = await asyncio.to_thread(intake_cli, intake, "staffing", "--from", day, "--to", day, "--csv")
    assert csv_done.returncode == 0, csv_done.stderr
    assert csv_done.stdout.splitlines()[0].endswith(",wrapup,wrapups_measured")
