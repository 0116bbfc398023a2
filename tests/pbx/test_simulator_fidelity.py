"""Simulator fidelity: one scenario on the real Asterisk and on the PBX simulator (scripted),
watched through the same AMI session; the queue events our registry sees must be the same, call
by call and in order, and so must the two queue_logs. If Asterisk or the simulator changes, this is where they part ways.

The scenario, on the 999 queue:
- abandoned while waiting: nobody is in the queue; the caller hangs up after 2 s;
- answered: handler-1 answers ~1 s after ringing; the caller hangs up after a short talk;
- ring-no-answer, then answered by another: handler-3 never answers and rings out (the
  queue's 15 s); handler-4 joins meanwhile, handler-3 is paused; handler-4 answers the next ring.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Self

import pytest

from telephony import events as ev
from telephony.session import AmiSession
from telephony.simulator import HandlerConfig, SimConfig, SimulatedPbx
from tests.pbx.harness import QueueLogWindow
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.support.testbed.pbx import PbxTestbed
from tests.waiting import eventually

pytestmark = pytest.mark.pbx

QUEUE_EVENTS = (ev.CallQueued, ev.HandlerRang, ev.HandlerRingNoAnswer, ev.CallAnswered, ev.CallLeftQueue,
                ev.CallAbandoned, ev.CallCompleted)
ROLES = {"07700900011": "abandoned while waiting", "07700900012": "answered", "07700900013": "ring-no-answer, then answered"}


class Watcher:
    """Our AMI session, collecting the queue events per call in the order it delivers them."""

    def __init__(self, host: str, port: int, user: str, secret: str) -> None:
        self.events: list[ev.DomainEvent] = []
        self.session = AmiSession(host, port, user, secret, on_event=self.events.append)

    async def __aenter__(self) -> Self:
        self.session.start()
        deadline = time.monotonic() + 10
        while not self.session.connected:
            assert time.monotonic() < deadline, "our AMI session did not log in"
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.stop()

    def completed(self, call_id: str) -> bool:
        return any(isinstance(e, ev.CallCompleted) and e.call_id == call_id for e in self.events)

    def call_ids(self) -> dict[str, str]:
        """role -> call id."""
        return {ROLES.get(e.caller_number, e.caller_number): e.call_id for e in self.events if isinstance(e, ev.CallQueued)}

    def per_role(self) -> dict[str, list[str]]:
        number_of: dict[str, str] = {}
        story: dict[str, list[str]] = defaultdict(list)
        for e in self.events:
            if isinstance(e, ev.CallQueued):
                number_of[e.call_id] = e.caller_number
            if isinstance(e, QUEUE_EVENTS) and e.call_id in number_of:
                story[ROLES.get(number_of[e.call_id], number_of[e.call_id])].append(type(e).__name__)
        return dict(story)


Story = tuple[dict[str, list[str]], dict[str, list[str]]]
"""(queue events per role as our session delivers them, queue_log event names per role)"""


async def real_pbx_story(pbx: PbxTestbed, ami: RawAmi) -> Story:
    window = QueueLogWindow(pbx).mark()
    phones = {n: HandlerPhone(f"handler-{n}", answer_after=a) for n, a in ((1, 1.0), (3, None), (4, 1.0))}
    await asyncio.gather(*(asyncio.to_thread(p.start) for p in phones.values()))
    runs = []
    try:
        async with Watcher(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret) as watcher:
            runs.append(sipp_dial("999", callers=["caller-11"], hangup_after=2.0))
            assert await asyncio.to_thread(runs[-1].wait, 20) == 0, runs[-1].output()

            await ami.action("QueueAdd", Queue="emergency", Interface="PJSIP/handler-1", MemberName="h1")
            runs.append(sipp_dial("999", callers=["caller-12"], hangup_after=3.0))
            assert await asyncio.to_thread(runs[-1].wait, 20) == 0, runs[-1].output()
            await ami.action("QueueRemove", Queue="emergency", Interface="PJSIP/handler-1")

            start = len(ami.frames)
            await ami.action("QueueAdd", Queue="emergency", Interface="PJSIP/handler-3", MemberName="h3")
            runs.append(sipp_dial("999", callers=["caller-13"], hangup_after=21.0))
            await ami.wait_event("AgentCalled", 10, start, Interface="PJSIP/handler-3")
            await ami.action("QueueAdd", Queue="emergency", Interface="PJSIP/handler-4", MemberName="h4")
            await ami.wait_event("AgentRingNoAnswer", 20, start, Interface="PJSIP/handler-3")
            await ami.action("QueuePause", Queue="emergency", Interface="PJSIP/handler-3", Paused="true", Reason="away")
            assert await asyncio.to_thread(runs[-1].wait, 40) == 0, runs[-1].output()
            # The answered calls' stories end with their completion, which reaches our session and
            # queue_log a moment after the caller's SIPp has gone (later on a busy machine).
            answered = [cid for role, cid in watcher.call_ids().items() if role != "abandoned while waiting"]
            await eventually(lambda: all(watcher.completed(cid) for cid in answered), 10,
                             "each answered call's completion in our AMI session")
            await eventually(lambda: all(any(e.startswith("COMPLETE") for e in window.events_of(cid)) for cid in answered), 10,
                             "each answered call's completion in queue_log")
            logged = {role: window.events_of(cid) for role, cid in watcher.call_ids().items()}
            return watcher.per_role(), logged
    finally:
        for run in runs:
            run.stop()
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in phones.values()))


async def simulator_story() -> Story:
    handlers = tuple(HandlerConfig(f"PJSIP/handler-{n}", f"h{n}", ("emergency",)) for n in (1, 3, 4))
    config = SimConfig(traffic=None, members_at_start=False, speed=10, handlers=handlers, secret="fidelity-secret")
    async with SimulatedPbx(config) as sim, Watcher(sim.host, sim.port, config.username, config.secret) as watcher:
        call = sim.place_call("emergency", "07700900011")
        await sim.sleep(2.0)
        sim.hangup_caller(call)

        sim.add_member("emergency", "PJSIP/handler-1", "h1")
        call = sim.place_call("emergency", "07700900012")
        await sim.wait_ringing("PJSIP/handler-1")
        await sim.sleep(1.0)
        sim.answer("PJSIP/handler-1")
        await sim.sleep(2.0)
        sim.hangup_caller(call)
        sim.remove_member("emergency", "PJSIP/handler-1")

        sim.add_member("emergency", "PJSIP/handler-3", "h3")
        call = sim.place_call("emergency", "07700900013")
        await sim.wait_ringing("PJSIP/handler-3")
        sim.add_member("emergency", "PJSIP/handler-4", "h4")
        while sim.ringing("PJSIP/handler-3") is not None:  # rings out after the queue's timeout
            await asyncio.sleep(0.01)
        sim.pause("PJSIP/handler-3", "away", "emergency")
        await sim.wait_ringing("PJSIP/handler-4", timeout=5)
        await sim.sleep(1.0)
        sim.answer("PJSIP/handler-4")
        await sim.sleep(2.0)
        sim.hangup_caller(call)
        await asyncio.sleep(0.3)
        logged = {role: [line.event for line in sim.queue_log.for_call(cid)] for role, cid in watcher.call_ids().items()}
        return watcher.per_role(), logged


async def test_the_simulator_tells_the_same_queue_story_as_asterisk(pbx: PbxTestbed, ami: RawAmi) -> None:
    real, real_log = await real_pbx_story(pbx, ami)
    simulated, simulated_log = await simulator_story()
    # What Asterisk 22 says (tests/fixtures/ami/README.md): pinned, so a change on either side shows.
    assert real == {
        "abandoned while waiting": ["CallQueued", "CallAbandoned", "CallLeftQueue"],
        "answered": ["CallQueued", "HandlerRang", "CallLeftQueue", "CallAnswered", "CallCompleted"],
        "ring-no-answer, then answered": ["CallQueued", "HandlerRang", "HandlerRingNoAnswer", "HandlerRang",
                                          "CallLeftQueue", "CallAnswered", "CallCompleted"],
    }, real
    assert simulated == real
    # The simulator's queue_log (what simulated figures are checked against) matches too.
    assert real_log["ring-no-answer, then answered"][:3] == ["ENTERQUEUE", "RINGNOANSWER", "CONNECT"], real_log
    assert simulated_log == real_log
