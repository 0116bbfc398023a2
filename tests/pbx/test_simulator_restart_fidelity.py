"""Simulator fidelity at a PBX restart: ``core restart now`` on the real Asterisk under a call
talking and a call waiting, and the simulator's shutdown under the same two calls, watched through
our AMI session; the queue events and the queue_log lines of each call must be the same. The soak
(scripts/soak.py) restarts the simulator and takes its queue_log as the referee: this is why it may.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from telephony import events as ev
from telephony.simulator import HandlerConfig, SimConfig, SimulatedPbx
from tests.pbx.harness import QueueLogWindow
from tests.pbx.test_e2e_restarts import pbx_rx
from tests.pbx.test_simulator_fidelity import Story, Watcher
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.support.testbed.pbx import PbxTestbed
from tests.waiting import eventually

pytestmark = pytest.mark.pbx

ROLES = {"07700900021": "talking", "07700900022": "waiting"}


def story(watcher: Watcher, logged: dict[str, list[str]]) -> Story:
    per_role = {ROLES.get(k, k): v for k, v in watcher.per_role().items()}
    return per_role, {ROLES.get(k, k): v for k, v in logged.items()}


async def real_pbx_story(pbx: PbxTestbed, ami: RawAmi) -> Story:
    window = QueueLogWindow(pbx).mark()
    phone = HandlerPhone("handler-1", answer_after=1.0)
    await asyncio.to_thread(phone.start)
    runs = []
    try:
        async with Watcher(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret) as watcher:
            await ami.action("QueueAdd", Queue="emergency", Interface="PJSIP/handler-1", MemberName="h1")
            start = len(ami.frames)
            runs.append(sipp_dial("999", callers=["caller-21"], hangup_after=60))
            await ami.wait_event("AgentConnect", 15, start)
            runs.append(sipp_dial("999", callers=["caller-22"], hangup_after=60))  # h1 is busy: it waits
            await ami.wait_event("QueueCallerJoin", 15, start, CallerIDNum="07700900022")
            snapshots = _snapshots(watcher)
            pbx_rx(pbx, "core restart now")
            deadline = time.monotonic() + 60
            while _snapshots(watcher) == snapshots:  # our session is back, resynced: the PBX is up again
                assert time.monotonic() < deadline, "the PBX did not come back within 60 s"
                await asyncio.sleep(0.2)
            rows = window.rows()
            logged = {number: [r[4] for r in rows if r[1] == cid] for number, cid in _ids(watcher).items()}
            return story(watcher, logged)
    finally:
        for run in runs:
            run.stop()
        await asyncio.to_thread(phone.stop)


def _ids(watcher: Watcher) -> dict[str, str]:
    return {e.caller_number: e.call_id for e in watcher.events if isinstance(e, ev.CallQueued)}


def _snapshots(watcher: Watcher) -> int:
    return sum(isinstance(e, ev.SnapshotCompleted) for e in watcher.events)


async def simulator_story() -> Story:
    config = SimConfig(traffic=None, members_at_start=False, speed=10, secret="fidelity-secret",
                       handlers=(HandlerConfig("PJSIP/handler-1", "h1", ("emergency",)),))
    sim = SimulatedPbx(config)
    await sim.start()
    async with Watcher(sim.host, sim.port, config.username, config.secret) as watcher:
        sim.add_member("emergency", "PJSIP/handler-1", "h1")
        sim.place_call("emergency", "07700900021")
        await sim.wait_ringing("PJSIP/handler-1")
        await sim.sleep(1.0)
        sim.answer("PJSIP/handler-1")
        sim.place_call("emergency", "07700900022")
        await sim.sleep(1.0)
        await sim.shut_down(restart=True)
        # Everything the simulator said before it closed has been read once our session saw it close.
        await eventually(lambda: any(isinstance(e, ev.PbxLinkDown) for e in watcher.events), 10, "the link to close")
        logged = {number: [line.event for line in sim.queue_log.for_call(cid)] for number, cid in _ids(watcher).items()}
        result = story(watcher, logged)
    await sim.stop()
    return result


async def test_a_pbx_restart_ends_calls_in_the_simulator_as_in_asterisk(pbx: PbxTestbed, ami: RawAmi) -> None:
    real = await real_pbx_story(pbx, ami)
    simulated = await simulator_story()
    assert real[1] == {"talking": ["ENTERQUEUE", "CONNECT", "COMPLETECALLER"], "waiting": ["ENTERQUEUE", "ABANDON"]}, real
    assert simulated == real
