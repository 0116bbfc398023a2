"""Queue calls over the wire: each outcome yields Asterisk 22's event sequence, in its order."""

from __future__ import annotations

import pytest

from telephony.simulator import SimulatedPbx
from tests.simulator.ami_client import AmiTestClient

ALICE = ("07700900001", "Alice Smith")


# The queue's own story; Dial*, Bridge*, MusicOnHold* and hangup requests are checked against
# the recordings in test_recorded_asterisk.
CORE = {"Newchannel", "Newstate", "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled",
        "AgentRingNoAnswer", "AgentConnect", "AgentComplete", "Hangup"}


def names(client: AmiTestClient, call_id: str) -> list[str]:
    return [f.event for f in client.call_events(call_id) if f.event in CORE]


async def ring(sim: SimulatedPbx, client: AmiTestClient, queue: str = "999") -> tuple[str, str]:
    call_id = sim.place_call(queue, *ALICE)
    called = await client.wait_event("AgentCalled", Uniqueid=call_id)
    return call_id, called["Interface"]


async def test_answered_call_yields_asterisk_sequence_with_consistent_ids(sim: SimulatedPbx, client: AmiTestClient) -> None:
    call_id, member = await ring(sim, client)
    assert member == "PJSIP/handler-1"  # rrmemory starts at the first member
    assert (await client.wait_event("QueueMemberStatus", Interface=member, Status="6"))["Queue"] == "999"
    sim.answer(member)
    await client.wait_event("QueueMemberStatus", Interface=member, Status="2")
    sim.hangup_caller(call_id)
    await client.wait_event("Hangup", Uniqueid=call_id)
    await client.wait_event("QueueMemberStatus", Interface=member, Status="1")

    assert names(client, call_id) == [
        "Newchannel", "Newstate", "QueueCallerJoin", "AgentCalled",
        "QueueCallerLeave", "AgentConnect", "AgentComplete", "Hangup",
    ]
    ev = {f.event: f for f in client.call_events(call_id)}
    assert ev["Newchannel"]["Channel"].startswith("PJSIP/caller-")
    assert (ev["QueueCallerJoin"]["Position"], ev["QueueCallerJoin"]["Count"]) == ("1", "1")
    assert (ev["QueueCallerJoin"]["CallerIDNum"], ev["QueueCallerJoin"]["CallerIDName"]) == ALICE
    assert ev["QueueCallerLeave"]["Count"] == "0"
    leg = ev["AgentCalled"]["DestChannel"]
    assert leg.startswith("PJSIP/handler-1-") and ev["AgentConnect"]["DestChannel"] == leg
    for name in ("AgentCalled", "AgentConnect", "AgentComplete"):
        assert ev[name]["Linkedid"] == ev[name]["DestLinkedid"] == call_id
        assert ev[name]["MemberName"] == "Asha Patel" and ev[name]["Interface"] == member
    assert ev["AgentConnect"]["HoldTime"].isdigit() and ev["AgentConnect"]["RingTime"].isdigit()
    assert ev["AgentComplete"]["Reason"] == "caller" and ev["AgentComplete"]["TalkTime"].isdigit()
    leg_id = ev["AgentCalled"]["DestUniqueid"]
    leg_events = [f.event for f in client.events if f.get("Uniqueid") == leg_id and f.event in CORE]
    assert leg_events == ["Newchannel", "Newstate", "Newstate", "Hangup"]  # Down, Ringing, Up, gone
    leg_born = next(f for f in client.events if f.event == "Newchannel" and f["Uniqueid"] == leg_id)
    assert leg_id.split(".")[0] == leg_born["Timestamp"].split(".")[0]  # <epoch at creation>.<seq>
    assert int(leg_id.split(".")[1]) > int(call_id.split(".")[1])


async def test_handler_hangs_up_gives_reason_agent(sim: SimulatedPbx, client: AmiTestClient) -> None:
    call_id, member = await ring(sim, client)
    sim.answer(member)
    assert sim.hangup_handler(member) == call_id
    done = await client.wait_event("AgentComplete", Uniqueid=call_id)
    assert done["Reason"] == "agent"
    await client.wait_event("Hangup", Uniqueid=call_id)
    assert names(client, call_id)[-2:] == ["AgentComplete", "Hangup"]
    assert sim.queue_log.for_call(call_id)[-1].event == "COMPLETEAGENT"


async def test_caller_abandons_while_waiting(sim: SimulatedPbx, client: AmiTestClient) -> None:
    for member in ("PJSIP/handler-1", "PJSIP/handler-2"):
        sim.pause(member, reason="break", queue="999")
    call_id = sim.place_call("999", *ALICE)
    await client.wait_event("QueueCallerJoin", Uniqueid=call_id)
    sim.hangup_caller(call_id)
    gone = await client.wait_event("QueueCallerAbandon", Uniqueid=call_id)
    await client.wait_event("Hangup", Uniqueid=call_id)
    assert names(client, call_id) == ["Newchannel", "Newstate", "QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave", "Hangup"]
    assert (gone["Position"], gone["OriginalPosition"]) == ("1", "1") and gone["HoldTime"] in ("0", "1")
    assert [line.event for line in sim.queue_log.for_call(call_id)] == ["ENTERQUEUE", "ABANDON"]


async def test_caller_abandons_while_ringing_has_no_ring_no_answer(sim: SimulatedPbx, client: AmiTestClient) -> None:
    call_id, member = await ring(sim, client)
    leg = client.events[-1]["DestUniqueid"] if client.events[-1].event == "AgentCalled" else None
    sim.hangup_caller(call_id)
    await client.wait_event("Hangup", Uniqueid=call_id)
    assert names(client, call_id) == [
        "Newchannel", "Newstate", "QueueCallerJoin", "AgentCalled", "QueueCallerAbandon", "QueueCallerLeave", "Hangup",
    ]
    assert not [f for f in client.events if f.event == "AgentRingNoAnswer"]
    assert [line.event for line in sim.queue_log.for_call(call_id)] == ["ENTERQUEUE", "RINGCANCELED", "ABANDON"]
    await client.wait_event("QueueMemberStatus", Interface=member, Status="1")
    assert leg is None or any(f.event == "Hangup" and f["Uniqueid"] == leg for f in client.events)


@pytest.mark.parametrize("how", ["timeout", "reject"])
async def test_ring_no_answer_then_next_member_on_a_new_channel(sim: SimulatedPbx, client: AmiTestClient, how: str) -> None:
    call_id, first = await ring(sim, client)
    if how == "reject":
        sim.reject(first)
    rna = await client.wait_event("AgentRingNoAnswer", Uniqueid=call_id)
    again = await client.wait_event("AgentCalled", Uniqueid=call_id)
    assert rna["Interface"] == first and again["Interface"] == "PJSIP/handler-2"
    assert again["DestChannel"] != rna["DestChannel"]
    if how == "timeout":
        assert 300 <= int(rna["RingTime"]) <= 1500  # milliseconds: queue timeout 0.3 s, plus tick and load
    sim.answer("PJSIP/handler-2")
    await client.wait_event("AgentConnect", Uniqueid=call_id)
    assert names(client, call_id)[3:] == ["AgentCalled", "AgentRingNoAnswer", "AgentCalled", "QueueCallerLeave", "AgentConnect"]
    log = [line.event for line in sim.queue_log.for_call(call_id)]
    assert log == ["ENTERQUEUE", "RINGNOANSWER", "CONNECT"]


@pytest.mark.parametrize("first", ["101", "999"])
async def test_member_of_both_queues_gets_the_999_caller_first(sim: SimulatedPbx, client: AmiTestClient, first: str) -> None:
    for member in ("PJSIP/handler-1", "PJSIP/handler-2", "PJSIP/handler-3"):
        sim.pause(member, reason="meal")
    second = "999" if first == "101" else "101"
    calls = {first: sim.place_call(first, "07700900002", "Early Caller")}
    await client.wait_event("QueueCallerJoin", Uniqueid=calls[first])
    calls[second] = sim.place_call(second, "07700900003", "Late Caller")
    await client.wait_event("QueueCallerJoin", Uniqueid=calls[second])
    sim.unpause("PJSIP/handler-2")
    called = await client.wait_event("AgentCalled", Interface="PJSIP/handler-2")
    assert called["Uniqueid"] == calls["999"]


async def test_paused_member_is_not_rung_and_pause_carries_reason(sim: SimulatedPbx, client: AmiTestClient) -> None:
    resp = await client.action("QueuePause", Interface="PJSIP/handler-1", Queue="999", Paused="true", Reason="training")
    assert resp["Response"] == "Success"
    paused = await client.wait_event("QueueMemberPause", Interface="PJSIP/handler-1")
    assert (paused["Paused"], paused["PausedReason"], paused["Queue"]) == ("1", "training", "999")
    assert "Reason" not in paused  # Asterisk 22 as recorded: PausedReason only
    call_id, member = await ring(sim, client)
    assert member == "PJSIP/handler-2"
    sim.hangup_caller(call_id)
