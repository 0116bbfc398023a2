"""The ring-out rule at work in the server, against the PBX simulator over real AMI on loopback:
the handler whose phone rang out is paused by intake on every queue (the PBX's own member state
says so), the call goes on to the next handler, the desktop and /metrics tell, Ready brings the
handler back. (tests/pbx/test_ring_out.py does the same against the real Asterisk.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from intake.app.server import IntakeServer
from routing.handler_desk import Wanted
from telephony.simulator import HandlerConfig, QueueConfig, SimConfig, SimulatedPbx
from tests.pbx.intake_server import SimLogin, intake_config, running_intake
from tests.waiting import eventually

H1, H2 = "PJSIP/handler-1", "PJSIP/handler-2"
QUEUES = ("emergency", "non-emergency")
SIM = SimConfig(
    queues=(QueueConfig("emergency", line="999", weight=10, timeout=0.5, retry=0.1, exten="999"),
            QueueConfig("non-emergency", line="101", weight=0, timeout=0.5, retry=0.1, exten="101", answer_first=False)),
    handlers=(HandlerConfig(H1, "h1", QUEUES), HandlerConfig(H2, "h2", QUEUES)),
    members_at_start=False, traffic=None, tick=0.005, dialplan_delay=0.05, secret="ring-out-secret",
)


def serving(sim: SimulatedPbx, **routing: Any) -> AbstractAsyncContextManager[IntakeServer]:
    login = SimLogin.of(sim)
    return running_intake(login, intake_config(login, {"h1": list(QUEUES), "h2": list(QUEUES)}, **routing))


async def until(check: Callable[[], Any], what: str, timeout: float = 5.0) -> Any:
    return await eventually(check, timeout, what, every=0.01)


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    async with SimulatedPbx(SIM) as pbx:
        yield pbx


def pbx_member(sim: SimulatedPbx, member: str) -> dict[str, tuple[bool, str]]:
    """The simulated PBX's own view: queue -> (paused, reason)."""
    return {q.config.name: (q.members[member].paused, q.members[member].reason) for q in sim.pbx.members.queues_of(member)}


def metrics(server: IntakeServer) -> dict[tuple[str, tuple], float]:
    text = generate_latest(server.prometheus).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


async def a_call_rings_out_on_h1_then_h2_answers(sim: SimulatedPbx, server: IntakeServer) -> str:
    await server.desk.request("h1", Wanted.READY)
    await until(lambda: server.handler_me("h1")["state"] == "ready", "h1 ready")
    call_id = sim.place_call("emergency", "07700900031")
    assert await sim.wait_ringing(H1) == call_id
    await server.desk.request("h2", Wanted.READY)  # only now: h1 is rung first
    await until(lambda: sim.ringing(H2) == call_id, "the call rings h2 after h1's ring-out")
    sim.answer(H2)
    return call_id


async def test_a_handler_whose_phone_rings_out_is_paused_on_every_queue_and_told_why(sim: SimulatedPbx) -> None:
    async with serving(sim) as server:
        await a_call_rings_out_on_h1_then_h2_answers(sim, server)
        await until(lambda: pbx_member(sim, H1) == {q: (True, "rang out") for q in QUEUES}, "h1 paused at the PBX")
        me = await until(lambda: (m := server.handler_me("h1"))["state"] == "not-ready" and m, "h1's desktop state")
        assert (me["reason"], me["ring_out_reason"]) == ("rang out", "rang out")
        assert pbx_member(sim, H2) == {q: (False, "") for q in QUEUES}
        wallboard = {h["handler_id"]: h for h in server.picture()["handlers"]}
        assert (wallboard["h1"]["state"], wallboard["h1"]["reason"]) == ("not-ready", "rang out")
        seen = await until(lambda: metrics(server).get(("intake_ring_out_pauses_total", (("line", "999"), ("queue", "emergency"), ("result", "paused")))),
                           "the pause counted")
        assert seen == 1
        assert metrics(server)[("intake_ring_outs_total", (("line", "999"), ("queue", "emergency")))] == 1

        # Back with Ready, as from the desktop.
        await server.desk.request("h1", Wanted.READY)
        await until(lambda: pbx_member(sim, H1) == {q: (False, "") for q in QUEUES}, "h1 ready again at the PBX")


async def test_with_the_rule_off_the_handler_stays_ready(sim: SimulatedPbx) -> None:
    async with serving(sim, pause_after_ring_no_answer=0) as server:
        call_id = await a_call_rings_out_on_h1_then_h2_answers(sim, server)
        await until(lambda: server.registry.handlers[H2].on_call == call_id, "h2 on the call")
        # The ring-out was seen (the rule decides as the notice passes) and no pause was started.
        assert server.ring_outs.ring_outs.seen and not server.ring_outs.background.busy
        assert pbx_member(sim, H1) == {q: (False, "") for q in QUEUES}
        assert server.handler_me("h1")["state"] == "ready"
        assert not [k for k in metrics(server) if k[0] == "intake_ring_out_pauses_total"]
