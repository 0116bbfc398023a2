"""End to end on Asterisk: Not ready pressed during a call means "not ready after this call". The
PBX pauses the handler with their reason at once (no call is offered meanwhile), the call's
wrap-up still runs when it ends, and at the wrap-up's end intake pauses them with their reason:
never unpaused in between. The PBX's own QueueMemberPause events and QueueStatus are the referee;
the handler's desktop, on a real WebSocket, is shown each state once, in order, with nothing
between: no "not ready" flashing up at the call's end before the wrap-up (intake shows the
wrap-up from the call's end, not from its pause's return: intake.core.handlers.WrapUpDue)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.pbx.harness import Desktop, IntakeProcess, member_shows, wait_until
from tests.pbx.wrapup_call import MEMBER, QUEUES, a_999_call_into_wrapup
from tests.support.testbed.ami import RawAmi
from tests.waiting import patience

pytestmark = pytest.mark.pbx

WRAPUP_SECONDS = 4


def shown(desk: Desktop) -> list[tuple[str, str, str | None]]:
    """Each state the desktop was told, from the first on-call: (state, reason, not ready after the call)."""
    told = [(m["state"], m["reason"], m.get("not_ready_after_call")) for _, m in desk.messages if m.get("type") == "me"]
    on_call = next(i for i, (state, _, _) in enumerate(told) if state == "on-call")
    return told[on_call:]


def me(state: str, reason: str = "") -> Any:
    return lambda m: m.get("type") == "me" and m["state"] == state and m["reason"] == reason


async def test_not_ready_pressed_on_a_call_pauses_with_the_reason_when_the_calls_wrapup_ends(
        intake: IntakeProcess, pbx, ami: RawAmi, e2e_redis: str) -> None:
    desk = None
    try:
        async with a_999_call_into_wrapup(intake, pbx, ami, e2e_redis, wrapup_seconds=WRAPUP_SECONDS,
                                          hangup_after=6.0) as call:
            desk = await Desktop.open(intake, "h1")
            await desk.wait_for(me("on-call"), patience(30), "h1 on the call")
            intake.set_state("h1", "not-ready", "meal")
            await member_shows(ami, MEMBER, QUEUES, "1", "meal")  # at once: the PBX offers h1 nothing more
            assert intake.handlers()[MEMBER]["state"] == "on-call"  # still talking

            wrapup = await ami.wait_event("QueueMemberPause", patience(30), call.mark, Interface=MEMBER, Paused="1",
                                          PausedReason="wrap-up")
            after = await ami.wait_event("QueueMemberPause", patience(WRAPUP_SECONDS + 20), ami.frames.index(wrapup) + 1,
                                         Interface=MEMBER, Paused="1", PausedReason="meal", Queue=wrapup["Queue"])
            assert float(after["Timestamp"]) >= float(wrapup["Timestamp"]) + WRAPUP_SECONDS - 0.5, (wrapup, after)
            await member_shows(ami, MEMBER, QUEUES, "1", "meal")
            assert not [f for f in ami.frames[call.mark:] if f.get("Event") == "QueueMemberPause"
                        and f.get("Interface") == MEMBER and f.get("Paused") == "0"], "h1 was made ready between the call and the break"
            await wait_until(lambda: intake.handlers()[MEMBER]["state"] == "not-ready"
                             and intake.handlers()[MEMBER]["reason"] == "meal", 5, "h1 not ready (meal) in intake's picture")
            await desk.wait_for(me("not-ready", "meal"), patience(5), "h1's desktop showing not ready (meal)")
            # Every state the desktop was told, in order: the call's end goes straight to wrap-up.
            assert shown(desk) == [("on-call", "", None), ("on-call", "", "meal"), ("wrap-up", "wrap-up", "meal"),
                                   ("not-ready", "meal", None)], shown(desk)
    finally:
        if desk is not None:
            await desk.close()
        intake.set_state("h1", "ready")
