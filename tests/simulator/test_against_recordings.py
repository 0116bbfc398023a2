"""Every simulated frame has a field layout a real Asterisk 22 sent (tests/fixtures/ami/*.ami).

The recordings come from the ``pbx`` branch; until it is merged this test skips, unless
INTAKE_AMI_FIXTURES names a folder that holds them.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from telephony.frames import TERMINATOR, parse_frame
from telephony.simulator import SimulatedPbx
from tests.simulator.ami_client import AmiTestClient

FIXTURES = Path(os.environ.get("INTAKE_AMI_FIXTURES", Path(__file__).parents[1] / "fixtures" / "ami"))
SNAPSHOT_HOLDERS = ("QueueEntry",)  # ours and theirs differ only by the channel's own values


def recorded_layouts() -> dict[str, set[tuple[str, ...]]]:
    layouts: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for path in sorted(FIXTURES.glob("*.ami")):
        data = path.read_bytes()
        data = data.split(b"\r\n", 1)[1]  # the banner line
        for block in data.split(TERMINATOR):
            frame = parse_frame(block)
            if frame.event:
                layouts[frame.event].add(tuple(frame))
    return layouts


async def test_every_simulated_layout_was_recorded(sim: SimulatedPbx, client: AmiTestClient) -> None:
    layouts = recorded_layouts()
    # one of each outcome, plus the lists
    answered = sim.place_call("999", "07700900001", "Test Caller 1")
    called = await client.wait_event("AgentCalled", Uniqueid=answered)
    sim.answer(called["Interface"])
    waiting = sim.place_call("999", "07700900002", "Test Caller 2")
    await client.wait_event("QueueCallerJoin", Uniqueid=waiting)
    await client.event_list("QueueStatus", "QueueStatusComplete")
    await client.event_list("CoreShowChannels", "CoreShowChannelsComplete")
    sim.hangup_caller(waiting)
    sim.hangup_handler(called["Interface"])
    rung = sim.place_call("999", "07700900003", "Test Caller 3")
    await client.wait_event("AgentRingNoAnswer", Uniqueid=rung)
    await client.wait_event("AgentCalled", Uniqueid=rung)
    sim.hangup_caller(rung)
    await client.wait_event("Hangup", Uniqueid=rung)
    resp = await client.action("Originate", Channel="Local/999@intake-test", Application="Wait", Data="6",
                               CallerID='"Originated" <07700900099>')
    await client.wait_event("OriginateResponse", ActionID=resp.action_id or "")
    for action, fields in (("QueuePause", {"Paused": "true", "Reason": "wrap-up"}), ("QueuePause", {"Paused": "false"}),
                           ("QueuePenalty", {"Penalty": "2"}), ("QueueRemove", {}), ("QueueAdd", {"MemberName": "x"})):
        await client.action(action, Queue="999", Interface="PJSIP/handler-1", **fields)
    await client.action("Ping")

    unseen, checked = [], set()
    for frame in client.events:
        name = frame.event or ""
        if name in layouts:
            checked.add(name)
            if tuple(frame) not in layouts[name]:
                unseen.append((name, tuple(frame), min(layouts[name])))
    assert not unseen, unseen[0]
    assert {f.event for f in client.events} == checked  # every kind we sent was recorded somewhere
    assert len(checked) >= 25
