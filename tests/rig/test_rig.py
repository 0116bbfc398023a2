"""The rig itself: desktops reach intake through HAProxy (the shipped config), and when the node
holding a desktop is killed (or stopped), HAProxy takes it out and the desktop's reconnection lands on the
node that is up. (What the desktop missed meanwhile is the streams' part of issue 13.)"""

from __future__ import annotations

import signal
from typing import Any

import pytest

from telephony.simulator import SimulatedPbx
from tests.pbx.harness import Desktop
from tests.support.cluster import Cluster
from tests.waiting import patience


def pop_of(call_id: str) -> Any:
    return lambda m: m.get("type") == "pop" and m.get("call_id") == call_id


async def ring(sim: SimulatedPbx, desk: Desktop, number: str) -> dict[str, Any]:
    """A 999 call rings h2's phone: the pop the desktop gets for it. The caller then hangs up,
    so h2's phone is free for the next call."""
    call_id = sim.place_call("emergency", number, "Test Caller")
    _, pop = await desk.wait_for(pop_of(call_id), patience(10), f"the pop of {call_id}")
    sim.hangup_caller(call_id)
    return pop


async def test_a_desktop_connected_through_haproxy_gets_its_pop(cluster: Cluster, sim: SimulatedPbx) -> None:
    desk = await cluster.desktop("h2")
    try:
        holder = await cluster.holder()
        pop = await ring(sim, desk, "07700900201")
        assert pop["caller"]["number"] == "07700900201" and pop["line"] == "999"
        assert (await cluster.view())[holder].sessions == 1  # the socket stayed where it landed
    finally:
        await desk.close()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill -9", "stopped"])
async def test_the_node_holding_a_desktop_goes_and_its_reconnection_lands_on_the_other(
        cluster: Cluster, sim: SimulatedPbx, sig: int) -> None:
    desk = await cluster.desktop("h2")
    again: Desktop | None = None
    try:
        holder = await cluster.holder()
        live = cluster.other(holder)
        await ring(sim, desk, "07700900202")
        await cluster.kill(holder, sig)
        await desk.wait_closed(patience(10))  # the proxy passes the dead node's end on to the desktop
        again = await cluster.desktop("h2")  # at once, as the desktop page does: HAProxy may not know yet
        assert await cluster.holder() == live
        view = await cluster.wait_for(f"HAProxy to mark {holder} down", lambda v: v[holder].down)
        assert view[live].up
        pop = await ring(sim, again, "07700900203")  # the node that is up pops it
        assert pop["caller"]["number"] == "07700900203"
    finally:
        await desk.close()
        if again is not None:
            await again.close()


async def test_a_restarted_node_is_taken_back_and_new_desktops_fill_it_first(cluster: Cluster, sim: SimulatedPbx) -> None:
    first = await cluster.desktop("h2")
    second: Desktop | None = None
    try:
        holder = await cluster.holder()
        live = cluster.other(holder)
        await cluster.kill(holder)
        await first.wait_closed(patience(10))
        await cluster.wait_for(f"HAProxy to mark {holder} down", lambda v: v[holder].down)
        first = await cluster.desktop("h2")
        await cluster.wait_for(f"{live} to hold the reconnected desktop", lambda v: v[live].sessions == 1)
        await cluster.restart(holder)
        await cluster.wait_for(f"HAProxy to take {holder} back", lambda v: v[holder].up)
        # leastconn: the node holding nothing takes the next socket; the moved one stays put.
        second = await cluster.desktop("h1")
        view = await cluster.wait_for("both nodes to hold one socket", lambda v: sum(s.sessions for s in v.values()) == 2)
        assert (view[holder].sessions, view[live].sessions) == (1, 1)
    finally:
        await first.close()
        if second is not None:
            await second.close()
