"""A simulated caller whose INVITE carried a location: every event of their channel after the
dialplan ran carries INTAKE_GEO as the real PBX writes it (tests/pbx/test_location_call.py runs the
same call on Asterisk 22 and compares), and a caller without one carries no channelvars at all."""

from __future__ import annotations

from telephony.events import CallQueued, ChannelSeen
from telephony.geolocation import CallerLocation
from telephony.simulator import SimulatedPbx
from telephony.translate import translate
from tests.simulator.ami_client import AmiTestClient

WHERE = CallerLocation(51.501364, -0.14189, 35.0, 95, shape="Circle")


async def test_a_located_callers_join_carries_the_location_and_the_resync_lists_it(sim: SimulatedPbx, client: AmiTestClient) -> None:
    located = sim.place_call("999", "07700900004", "Test Caller 4", location=WHERE)
    plain = sim.place_call("999", "07700900005", "Test Caller 5")
    joined = await client.wait_event("QueueCallerJoin", Uniqueid=located)
    other = await client.wait_event("QueueCallerJoin", Uniqueid=plain)
    queued = translate(joined, 0.0)
    assert isinstance(queued, CallQueued) and queued.location == WHERE and not queued.silent
    assert joined.values("ChanVariable") == [
        "INTAKE_SILENT=",
        r'INTAKE_GEO=shape=\"Circle\",crs=\"2d\",pos=\"51.501364 -0.14189\",radius=\"35\",pdf=\"normal\",value=\"95\"',
    ]  # the recorded line (tests/telephony/test_geolocation.py RECORDED)
    unlocated = translate(other, 0.0)
    assert isinstance(unlocated, CallQueued) and unlocated.location is None and "ChanVariable" not in other
    _, channels = await client.event_list("CoreShowChannels", "CoreShowChannelsComplete")
    listed = [c for c in channels if c.get("Uniqueid") == located]
    assert listed and isinstance(translate(listed[0], 0.0), ChannelSeen)
    assert listed[0].values("ChanVariable")[1].startswith("INTAKE_GEO=shape=")
