"""An abandoned 999 call on the real PBX becomes a call-back task: offered on a ready 999
handler's desktop, the handler's phone is originated to the caller's phone, the outcome closes
it; the task is in Redis all along. ~15 s."""

from __future__ import annotations

import asyncio
import json

import fakeredis
import pytest

from routing.callbacks import CallbackOutcome, CallbackStore
from routing.handler_desk import Wanted
from tests.pbx.intake_server import hang_up_everything, intake_config, running_intake
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.support.testbed.pbx import PbxTestbed

pytestmark = pytest.mark.pbx

NUMBER = "07700900003"  # caller-3's CallerID in pjsip.conf


async def test_an_abandoned_999_call_is_called_back_from_the_handlers_phone(pbx: PbxTestbed, ami: RawAmi) -> None:
    redis = fakeredis.FakeAsyncRedis()
    config = intake_config(pbx, {"h2": ["emergency"]})
    handler = HandlerPhone("handler-2", answer_after=0.5)
    caller_phone = HandlerPhone("caller-3", answer_after=0.5)  # the member of the public, answering
    for phone in (handler, caller_phone):
        await asyncio.to_thread(phone.start)
    abandon = None
    try:
        async with running_intake(pbx, config, redis) as server:
            outbox = server.hub.attach("h2", 0)  # from the stream start: no snapshot first
            start = len(ami.frames)
            # Nobody logged in: the caller gives up after 2 s in the queue.
            abandon = sipp_dial("999", callers=["caller-3"], hangup_after=2.0)
            await ami.wait_event("QueueCallerAbandon", 10, start, Queue="emergency")
            async with asyncio.timeout(5):
                while not server.callbacks.tasks:
                    await asyncio.sleep(0.05)
            [task] = server.callbacks.tasks.values()
            assert task.number == NUMBER and task.waited_seconds >= 1.5
            await server.desk.request("h2", Wanted.READY)
            offer = json.loads(await asyncio.wait_for(outbox.next(), 5))
            assert offer["type"] == "callback" and offer["task_id"] == task.id and offer["number"] == NUMBER

            await server.callbacks.start("h2", task.id)
            await asyncio.to_thread(handler.wait_answered, 10)
            rang = await asyncio.to_thread(caller_phone.wait_answered, 15)
            assert rang.answered_at is not None
            # On the call-back, the PBX reports the handler's phone in use: not ready for queue calls.
            async with asyncio.timeout(5):
                while server.registry.handlers["PJSIP/handler-2"].view(server.config.wrapup_reason)["state"] != "on-call":
                    await asyncio.sleep(0.05)
            assert server.registry.handlers["PJSIP/handler-2"].view(server.config.wrapup_reason)["reason"] == "phone in use"
            server.callbacks.record_outcome("h2", task.id, CallbackOutcome(contact="reached", grading="resolved",
                                                                            notes="pocket dial, no police action"))
            updates = []  # the card as it changed (calling, phone answered), then its close
            while not updates or updates[-1]["type"] != "pop.closed":
                updates.append(json.loads(await asyncio.wait_for(outbox.next(), 5)))
            assert updates[0] == {**updates[0], "type": "callback", "status": "calling"}
            assert updates[-1] == {**updates[-1], "call_id": f"callback:{task.id}", "reason": "callback-closed"}
            await server.writes.flush()
        stored = await redis.hgetall("intake:callbacks")
        [saved] = [json.loads(v) for v in stored.values()]
        assert saved["status"] == "closed" and saved["outcome"]["notes"] == "pocket dial, no police action"
        steps = [h.split(" ", 1)[1] for h in saved["history"]]
        assert steps[0].startswith("abandoned after") and steps[1:3] == ["offered to h2", "call-back started by h2"]
        # Asterisk's OriginateResponse for the handler's phone answering was followed.
        assert "handler's phone answered: the PBX is ringing the caller" in steps
    finally:
        await hang_up_everything(ami)
        if abandon is not None:
            abandon.stop()
        for phone in (handler, caller_phone):
            await asyncio.to_thread(phone.stop)


async def test_a_call_back_the_handlers_phone_does_not_answer_goes_back_to_them_with_asterisks_reason(
        pbx: PbxTestbed, ami: RawAmi) -> None:
    config = intake_config(pbx, {"h2": ["emergency"]}, callback={"ring_seconds": 2})
    handler = HandlerPhone("handler-2", answer_after=None)  # rings, never answers
    await asyncio.to_thread(handler.start)
    abandon = None
    try:
        async with running_intake(pbx, config) as server:
            outbox = server.hub.attach("h2", 0)
            start = len(ami.frames)
            abandon = sipp_dial("999", callers=["caller-3"], hangup_after=1.0)
            await ami.wait_event("QueueCallerAbandon", 10, start, Queue="emergency")
            await server.desk.request("h2", Wanted.READY)
            offer = json.loads(await asyncio.wait_for(outbox.next(), 5))
            await server.callbacks.start("h2", offer["task_id"])
            await asyncio.to_thread(handler.wait_ringing, 5)
            failed = await ami.wait_event("OriginateResponse", 10, start, Response="Failure")
            assert (failed["Reason"], failed["Channel"]) == ("3", "PJSIP/handler-2")
            updates = []
            while not updates or updates[-1].get("problem") == "":
                updates.append(json.loads(await asyncio.wait_for(outbox.next(), 5)))
            assert updates[-1] == {**updates[-1], "type": "callback", "status": "open", "problem": "your phone was not answered"}
            task = server.callbacks.tasks[offer["task_id"]]
            assert (task.status, task.offered_to) == ("open", "h2")  # theirs to try again
    finally:
        await hang_up_everything(ami)
        if abandon is not None:
            abandon.stop()
        await asyncio.to_thread(handler.stop)


async def test_open_tasks_survive_a_restart_and_a_new_call_from_the_number_closes_them() -> None:
    from routing.callbacks import CallbackTask

    redis = fakeredis.FakeAsyncRedis()
    store = CallbackStore(redis, "intake:")
    await store.save(CallbackTask(id="1.1", number=NUMBER, queue="emergency", abandoned_at=1.0, waited_seconds=4.0))
    [again] = await CallbackStore(redis, "intake:").load_open()
    assert again.number == NUMBER and again.status == "open"


@pytest.mark.parametrize("exten", ["caller-7&PJSIP/handler-2", "07700900007&PJSIP/handler-2", "07700900007;x"])
async def test_the_callback_dialplan_has_no_extension_for_an_injected_exten(pbx: PbxTestbed, ami: RawAmi, exten: str) -> None:
    """Defence in depth: intake's own Originate refuses such an Exten (telephony/values.py), so it
    is sent raw here, as any other AMI client or a future bug could. Before issue 11 the test
    mapping ``_caller-X.`` took the first one, and Dial(PJSIP/caller-7&PJSIP/handler-2) rang
    handler-2's phone as well; now no pattern of [callback] matches anything but digits, and
    Asterisk refuses the Originate before ringing any phone."""
    start = len(ami.frames)
    response = await ami.action("Originate", Channel="PJSIP/handler-1", Context="callback", Exten=exten, Priority="1",
                                Async="true", Timeout="10000")
    assert (response["Response"], response["Message"]) == ("Error", "Extension does not exist.")
    assert not [f for f in ami.frames[start:] if f.get("Event") == "Newchannel"]
