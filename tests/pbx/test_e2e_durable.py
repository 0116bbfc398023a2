"""End to end: what intake had pending survives `kill -9`. A wrap-up running when intake died
ends on time after the restart (the PBX's own QueueStatus and QueueMemberPause say so); today's
figures after a restart mid-day equal the PBX's queue_log for the day."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

import pytest
import redis

from tests.pbx.harness import (
    E2E_REDIS_DB,
    IntakeProcess,
    QueueLogWindow,
    assert_agrees_with_queue_log,
    intake_counts,
    journal,
    member_shows,
    member_status,
    ready,
    wait_until,
)
from tests.pbx.intake_server import intake_config, running_intake
from tests.pbx.wrapup_call import MEMBER, QUEUES, a_999_call_into_wrapup
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.waiting import eventually, patience

pytestmark = pytest.mark.pbx

WRAPUP_SECONDS = 10


def stored_timers(redis_url: str) -> list[dict[str, Any]]:
    client = redis.Redis.from_url(f"{redis_url}/{E2E_REDIS_DB}")
    try:
        return [json.loads(raw) for raw in client.zrange("e2e:timers", 0, -1)]
    finally:
        client.close()


@pytest.mark.parametrize("back", ["before-the-end", "after-the-end"])
async def test_intake_killed_during_wrapup_makes_the_handler_ready_on_time_after_restart(
        intake: IntakeProcess, pbx, ami: RawAmi, e2e_redis: str, back: str) -> None:
    await killed_during_wrapup(intake, pbx, ami, e2e_redis, back, cut=False)


@pytest.mark.parametrize("back", ["before-the-end", "after-the-end"])
async def test_intake_killed_between_the_wrapups_two_pauses_makes_the_handler_ready_on_time_after_restart(
        intake: IntakeProcess, pbx, ami: RawAmi, e2e_redis: str, back: str) -> None:
    """The wrap-up pauses its queues one QueuePause at a time; intake killed between the two
    (seen under load) left the handler paused in one queue and ready in the other, and the
    restart dropped the wrap-up as "ready": paused in the first queue for good."""
    await killed_during_wrapup(intake, pbx, ami, e2e_redis, back, cut=True)


async def killed_during_wrapup(intake: IntakeProcess, pbx, ami: RawAmi, e2e_redis: str, back: str, *, cut: bool) -> None:
    """Kill -9 during a wrap-up, back before or after its end: the handler is made ready in
    every queue, not before the end. ``cut``: the PBX as intake left it when killed after the
    first queue's pause and before the second's (set by the test: the kill cannot be aimed
    between two actions a few milliseconds apart)."""
    async with a_999_call_into_wrapup(intake, pbx, ami, e2e_redis, wrapup_seconds=WRAPUP_SECONDS, hangup_after=5.0) as call:
        mark = call.mark
        paused = await ami.wait_event("QueueMemberPause", patience(30), mark, Interface=MEMBER, Paused="1")
        assert paused.get("PausedReason") == "wrap-up", paused
        # The wrap-up's end as the PBX saw it start; intake keeps its timer in Redis (written
        # before the pause was sent), which says the same within the pause's round trip.
        ends_at = float(paused["Timestamp"]) + WRAPUP_SECONDS
        kept = stored_timers(e2e_redis)

        intake.stop(signal.SIGKILL)
        killed_at = time.time()
        assert killed_at < ends_at - 1.0, "intake was to die during the wrap-up"
        if cut:
            await ami.action("QueuePause", Interface=MEMBER, Queue=QUEUES[1], Paused="false")
            status = {q: (f["Paused"], f.get("PausedReason", "")) for q, f in (await member_status(ami, MEMBER)).items()}
            assert status == {QUEUES[0]: ("1", "wrap-up"), QUEUES[1]: ("0", "")}, status
            mark = len(ami.frames)
        if back == "after-the-end":  # intake is down when the wrap-up should end
            await asyncio.sleep(ends_at - killed_at + 1.0)
        await asyncio.to_thread(intake.start)

        unpaused = await ami.wait_event("QueueMemberPause", patience(WRAPUP_SECONDS + 20), mark, Interface=MEMBER, Paused="0")
        if cut:
            [*_, resumed] = [r for r in intake.log_records() if r.get("event") == "wrapup_resumed"]
            assert resumed["verdict"] in {"schedule", "complete-now"}, resumed
            if resumed["verdict"] == "schedule":  # back before the end: the pause finished where it had not reached
                [repaused] = [f for f in ami.frames[mark:] if f.get("Event") == "QueueMemberPause" and f.get("Interface") == MEMBER
                              and f.get("Queue") == QUEUES[1] and f.get("Paused") == "1"]
                assert repaused.get("PausedReason") == "wrap-up" and float(repaused["Timestamp"]) < ends_at, repaused
        [timer] = kept
        assert timer["handler_id"] == "h1" and timer["reason"] == "wrap-up" and abs(timer["due"] - ends_at) < 2.0, (timer, paused)
        assert float(unpaused["Timestamp"]) >= timer["due"], ("made ready before the wrap-up ended", unpaused, timer)
        await member_shows(ami, MEMBER, QUEUES, "0")  # the PBX's own word: in both queues, not paused
        await wait_until(lambda: ready(intake, MEMBER), 5, "h1 ready in intake's picture")
        await wait_until(lambda: not stored_timers(e2e_redis), 5, "the finished wrap-up removed from Redis")


def calls_by_number(intake: IntakeProcess) -> dict[str, str]:
    return {c["caller_number"]: c["state"] for c in intake.calls()}


async def test_intake_killed_and_restarted_mid_day_shows_the_days_figures_equal_to_queue_log(intake: IntakeProcess, pbx, e2e_redis: str) -> None:
    window = QueueLogWindow(pbx).mark()
    intake.start()
    phone = HandlerPhone("handler-1", answer_after=1.0)
    await asyncio.to_thread(phone.start)
    runs = []
    try:
        # Before the restart: a 101 caller gives up while nobody is ready; a 999 call is answered
        # and over; another 999 call is answered and still talking at the restart; a 101 call
        # waits behind it (ringinuse = no) across the restart.
        runs.append(sipp_dial("101", callers=["caller-1"], cancel_after=3.0))  # the 101 queue rings, unanswered, until then
        assert await asyncio.to_thread(runs[-1].wait, 20) == 0, runs[-1].output()
        intake.set_state("h1", "ready")
        await wait_until(lambda: ready(intake, MEMBER), 5, "h1 ready")
        runs.append(sipp_dial("999", callers=["caller-2"], hangup_after=4.0))
        assert await asyncio.to_thread(runs[-1].wait, 30) == 0, runs[-1].output()
        await wait_until(lambda: not intake.calls() and ready(intake, MEMBER), 10, "the first 999 call over")
        runs.append(sipp_dial("999", callers=["caller-3"], hangup_after=15.0))
        await wait_until(lambda: calls_by_number(intake).get("07700900003") == "answered", 15, "999 call talking")
        runs.append(sipp_dial("101", callers=["caller-4"], hangup_after=3.0))
        await wait_until(lambda: calls_by_number(intake).get("07700900004") == "queued", 10, "101 call waiting")
        before = intake_counts(intake.queues())
        # The three calls whose outcome is known are journalled (the talking one since its answer).
        await wait_until(lambda: len(journal(e2e_redis)) == 3, 5, "three calls journalled before the restart")

        intake.stop(signal.SIGKILL)
        await asyncio.to_thread(intake.start)
        # The day's figures are back at once (the waiting call counted once, by the resync)...
        await wait_until(lambda: intake_counts(intake.queues()) == before, 10, f"the figures of before the restart {before}")
        # ...and carry on: the talking call ends, the waiting one is answered, one more comes.
        assert await asyncio.to_thread(runs[2].wait, 40) == 0, runs[2].output()
        assert await asyncio.to_thread(runs[3].wait, 40) == 0, runs[3].output()
        runs.append(sipp_dial("999", callers=["caller-5"], hangup_after=3.0))
        assert await asyncio.to_thread(runs[-1].wait, 30) == 0, runs[-1].output()
    finally:
        for run in runs:
            run.stop()
        await asyncio.to_thread(phone.stop)

    await wait_until(lambda: not intake.calls() and len(journal(e2e_redis)) == 5, 10, "five calls settled and journalled")
    logged = assert_agrees_with_queue_log(intake, window, e2e_redis)
    assert logged == {"emergency": {"offered": 3, "answered": 3, "abandoned": 0, "left_other": 0},
                      "non-emergency": {"offered": 2, "answered": 1, "abandoned": 1, "left_other": 0}}, window.rows()
    today = intake.queues()["emergency"]["today"]
    assert (today["settled"], today["answered_within_target"]) == (3, 3), today


async def test_a_101_handler_lent_by_an_intake_that_died_is_returned_by_the_next(pbx, ami: RawAmi) -> None:
    """Whether a handler is lent is the PBX's fact (in a 999 queue their configuration does not
    give them), not a timer of ours: a fresh intake recalls them once the 999 queue has stayed
    clear for clear_seconds, counted from its own start (it cannot know when the line cleared)."""
    config = intake_config(pbx, {"h2": ["emergency"], "h3": ["non-emergency"]}, enabled=True,
                           overflow={"clear_seconds": 2, "penalty": 5})
    # What the dead intake left: h3 ready in 101 and lent to 999 (no call waiting anywhere).
    await ami.action("QueueAdd", Queue="non-emergency", Interface="PJSIP/handler-3", MemberName="h3")
    await ami.action("QueueAdd", Queue="emergency", Interface="PJSIP/handler-3", MemberName="h3", Penalty="5")
    start = len(ami.frames)
    async with running_intake(pbx, config) as server:
        await ami.wait_event("QueueMemberRemoved", patience(15), start, Queue="emergency", Interface="PJSIP/handler-3")
        await member_shows(ami, "PJSIP/handler-3", ("non-emergency",), "0")  # still at work on 101
        # The registry follows the PBX's QueueMemberRemoved.
        await eventually(lambda: not server.steering.view()["active"], 5, "no handler lent")
        assert ("recall", "queue-clear") in server.steering.decisions
