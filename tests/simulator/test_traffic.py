"""Random traffic at high speed: every outcome happens, and every call's sequence is consistent."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import defaultdict

from telephony.frames import Frame
from telephony.simulator import SimConfig, SimulatedPbx, TrafficProfile
from tests.simulator.ami_client import AmiTestClient
from tests.waiting import patience

OUTCOMES = {"AgentConnect", "QueueCallerAbandon"}
CORE = {"Newchannel", "Newstate", "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled",
        "AgentRingNoAnswer", "AgentConnect", "AgentComplete", "Hangup"}


def check_call(call_id: str, events: list[Frame]) -> None:
    """One queue call's own events: arrival, join first, one outcome, leave once, hangup last."""
    names = [f.event for f in events if f.event in CORE]
    queue_names = [n for n in names if n not in ("Newchannel", "Newstate")]
    assert names[0] == "Newchannel", (call_id, names)
    assert queue_names[0] == "QueueCallerJoin", (call_id, names)
    assert names.count("QueueCallerJoin") == 1 and names.count("Hangup") == 1, (call_id, names)
    assert names[-1] == "Hangup", (call_id, names)
    assert sum(n in OUTCOMES for n in names) == 1, (call_id, names)
    assert names.count("QueueCallerLeave") == 1, (call_id, names)
    if "AgentConnect" in names:
        i = names.index("AgentConnect")
        assert names[i - 1] == "QueueCallerLeave" and names[i + 1:] == ["AgentComplete", "Hangup"], (call_id, names)
    else:
        i = names.index("QueueCallerAbandon")
        assert names[i:] == ["QueueCallerAbandon", "QueueCallerLeave", "Hangup"], (call_id, names)
    stamps = [float(f["Timestamp"]) for f in events]
    assert stamps == sorted(stamps), call_id


async def test_fast_traffic_gives_every_outcome_and_consistent_sequences() -> None:
    profile = dataclasses.replace(TrafficProfile(), ring_no_answer_chance=0.25, patience_median=15)
    config = SimConfig(traffic=profile, speed=200, seed=7)
    async with SimulatedPbx(config) as sim:
        client = await AmiTestClient.logged_in(sim.port)
        # Read until the traffic has shown what is asserted below (about 300 simulated seconds on
        # a quiet machine), however slowly a busy one runs it.
        async with asyncio.timeout(patience(30)):
            while not _enough(client.events):
                await client.read_frame(timeout=patience(5))
        await client.close()

    finished = finished_calls(client.events)
    assert len(finished) >= 30
    for call_id, events in finished.items():
        check_call(call_id, events)
    seen = {f.event for f in client.events}
    assert WANTED <= seen
    reasons = {f["Reason"] for f in client.events if f.event == "AgentComplete"}
    assert reasons == {"agent", "caller"}
    pauses = {f["PausedReason"] for f in client.events if f.event == "QueueMemberPause"}
    assert "wrap-up" in pauses
    numbers = [f["CallerIDNum"] for f in client.events if f.event == "QueueCallerJoin"]
    assert len(set(numbers)) < len(numbers)  # some callers ring again: history pops have history
    assert len(sim.queue_log.lines) > len(finished)


async def test_same_seed_same_callers() -> None:
    """The RNG is seeded: the caller pool (and the draw order) repeat from run to run."""
    a = SimulatedPbx(SimConfig(seed=3))
    b = SimulatedPbx(SimConfig(seed=3))
    assert a.traffic is not None and b.traffic is not None
    assert a.traffic.callers == b.traffic.callers


def finished_calls(events: list[Frame]) -> dict[str, list[Frame]]:
    """Each queue call whose caller has hung up: its own events, in order."""
    by_call: dict[str, list[Frame]] = defaultdict(list)
    joined = {f["Uniqueid"] for f in events if f.event == "QueueCallerJoin"}
    for f in events:
        if f.get("Uniqueid") in joined:
            by_call[f["Uniqueid"]].append(f)
    return {c: evs for c, evs in by_call.items() if evs[-1].event == "Hangup"}


WANTED = {"AgentConnect", "QueueCallerAbandon", "AgentRingNoAnswer", "AgentComplete", "QueueMemberPause"}


def _enough(events: list[Frame]) -> bool:
    """Every kind of event the test looks for, both hang-up reasons, a wrap-up and 30 calls ended
    (checked once per 200 frames: the list only grows)."""
    if len(events) % 200:
        return False
    kinds = {f.event for f in events}
    return (WANTED <= kinds and len(finished_calls(events)) >= 30
            and {f["Reason"] for f in events if f.event == "AgentComplete"} == {"agent", "caller"}
            and any(f["PausedReason"] == "wrap-up" for f in events if f.event == "QueueMemberPause"))


async def test_with_members_added_by_the_client_simulated_handlers_answer_and_never_pause() -> None:
    """The intake way: phones join queues by QueueAdd, intake owns every pause."""
    profile = dataclasses.replace(TrafficProfile(), handlers_pause_themselves=False, ring_no_answer_chance=0)
    async with SimulatedPbx(SimConfig(traffic=profile, speed=100, members_at_start=False)) as sim:
        client = await AmiTestClient.logged_in(sim.port)
        join = await client.wait_event("QueueCallerJoin", timeout=3)
        assert not [f for f in client.events if f.event == "AgentCalled"]  # nobody in a queue yet
        resp = await client.action("QueueAdd", Queue=join["Queue"], Interface="PJSIP/handler-1", MemberName="h1")
        assert resp["Response"] == "Success"
        connect = await client.wait_event("AgentConnect", timeout=3)
        assert connect["MemberName"] == "h1"
        await client.wait_event("AgentComplete", timeout=3)
        assert not [f for f in client.events if f.event == "QueueMemberPause"]
        await client.close()


async def test_a_simulated_handler_hangs_up_a_call_back_after_talking_and_is_free_again() -> None:
    profile = dataclasses.replace(TrafficProfile(), arrivals_per_second=(), talk_time=(1.0, 2.0))
    async with SimulatedPbx(SimConfig(traffic=profile, speed=20, seed=3)) as sim:
        client = await AmiTestClient.logged_in(sim.port)
        resp = await client.action("Originate", Channel="PJSIP/handler-2", Context="callback", Exten="07700900009",
                                   Priority="1", Async="true")
        done = await client.wait_event("OriginateResponse", ActionID=resp.action_id or "")
        assert done["Response"] == "Success"
        await client.wait_event("QueueMemberStatus", Interface="PJSIP/handler-2", Status="2")  # in use
        await client.wait_event("Hangup", Channel=done["Channel"])
        await client.wait_event("QueueMemberStatus", Interface="PJSIP/handler-2", Status="1")  # free for queue calls
        await client.close()



async def test_a_caller_put_in_by_originate_waits_as_its_originator_says_not_as_the_traffics_callers() -> None:
    """The traffic's callers give up after their patience; one a test or script puts in (Originate
    into the dialplan, as on Asterisk) is not the traffic's to hang up: it waits for a handler."""
    profile = dataclasses.replace(TrafficProfile(), arrivals_per_second=(("emergency", 1.0),), patience_median=2.0,
                                  patience_sigma=0.0)  # every traffic caller gives up 2 s after joining
    async with SimulatedPbx(SimConfig(traffic=profile, speed=20, seed=3, members_at_start=False)) as sim:
        client = await AmiTestClient.logged_in(sim.port)
        resp = await client.action("Originate", Channel="Local/999@callers", Application="Wait", Data="300", Async="true",
                                   CallerID='"Test Caller" <07700900999>')
        assert resp["Response"] == "Success"
        mine = await client.wait_event("QueueCallerJoin", timeout=patience(5), CallerIDNum="07700900999")
        # A traffic caller who joined after mine has given up: mine would have, first, were it the traffic's.
        joined_later: set[str] = set()
        async with asyncio.timeout(patience(30)):
            while True:
                frame = await client.read_frame(timeout=patience(5))
                if frame.event == "QueueCallerJoin" and frame["Uniqueid"] != mine["Uniqueid"]:
                    joined_later.add(frame["Uniqueid"])
                if frame.event == "QueueCallerAbandon" and frame["Uniqueid"] in joined_later:
                    break
        assert not [f for f in client.events if f.event == "QueueCallerAbandon" and f["Uniqueid"] == mine["Uniqueid"]]
        assert mine["Uniqueid"] in sim.pbx.calls  # still waiting in the queue
        await client.close()
