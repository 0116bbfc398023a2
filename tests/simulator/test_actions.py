"""Actions a client sends the simulated PBX, answered as Asterisk 22 answers them."""

from __future__ import annotations

import asyncio
import dataclasses

from telephony.simulator import SimulatedPbx
from tests.simulator.ami_client import AmiTestClient
from tests.simulator.conftest import SCRIPTED


async def hold_999(sim: SimulatedPbx) -> None:
    for member in ("PJSIP/handler-1", "PJSIP/handler-2"):
        sim.pause(member, reason="break", queue="999")


async def test_queue_status_lists_members_and_a_waiting_caller_whose_wait_grows() -> None:
    async with SimulatedPbx(dataclasses.replace(SCRIPTED, speed=10)) as sim:
        client = await AmiTestClient.logged_in(sim.port)
        await hold_999(sim)
        call_id = sim.place_call("999", "07700900001", "Alice Smith")
        await client.wait_event("QueueCallerJoin", Uniqueid=call_id)
        waits = []
        for _ in range(2):
            resp, items = await client.event_list("QueueStatus", "QueueStatusComplete", Queue="999")
            assert (resp["Response"], resp["EventList"]) == ("Success", "start")
            assert [i.event for i in items] == ["QueueParams", "QueueMember", "QueueMember", "QueueEntry", "QueueStatusComplete"]
            assert all(i.action_id == resp.action_id for i in items)
            assert (items[-1]["EventList"], items[-1]["ListItems"]) == ("Complete", "4")
            members = {i["Location"]: i for i in items if i.event == "QueueMember"}
            assert members["PJSIP/handler-1"]["Name"] == "Asha Patel"
            assert members["PJSIP/handler-1"]["Paused"] == "1" and members["PJSIP/handler-1"]["PausedReason"] == "break"
            entry = items[3]
            assert (entry["Uniqueid"], entry["CallerIDNum"], entry["Position"]) == (call_id, "07700900001", "1")
            assert items[0]["Calls"] == "1" and items[0]["Weight"] == "10"
            waits.append(int(entry["Wait"]))
            await asyncio.sleep(0.25)  # 2.5 simulated seconds
        assert waits[1] >= waits[0] + 2
        await client.close()


async def test_core_show_channels_shows_a_bridged_queue_call(sim: SimulatedPbx, client: AmiTestClient) -> None:
    call_id = sim.place_call("999", "07700900001", "Alice Smith")
    await client.wait_event("AgentCalled", Uniqueid=call_id)
    sim.answer("PJSIP/handler-1")
    resp, items = await client.event_list("CoreShowChannels", "CoreShowChannelsComplete")
    assert resp["EventList"] == "start"
    chans = {i["Uniqueid"]: i for i in items if i.event == "CoreShowChannel"}
    caller = chans[call_id]
    assert (caller["Application"], caller["ApplicationData"]) == ("Queue", "999")
    assert caller["BridgeId"] and caller["Duration"].count(":") == 2
    leg = next(c for u, c in chans.items() if u != call_id)
    assert leg["BridgeId"] == caller["BridgeId"] and leg["Linkedid"] == call_id
    assert items[-1]["ListItems"] == "2"


async def test_queue_add_remove_penalty_and_their_errors(client: AmiTestClient) -> None:
    ok = await client.action("QueueAdd", Queue="999", Interface="PJSIP/handler-3", MemberName="Cara Lewis", Penalty="2")
    assert ok["Response"] == "Success"
    added = await client.wait_event("QueueMemberAdded", Interface="PJSIP/handler-3")
    assert (added["Queue"], added["Penalty"], added["MemberName"], added["Membership"]) == ("999", "2", "Cara Lewis", "dynamic")
    again = await client.action("QueueAdd", Queue="999", Interface="PJSIP/handler-3")
    assert (again["Response"], again["Message"]) == ("Error", "Unable to add interface: Already there")
    nosuch = await client.action("QueueAdd", Queue="nope", Interface="PJSIP/handler-3")
    assert nosuch["Message"] == "Unable to add interface to queue: No such queue"
    pen = await client.action("QueuePenalty", Queue="999", Interface="PJSIP/handler-3", Penalty="0")
    assert pen["Response"] == "Success"
    assert (await client.wait_event("QueueMemberPenalty", Interface="PJSIP/handler-3"))["Penalty"] == "0"
    gone = await client.action("QueueRemove", Queue="999", Interface="PJSIP/handler-3")
    assert gone["Response"] == "Success"
    await client.wait_event("QueueMemberRemoved", Interface="PJSIP/handler-3", Queue="999")
    twice = await client.action("QueueRemove", Queue="999", Interface="PJSIP/handler-3")
    assert (twice["Response"], twice["Message"]) == ("Error", "Unable to remove interface: Not there")
    nobody = await client.action("QueuePause", Interface="PJSIP/nobody", Paused="true")
    assert (nobody["Response"], nobody["Message"]) == ("Error", "Interface not found")


async def test_originate_into_a_queue_makes_a_queue_call_on_the_second_local_half(client: AmiTestClient) -> None:
    resp = await client.action("Originate", Channel="Local/101@intake-test", Application="Wait", Data="6",
                               Async="true", CallerID='"Dora Jones" <07700900009>')
    assert (resp["Response"], resp["Message"]) == ("Success", "Originate successfully queued")
    done = await client.wait_event("OriginateResponse", ActionID=resp.action_id or "")
    assert (done["Response"], done["Reason"], done["Application"], done["Data"]) == ("Success", "4", "Wait", "6")
    assert done["Channel"].startswith("Local/101@intake-test-") and done["Channel"].endswith(";1")
    joined = await client.wait_event("QueueCallerJoin", Linkedid=done["Uniqueid"])
    assert joined["Channel"] == done["Channel"][:-1] + "2" and joined["Uniqueid"] != done["Uniqueid"]
    assert (joined["Queue"], joined["CallerIDNum"], joined["CallerIDName"]) == ("101", "07700900009", "Dora Jones")
    assert any(f.event == "LocalBridge" for f in client.events)


async def test_originate_to_nowhere_fails(client: AmiTestClient) -> None:
    resp = await client.action("Originate", Channel="Local/555@intake-test", Application="Wait", Data="1")
    assert (resp["Response"], resp["Message"]) == ("Error", "Originate failed")


async def test_originate_a_call_back_from_a_handler_phone(client: AmiTestClient) -> None:
    resp = await client.action("Originate", Channel="PJSIP/handler-3", Context="from-handlers", Exten="07700900009",
                               Priority="1", Async="true")
    done = await client.wait_event("OriginateResponse", ActionID=resp.action_id or "")
    assert done["Channel"].startswith("PJSIP/handler-3-")
    status = await client.wait_event("QueueMemberStatus", Interface="PJSIP/handler-3")
    assert status["Status"] == "2"
    hung = await client.action("Hangup", Channel=done["Channel"])
    assert hung["Response"] == "Success"
    assert (await client.wait_event("QueueMemberStatus", Interface="PJSIP/handler-3", Status="1"))


async def test_a_call_back_from_a_phone_already_on_a_call_fails_busy_as_asterisk_reports_it(
        sim: SimulatedPbx, client: AmiTestClient) -> None:
    call_id = sim.place_call("999", "07700900001", "Alice Smith")
    await client.wait_event("AgentCalled", Uniqueid=call_id)
    member = sim.pbx.calls[call_id].attempt.member  # type: ignore[union-attr]
    sim.answer(member)
    resp = await client.action("Originate", Channel=member, Context="callback", Exten="07700900009", Priority="1",
                               Async="true", CallerID="Call-back <07700900009>")
    assert (resp["Response"], resp["Message"]) == ("Success", "Originate successfully queued")  # async: the PBX tries
    done = await client.wait_event("OriginateResponse", ActionID=resp.action_id or "")
    assert (done["Response"], done["Reason"], done["Channel"], done["Uniqueid"]) == ("Failure", "5", member, "<unknown>")
    assert (done["Context"], done["Exten"], done["CallerIDNum"]) == ("callback", "07700900009", "07700900009")
    busy = await client.wait_event("Hangup", Cause="17")  # after OriginateResponse, as Asterisk orders them
    assert busy["Channel"].startswith(member + "-") and busy["Cause-txt"] == "User busy"
    assert sim.pbx.calls[call_id].phase.name == "CONNECTED"  # the call the phone is on goes on


async def test_redirect_of_a_waiting_caller_shows_as_abandon(sim: SimulatedPbx, client: AmiTestClient) -> None:
    await hold_999(sim)
    call_id = sim.place_call("999", "07700900001", "Alice Smith")
    joined = await client.wait_event("QueueCallerJoin", Uniqueid=call_id)
    resp = await client.action("Redirect", Channel=joined["Channel"], Context="voicemail", Exten="5000", Priority="1")
    assert resp["Response"] == "Success"
    await client.wait_event("Hangup", Uniqueid=call_id)
    names = [f.event for f in client.call_events(call_id)]
    assert names[-4:] == ["MusicOnHoldStop", "QueueCallerAbandon", "QueueCallerLeave", "Hangup"]
    assert "HangupRequest" not in names  # nobody hung up: the channel went elsewhere


async def test_redirect_to_another_queue_joins_it_with_the_same_channel(sim: SimulatedPbx, client: AmiTestClient) -> None:
    await hold_999(sim)
    sim.pause("PJSIP/handler-3")
    call_id = sim.place_call("101", "07700900001", "Alice Smith")
    joined = await client.wait_event("QueueCallerJoin", Uniqueid=call_id)
    resp = await client.action("Redirect", Channel=joined["Channel"], Context="callers", Exten="999", Priority="1")
    assert resp["Response"] == "Success"
    again = await client.wait_event("QueueCallerJoin", Uniqueid=call_id, Queue="999")
    assert again["Exten"] == "999"
    names = [f.event for f in client.call_events(call_id) if f.event and f.event.startswith("Queue")]
    assert names == ["QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave", "QueueCallerJoin"]


async def test_ami_hangup_of_the_handler_leg_completes_with_reason_caller(sim: SimulatedPbx, client: AmiTestClient) -> None:
    call_id = sim.place_call("999", "07700900001", "Alice Smith")
    called = await client.wait_event("AgentCalled", Uniqueid=call_id)
    sim.answer(called["Interface"])
    resp = await client.action("Hangup", Channel=called["DestChannel"])
    assert resp["Response"] == "Success"
    done = await client.wait_event("AgentComplete", Uniqueid=call_id)
    assert done["Reason"] == "caller"
    missing = await client.action("Hangup", Channel="PJSIP/nobody-00000000")
    assert (missing["Response"], missing["Message"]) == ("Error", "No such channel")


def test_queue_entry_wait_is_whole_seconds_subtracted_as_app_queue_does() -> None:
    """app_queue: ``Wait: (long)(now - qe->start)``, both time(NULL): 1.2 s from x.9 to y.1 is 2 s.
    A client that dates the entry as "now - Wait" is then within the entry's own second."""
    from telephony.simulator import actions
    from telephony.simulator.pbx import Pbx

    at = [1000.9]
    pbx = Pbx(SCRIPTED.queues, SCRIPTED.handlers, lambda: at[0], dialplan_delay=0.0)
    for h in SCRIPTED.handlers:
        pbx.members.pause(h.interface, True)
    call_id = pbx.arrive("999", "07700900001")
    pbx.advance()
    at[0] = 1002.1
    reply = actions.handle(pbx, actions.Action.of({"Action": "QueueStatus", "Queue": "999", "ActionID": "1"}))
    entry = next(dict(f) for f in reply.frames if dict(f).get("Event") == "QueueEntry")
    assert (entry["Uniqueid"], entry["Wait"]) == (call_id, "2")
