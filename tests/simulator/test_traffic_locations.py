"""Random traffic whose callers' phones send a location (the demo's): each call's join carries
the location its number's phone gives, as the real PBX writes it, and a phone that sends none
gives a join without one."""

from __future__ import annotations

import asyncio
import dataclasses

from telephony.events import CallQueued
from telephony.geolocation import CallerLocation
from telephony.simulator import SimConfig, SimulatedPbx, TrafficProfile
from telephony.translate import translate
from tests.simulator.ami_client import AmiTestClient
from tests.waiting import patience


def phone(number: str) -> CallerLocation | None:
    """Odd numbers send where they are (a different place each), even ones nothing."""
    last = int(number[-3:])
    return CallerLocation(51.75 + last / 1000, -1.25, 20.0 + last, 90, shape="Circle") if last % 2 else None


async def test_each_call_carries_the_location_its_callers_phone_sends() -> None:
    profile = dataclasses.replace(TrafficProfile(), caller_location=phone, caller_pool=6)
    async with SimulatedPbx(SimConfig(traffic=profile, speed=100, seed=5)) as sim:
        client = await AmiTestClient.logged_in(sim.port)
        joins: list[CallQueued] = []
        async with asyncio.timeout(patience(30)):
            while len({j.caller_number for j in joins}) < 6:  # every number has called
                frame = await client.read_frame(timeout=patience(5))
                if frame.event == "QueueCallerJoin":
                    queued = translate(frame, 0.0)
                    assert isinstance(queued, CallQueued)
                    joins.append(queued)
        await client.close()
    for queued in joins:
        assert queued.location == phone(queued.caller_number), queued.caller_number
    assert {j.location is None for j in joins} == {True, False}
