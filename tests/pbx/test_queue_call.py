"""A 999 call through the real PBX: the handler's phone rings and answers, AMI and queue_log
tell the story. Needs root (chroot) and scripts/pbx-up; ~10 s in all."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.support.testbed.pbx import PbxTestbed

pytestmark = pytest.mark.pbx


def _queue_log_events(pbx: PbxTestbed, call_id: str) -> list[str]:
    return [row[4] for row in pbx.read_queue_log() if len(row) > 4 and row[1] == call_id]


async def _add(ami: RawAmi, queue: str, member: str) -> None:
    response = await ami.action("QueueAdd", Queue=queue, Interface=f"PJSIP/{member}", MemberName=member)
    assert response["Response"] == "Success", response


async def test_999_call_rings_the_handler_who_answers_and_queue_log_records_it(pbx: PbxTestbed, ami: RawAmi) -> None:
    phone = HandlerPhone("handler-1", answer_after=1.0)
    await asyncio.to_thread(phone.start)
    call = None
    try:
        await _add(ami, "emergency", "handler-1")
        start = len(ami.frames)
        call = sipp_dial("999", hangup_after=3.0)
        joined = await ami.wait_event("QueueCallerJoin", 10, start, Queue="emergency")
        call_id = joined["Uniqueid"]

        rang = await asyncio.to_thread(phone.wait_ringing, 10)
        answered = await asyncio.to_thread(phone.wait_answered, 10)
        assert answered.call_id == rang.call_id
        connect = await ami.wait_event("AgentConnect", 10, start, Uniqueid=call_id)
        complete = await ami.wait_event("AgentComplete", 15, start, Uniqueid=call_id)
        assert connect["Interface"] == "PJSIP/handler-1"
        assert complete["Reason"] == "caller"
        assert await asyncio.to_thread(call.wait, 15) == 0, call.output()
    finally:
        if call is not None:
            call.stop()
        await asyncio.to_thread(phone.stop)

    order = [f["Event"] for f in ami.frames[start:] if f.get("Uniqueid") == call_id and f.get("Event", "").startswith(("Queue", "Agent"))]
    assert order == ["QueueCallerJoin", "AgentCalled", "QueueCallerLeave", "AgentConnect", "AgentComplete"]
    logged = _queue_log_events(pbx, call_id)
    assert logged[0] == "ENTERQUEUE" and "CONNECT" in logged
    assert logged[-1].startswith("COMPLETE"), logged


async def test_caller_who_cancels_while_the_handler_rings_is_an_abandon(pbx: PbxTestbed, ami: RawAmi) -> None:
    phone = HandlerPhone("handler-2", answer_after=None)
    await asyncio.to_thread(phone.start)
    call = None
    try:
        await _add(ami, "non-emergency", "handler-2")
        start = len(ami.frames)
        call = sipp_dial("101", cancel_after=2.5)
        called = await ami.wait_event("AgentCalled", 10, start, Queue="non-emergency")
        abandon = await ami.wait_event("QueueCallerAbandon", 10, start, Uniqueid=called["Uniqueid"])
        assert await asyncio.to_thread(call.wait, 10) == 0, call.output()
        assert (await asyncio.to_thread(phone.wait_ringing, 5)).answered_at is None
    finally:
        if call is not None:
            call.stop()
        await asyncio.to_thread(phone.stop)
    assert int(abandon["HoldTime"]) >= 2
    assert not [f for f in ami.frames[start:] if f.get("Event") == "AgentRingNoAnswer"]
    assert _queue_log_events(pbx, called["Uniqueid"])[-2:] == ["RINGCANCELED", "ABANDON"]


def test_a_stopped_phone_leaves_no_threads_behind(pbx: PbxTestbed) -> None:
    before = set(threading.enumerate())
    phone = HandlerPhone("handler-3").start()
    phone.stop()
    deadline = 50
    while deadline and set(threading.enumerate()) - before:
        deadline -= 1
        threading.Event().wait(0.1)
    assert set(threading.enumerate()) - before == set()
