"""Two PBX sites in one view: two simulated PBXs (each with a queue "emergency" and phones
PJSIP/handler-1..4) followed by one server over real AMI, with a real Redis. Each site's calls are
shown under it and in the total; a site whose PBX goes away is shown down while the other site's
calls, pops and figures carry on, and comes back up with its PBX."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from typing import Any

import httpx

from telephony.simulator import SimulatedPbx
from tests.intake.two_sites import two_sites
from tests.waiting import eventually


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly these labels (in whatever order /metrics writes them)."""
    for found in re.finditer(rf"^{name}\{{(.*)\}} (\S+)$", metrics, re.MULTILINE):
        if dict(re.findall(r'(\w+)="([^"]*)"', found.group(1))) == labels:
            return float(found.group(2))
    raise AssertionError(f"no {name} {labels} in /metrics")


async def test_a_call_on_each_site_is_shown_under_its_site_and_in_the_total(redis_client: Any):
    async with two_sites(redis_client) as rig:
        north = rig.sims["north"].place_call("emergency", "07700900201", "North Caller")
        south = [rig.sims["south"].place_call("emergency", f"0770090030{i}", "South Caller") for i in range(2)]

        async def queues() -> dict[str, Any] | None:
            body = (await rig.http.get("/api/queues")).json()
            return body if body["lines"]["999"]["waiting"] == 3 else None

        report = await eventually(queues, 10, "three 999 calls waiting in the total")
        assert report["sites"]["north"]["up"] and report["sites"]["south"]["up"]
        assert report["sites"]["north"]["queues"]["emergency"]["waiting"] == 1
        assert report["sites"]["south"]["queues"]["emergency"]["waiting"] == 2
        assert report["queues"]["emergency"]["offered"] == 3 == report["lines"]["999"]["offered"]
        calls = (await rig.http.get("/api/calls")).json()["calls"]
        assert sorted((c["site"], c["call_id"]) for c in calls) == sorted([("north", north)] + [("south", c) for c in south])

        rig.sims["south"].hangup_caller(south[0])
        await eventually(lambda: rig.server.sites["south"].registry.metrics.lines["999"].abandoned == 1, 10, "south's abandon")
        metrics = (await rig.http.get("/metrics")).text
        assert sample(metrics, "intake_calls_offered_total", site="south", line="999", queue="emergency") == 2
        assert sample(metrics, "intake_calls_offered_total", site="north", line="999", queue="emergency") == 1
        assert sample(metrics, "intake_calls_abandoned_total", site="south", line="999", queue="emergency") == 1
        assert sample(metrics, "intake_calls_abandoned_total", site="north", line="999", queue="emergency") == 0
        total = (await rig.http.get("/api/queues")).json()["lines"]["999"]
        assert (total["offered"], total["abandoned"], total["waiting"]) == (3, 1, 2)


async def test_a_ringing_phone_pops_the_handler_of_its_own_site(redis_client: Any):
    # Both sites have PJSIP/handler-1 and -2: the desktop popped is that of the phone on the call's PBX.
    async with two_sites(redis_client) as rig:
        desktops = {hid: rig.server.hub.attach(hid, None) for hid in ("n1", "n2", "s1", "s2")}
        call = rig.sims["south"].place_call("emergency", "07700900401", "South Caller")
        pops = [asyncio.create_task(_next_pop(desktops[hid])) for hid in ("s1", "s2")]
        done, pending = await asyncio.wait(pops, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        assert [task.result()["call_id"] for task in done] == [call]
        # Whatever the north desktops were sent by now (the pop came after the ring): never a pop.
        assert all(json.loads(desktops[hid]._queue.get_nowait())["type"] != "pop"
                   for hid in ("n1", "n2") for _ in range(desktops[hid].waiting))


async def _next_pop(outbox: Any) -> dict[str, Any]:
    while True:
        message = json.loads(await outbox.next())
        if message.get("type") == "pop":
            return message  # type: ignore[no-any-return]


async def test_a_site_whose_pbx_goes_away_is_shown_down_while_the_other_carries_on(redis_client: Any):
    async with two_sites(redis_client) as rig:
        waiting = rig.sims["north"].place_call("emergency", "07700900501", "North Caller")
        await eventually(lambda: waiting in rig.server.sites["north"].registry.calls, 10, "north's call followed")
        south, south_port = rig.sims["south"], rig.sims["south"].port
        await south.shut_down(restart=False)

        async def south_down() -> dict[str, Any] | None:
            body = (await rig.http.get("/api/queues")).json()
            return body if not body["sites"]["south"]["up"] else None

        report = await eventually(south_down, 10, "south shown down")
        assert report["sites"]["north"]["up"]
        health = await rig.http.get("/healthz")
        assert health.status_code == 200, health.text  # the node still serves north's desktops
        assert health.json()["sites"] == {"north": {"connected": True, "ami_version": "11.0.0"},
                                          "south": {"connected": False, "ami_version": "11.0.0"}}
        assert health.json()["ok"] and not health.json()["ami"]["connected"]

        # North carries on: its waiting call is answered and counted while south is away.
        rig.sims["north"].answer("PJSIP/handler-1")
        await eventually(lambda: rig.server.sites["north"].registry.metrics.lines["999"].answered == 1, 10, "north's answer")

        async with SimulatedPbx(dataclasses.replace(south.config, port=south_port)) as restarted:  # the PBX back, as after a restart
            await eventually(lambda: rig.server.sites["south"].up, 15, "south back up")
            later = restarted.place_call("emergency", "07700900502", "South Caller")
            await eventually(lambda: later in rig.server.sites["south"].registry.calls, 10, "south's call followed again")
            assert (await rig.http.get("/api/queues")).json()["sites"]["south"]["up"]
            assert rig.server.sites["north"].registry.metrics.lines["999"].answered == 1  # north's figures untouched


async def test_a_node_is_unhealthy_only_when_no_site_s_pbx_link_is_up(redis_client: Any):
    async with two_sites(redis_client) as rig:
        for name in ("south", "north"):
            await rig.sims[name].shut_down(restart=False)

        async def unhealthy() -> httpx.Response | None:
            answer = await rig.http.get("/healthz")
            return answer if answer.status_code == 503 else None

        answer = await eventually(unhealthy, 10, "/healthz 503 with both sites down")
        assert answer.json()["sites"] == {"north": {"connected": False, "ami_version": "11.0.0"},
                                          "south": {"connected": False, "ami_version": "11.0.0"}}
        assert answer.json()["redis"]["reachable"] and answer.json()["degraded"] == []


async def test_a_handler_s_not_ready_pauses_their_phone_on_their_own_site_s_pbx_only(redis_client: Any):
    # n1 and s1 are both PJSIP/handler-1, on two PBXs: s1's break is south's business alone.
    async with two_sites(redis_client) as rig:
        asked = await rig.http.post("/api/me/state", json={"state": "not-ready", "reason": "lunch"},
                                    headers={"Authorization": f"Bearer {rig.handler_tokens['s1']}"})
        assert asked.status_code == 200, asked.text
        south = rig.sims["south"].pbx.members.membership("emergency", "PJSIP/handler-1")
        north = rig.sims["north"].pbx.members.membership("emergency", "PJSIP/handler-1")
        assert (south.paused, south.reason) == (True, "lunch")
        assert not north.paused
        await eventually(lambda: rig.server.handler_me("s1")["state"] == "not-ready", 10, "s1 shown not ready")
        assert rig.server.handler_me("n1")["state"] == "ready"
