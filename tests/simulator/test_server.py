"""The AMI session: banner, login, events on/off, simple actions, many and slow clients."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from telephony.simulator import SimulatedPbx
from tests.simulator.ami_client import AmiTestClient
from tests.simulator.conftest import SCRIPTED


async def test_banner_then_login_accepted_then_fully_booted(sim: SimulatedPbx) -> None:
    c = await AmiTestClient.connect(sim.port)
    assert c.banner == b"Asterisk Call Manager/11.0.0\r\n"  # what Asterisk 22 sent when recorded
    resp = await c.action("Login", Username="intake", Secret="intake-sim")
    assert (resp["Response"], resp["Message"]) == ("Success", "Authentication accepted")
    booted = await c.wait_event("FullyBooted")
    assert booted["Privilege"] == "system,all" and booted["Status"] == "Fully Booted"
    assert "Timestamp" not in booted  # as recorded: it is written to the session, not broadcast
    await c.close()


async def test_login_with_wrong_secret_is_refused_and_closed(sim: SimulatedPbx) -> None:
    c = await AmiTestClient.connect(sim.port)
    resp = await c.action("Login", Username="intake", Secret="wrong")
    assert (resp["Response"], resp["Message"]) == ("Error", "Authentication failed")
    assert await asyncio.wait_for(c.reader.read(), 2) == b""
    await c.close()


async def test_actions_before_login_are_refused(sim: SimulatedPbx) -> None:
    c = await AmiTestClient.connect(sim.port)
    resp = await c.action("QueueStatus")
    assert resp["Response"] == "Error"
    await c.close()


async def test_ping_unknown_action_and_logoff(client: AmiTestClient) -> None:
    pong = await client.action("Ping")
    assert (pong["Response"], pong["Ping"]) == ("Success", "Pong")
    assert "." in pong["Timestamp"]
    bad = await client.action("FlyToTheMoon")
    assert (bad["Response"], bad["Message"]) == ("Error", "Invalid/unknown command")
    bye = await client.action("Logoff")
    assert bye["Response"] == "Goodbye"
    assert await asyncio.wait_for(client.reader.read(), 2) == b""
    await client.close()


async def test_events_off_at_login_means_no_events(sim: SimulatedPbx) -> None:
    quiet = await AmiTestClient.logged_in(sim.port, Events="off")
    loud = await AmiTestClient.logged_in(sim.port)
    sim.place_call("999", "07700900001", "Alice")
    await loud.wait_event("QueueCallerJoin")
    pong = await quiet.action("Ping")
    assert pong["Response"] == "Success" and quiet.events == []
    await quiet.close()
    await loud.close()


async def test_every_event_has_privilege_and_six_decimal_timestamp(sim: SimulatedPbx, client: AmiTestClient) -> None:
    sim.place_call("999", "07700900001", "Alice")
    await client.wait_event("AgentCalled")
    for frame in client.events:
        assert frame["Privilege"].endswith(",all")
        if frame.event == "FullyBooted":
            continue
        whole, _, frac = frame["Timestamp"].partition(".")
        assert whole.isdigit() and len(frac) == 6
        assert abs(float(frame["Timestamp"]) - time.time()) < 5


async def test_every_client_gets_every_event(sim: SimulatedPbx) -> None:
    clients = [await AmiTestClient.logged_in(sim.port) for _ in range(5)]
    call_id = sim.place_call("999", "07700900001", "Alice")
    for c in clients:
        await c.wait_event("AgentCalled", Uniqueid=call_id)
    names = [[f.event for f in c.events if f.event != "FullyBooted"] for c in clients]
    assert all(n == names[0] for n in names)
    for c in clients:
        await c.close()


@pytest.mark.parametrize("limit", [50])
async def test_a_stalled_client_is_dropped_and_does_not_block_another(limit: int) -> None:
    config = dataclasses.replace(SCRIPTED, client_queue_limit=limit, client_send_buffer=4096)
    async with SimulatedPbx(config) as sim:
        stalled = await AmiTestClient.connect(sim.port, rcvbuf=4096)
        stalled.send("Login", Username="intake", Secret="intake-sim")
        healthy = await AmiTestClient.logged_in(sim.port)
        reading = asyncio.create_task(healthy.wait_event("QueueMemberPause", PausedReason="r2999"))
        started = time.monotonic()
        for i in range(3000):  # ~1.3 MB of QueueMemberPause events: past what loopback socket buffers absorb
            sim.pause("PJSIP/handler-3", reason=f"r{i}")
            if i % 10 == 0:
                await asyncio.sleep(0.001)  # a reading client keeps up with a PBX that pauses now and then
        assert time.monotonic() - started < 3.0  # the PBX never waited on the stalled socket
        last = await reading
        assert last["Interface"] == "PJSIP/handler-3"
        assert len([s for s in sim.server.sessions if not s.closed]) == 1  # the stalled one was dropped
        await healthy.close()
        await stalled.close()
