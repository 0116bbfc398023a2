"""queue_log agrees with the AMI events, in whole seconds, as a real PBX's does."""

from __future__ import annotations

import dataclasses

from telephony.simulator import QueueConfig, SimulatedPbx
from tests.simulator.ami_client import AmiTestClient
from tests.simulator.conftest import SCRIPTED

# Ten times real speed, and a ring timeout of 3 simulated seconds: figures are whole seconds.
FAST = dataclasses.replace(
    SCRIPTED,
    speed=10,
    queues=(QueueConfig("999", line="999", weight=10, timeout=3, retry=1, exten="999"),
            QueueConfig("101", line="101", weight=0, timeout=3, retry=1, exten="101")),
)


def fields(line_data: tuple[str, ...]) -> list[int]:
    return [int(x) for x in line_data if x.isdigit()]


async def test_answered_call_after_a_ring_out_matches_its_events(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "queue_log"
    async with SimulatedPbx(dataclasses.replace(FAST, queue_log_path=str(path))) as sim:
        c = await AmiTestClient.logged_in(sim.port)
        call_id = sim.place_call("999", "07700900001", "Alice Smith")
        await c.wait_event("AgentCalled", Uniqueid=call_id)
        rna = await c.wait_event("AgentRingNoAnswer", Uniqueid=call_id)
        second = await c.wait_event("AgentCalled", Uniqueid=call_id)
        await sim.sleep(2)
        sim.answer(second["Interface"])
        connect = await c.wait_event("AgentConnect", Uniqueid=call_id)
        await sim.sleep(3)
        sim.hangup_handler(second["Interface"])
        complete = await c.wait_event("AgentComplete", Uniqueid=call_id)
        await c.close()

    lines = sim.queue_log.for_call(call_id)
    assert [line.event for line in lines] == ["ENTERQUEUE", "RINGNOANSWER", "CONNECT", "COMPLETEAGENT"]
    enter, ring_out, conn, done = lines
    assert enter.data[1:] == ("07700900001", "1") and enter.agent == "NONE"
    assert ring_out.data == (rna["RingTime"],) and ring_out.agent == "Asha Patel"
    assert (conn.data[0], conn.data[1], conn.data[2]) == (connect["HoldTime"], connect["DestUniqueid"], connect["RingTime"])
    assert conn.agent == "Ben Carter"
    assert (done.data[0], done.data[1]) == (complete["HoldTime"], complete["TalkTime"])
    assert int(complete["TalkTime"]) >= 3 and int(connect["HoldTime"]) >= 4
    assert conn.at == int(float(connect["Timestamp"]))
    assert path.read_text().splitlines() == [str(line) for line in sim.queue_log.lines]


async def test_abandon_matches_its_event() -> None:
    async with SimulatedPbx(FAST) as sim:
        c = await AmiTestClient.logged_in(sim.port)
        for member in ("PJSIP/handler-1", "PJSIP/handler-2"):
            sim.pause(member, queue="999")
        call_id = sim.place_call("999", "07700900001", "Alice Smith")
        await c.wait_event("QueueCallerJoin", Uniqueid=call_id)
        await sim.sleep(2)
        sim.hangup_caller(call_id)
        gone = await c.wait_event("QueueCallerAbandon", Uniqueid=call_id)
        await c.close()
    abandon = sim.queue_log.for_call(call_id)[-1]
    assert abandon.event == "ABANDON"
    assert abandon.data == (gone["Position"], gone["OriginalPosition"], gone["HoldTime"])
    assert int(gone["HoldTime"]) >= 2
