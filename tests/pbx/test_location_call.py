"""The caller's location from their INVITE, on the real Asterisk 22: SIPp sends a PIDF-LO circle
(RFC 6442: Geolocation header + multipart/mixed body), res_pjsip_geolocation reads it, the
shipped dialplan's [intake-location] puts it in INTAKE_GEO, manager.conf's channelvars shows it on
QueueCallerJoin, and intake's AMI session reads it as the call's location before the first ring.
The simulator, given the same location, must make the same CallQueued (map's demo relies on it).
~6 s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from telephony import events as ev
from telephony.geolocation import CallerLocation
from telephony.session import AmiSession
from telephony.simulator import SimConfig, SimulatedPbx
from tests.support.sip import PidfCircle, sipp_dial
from tests.support.testbed.pbx import PbxTestbed
from tests.waiting import eventually

pytestmark = pytest.mark.pbx

CIRCLE = PidfCircle(lat=51.501364, lon=-0.14189, radius_m=35.0, confidence=95)
EXPECTED = CallerLocation(51.501364, -0.14189, 35.0, 95, shape="Circle")


@asynccontextmanager
async def watching(host: str, port: int, user: str, secret: str) -> AsyncIterator[list[ev.DomainEvent]]:
    """intake's own AMI session, its events collected in order."""
    events: list[ev.DomainEvent] = []
    session = AmiSession(host, port, user, secret, on_event=events.append)
    session.start()
    try:
        await eventually(lambda: session.connected, 10, "our AMI session to log in")
        yield events
    finally:
        await session.stop()


def joined(events: list[ev.DomainEvent], number: str) -> ev.CallQueued | None:
    return next((e for e in events if isinstance(e, ev.CallQueued) and e.caller_number == number), None)


async def test_the_pidf_lo_in_the_invite_reaches_intake_on_queue_join_as_the_simulator_makes_it(pbx: PbxTestbed) -> None:
    async with watching(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret) as events:
        located = sipp_dial("999", callers=["caller-6"], hangup_after=1.0, located=CIRCLE)
        plain = sipp_dial("999", callers=["caller-7"], hangup_after=1.0)
        silent = sipp_dial("99955", callers=["caller-8"], hangup_after=1.0, located=CIRCLE)
        try:
            real = await eventually(lambda: joined(events, "07700900006"), 15, "the located caller's QueueCallerJoin")
            unlocated = await eventually(lambda: joined(events, "07700900007"), 15, "the plain caller's QueueCallerJoin")
            silent_located = await eventually(lambda: joined(events, "07700900008"), 15, "the silent caller's QueueCallerJoin")
        finally:
            for run in (located, plain, silent):
                run.stop()
    assert real.location == EXPECTED
    assert unlocated.location is None and not unlocated.silent
    assert silent_located.location == EXPECTED and silent_located.silent

    config = SimConfig(traffic=None, members_at_start=False, speed=10, secret="location-secret")
    async with SimulatedPbx(config) as sim, watching(sim.host, sim.port, config.username, config.secret) as sim_events:
        sim.place_call("emergency", "07700900006", location=EXPECTED)
        simulated = await eventually(lambda: joined(sim_events, "07700900006"), 10, "the simulated caller's join")
    assert simulated.location == real.location
    assert (simulated.queue, simulated.silent) == (real.queue, real.silent)
