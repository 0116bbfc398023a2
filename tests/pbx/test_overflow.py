"""Routing on the real PBX with real SIP calls: 999 first for a handler in both queues, and
overflow of a 101 handler to the 999 queue when the target is at risk, with the policy on and off.

The PBX distributes; intake only lends (QueueAdd with a penalty) and recalls (QueueRemove).
~45 s in all: each overflow case waits out a 999 handler's call.
"""

from __future__ import annotations

import asyncio

import pytest

from routing.handler_desk import Wanted
from tests.pbx.intake_server import hang_up_everything, intake_config, running_intake
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.support.testbed.pbx import PbxTestbed
from tests.waiting import eventually

pytestmark = pytest.mark.pbx

TARGET = 12.0
# The dialplan answers a 999 call at once, so a SIPp caller's hangup_after is its whole stay:
# the first call keeps the 999 handler busy past the target, the second outlasts its wait.
FIRST_CALL = 16.0
SECOND_CALL = FIRST_CALL + 10


async def test_a_handler_in_both_queues_gets_the_waiting_999_call_first(pbx: PbxTestbed, ami: RawAmi) -> None:
    phone = HandlerPhone("handler-1", answer_after=0.5)
    await asyncio.to_thread(phone.start)
    calls = []
    try:
        for queue in ("emergency", "non-emergency"):
            await ami.action("QueueAdd", Queue=queue, Interface="PJSIP/handler-1", MemberName="h1", Paused="true")
        start = len(ami.frames)
        # The 101 call arrives first and has waited longer: still the 999 call is offered first.
        calls.append(sipp_dial("101", callers=["caller-1"], hangup_after=1.0))
        await ami.wait_event("QueueCallerJoin", 10, start, Queue="non-emergency")
        await asyncio.sleep(1.0)
        # A 999 call is answered by the dialplan at once: hangup_after is its whole stay.
        calls.append(sipp_dial("999", callers=["caller-2"], hangup_after=6.0))
        await ami.wait_event("QueueCallerJoin", 10, start, Queue="emergency")
        await ami.action("QueuePause", Interface="PJSIP/handler-1", Paused="false")
        first = await ami.wait_event("AgentConnect", 10, start)
        second = await ami.wait_event("AgentConnect", 15, start, Queue="non-emergency")
    finally:
        await hang_up_everything(ami)
        for call in calls:
            call.stop()
        await asyncio.to_thread(phone.stop)
    assert first["Queue"] == "emergency"
    assert float(first["Timestamp"]) < float(second["Timestamp"])


@pytest.mark.parametrize("policy", ["on", "off"])
async def test_a_ready_101_handler_takes_a_999_call_at_risk_only_with_the_policy_on(pbx: PbxTestbed, ami: RawAmi, policy: str) -> None:
    config = intake_config(pbx, {"h2": ["emergency"], "h3": ["non-emergency"]},
                            enabled=policy == "on", overflow={"clear_seconds": 3, "penalty": 5})
    phones = [HandlerPhone(name, answer_after=0.5) for name in ("handler-2", "handler-3")]
    for phone in phones:
        await asyncio.to_thread(phone.start)
    calls = []
    try:
        async with running_intake(pbx, config) as server:
            for h in ("h2", "h3"):
                await server.desk.request(h, Wanted.READY)
            start = len(ami.frames)
            calls.append(sipp_dial("999", callers=["caller-1"], hangup_after=FIRST_CALL))
            first = await ami.wait_event("AgentConnect", 10, start, Interface="PJSIP/handler-2")
            calls.append(sipp_dial("999", callers=["caller-2"], hangup_after=SECOND_CALL))
            joined = await ami.wait_for(lambda f: f.get("Event") == "QueueCallerJoin" and f.get("Queue") == "emergency"
                                        and f["Uniqueid"] != first["Uniqueid"], 10, start)
            answered = await ami.wait_event("AgentConnect", FIRST_CALL + 10, start, Uniqueid=joined["Uniqueid"])
            hold = float(answered["Timestamp"]) - float(joined["Timestamp"])
            if policy == "on":
                assert answered["Interface"] == "PJSIP/handler-3", answered
                assert hold < TARGET, hold
                added = await ami.wait_event("QueueMemberAdded", 1, start, Queue="emergency", Interface="PJSIP/handler-3")
                assert added["Penalty"] == "5"
                await eventually(lambda: server.steering.view()["active"], 5, "overflow shown")
                # Once the 999 queue has stayed clear for clear_seconds, handler 3 goes back.
                removed = await ami.wait_event("QueueMemberRemoved", 10, start, Queue="emergency", Interface="PJSIP/handler-3")
                assert float(removed["Timestamp"]) - float(answered["Timestamp"]) >= 3.0
                # The PBX tells intake's session and this test's own AMI client in turn: intake's
                # picture follows the removal it reports, not before this client has seen it.
                await eventually(lambda: not server.steering.view()["active"], 5, "overflow shown over")
                assert ("lend", "outnumbered") in server.steering.decisions
            else:
                assert answered["Interface"] == "PJSIP/handler-2", answered
                assert hold > TARGET, hold
                assert not [f for f in ami.frames[start:] if f.get("Event") == "QueueMemberAdded" and f.get("Queue") == "emergency"
                            and f.get("Interface") == "PJSIP/handler-3"]
            print(f"policy {policy}: second 999 call answered by {answered['Interface']} after {hold:.2f} s (target {TARGET:g} s)")
    finally:
        await hang_up_everything(ami)
        for call in calls:
            call.stop()
        for phone in phones:
            await asyncio.to_thread(phone.stop)
