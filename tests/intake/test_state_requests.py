"""A handler's state request over REST against the simulated PBX: a pause reason that breaks the
one rule for reasons (telephony.values.PAUSE_REASON) is a 422 naming ``reason``, and the PBX
hears nothing of it; one that meets it reaches the PBX exactly as typed."""

from __future__ import annotations

import secrets as token_source
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from intake.app.demo import demo_config
from intake.app.server import IntakeServer
from intake.core.handlers import HandlerState
from telephony.simulator import SimConfig, SimulatedPbx
from tests.serving import running_server
from tests.waiting import eventually

H1 = "PJSIP/handler-1"


@pytest.fixture
async def desk(redis_client: Any) -> AsyncIterator[tuple[SimulatedPbx, IntakeServer, httpx.AsyncClient]]:
    token = token_source.token_urlsafe(18)
    async with SimulatedPbx(SimConfig(traffic=None, members_at_start=False, secret=token_source.token_urlsafe(12),
                                      tick=0.005)) as sim:
        config = demo_config(sim.config, sim.port, 0)
        secrets = {"ami.secret": sim.config.secret, "supervisors[0].token": token_source.token_urlsafe(18)}
        secrets |= {f"handlers[{i}].token": token if h.id == "h1" else token_source.token_urlsafe(18)
                    for i, h in enumerate(config.handlers)}
        bound: list[int] = []
        async with running_server(config, secrets, redis_client, bound=bound) as server:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{bound[0]}",
                                         headers={"Authorization": f"Bearer {token}"}) as http:
                yield sim, server, http


def pauses(sim: SimulatedPbx) -> list[tuple[str, ...]]:
    """The PBX's own record of every pause it was asked for: queue_log PAUSE lines' reasons."""
    return [line.data for line in sim.queue_log.lines if line.event == "PAUSE"]


@pytest.mark.parametrize(("reason", "says"), [
    ("break\x00", "reason: contains a control character (U+0000)"),
    ("break\x1b[2J", "reason: contains a control character (U+001B)"),
    ("meal;1", "reason: contains ';'"),
    ("é" * 40, "reason: is 80 bytes long (UTF-8); the PBX keeps 79"),
])
async def test_a_reason_breaking_the_rule_is_a_422_naming_reason_and_nothing_reaches_the_pbx(desk, reason: str, says: str):
    sim, server, http = desk
    assert (await http.post("/api/me/state", json={"state": "ready"})).status_code == 200
    await eventually(lambda: (h := server.registry.handlers.get(H1)) is not None and len(h.memberships) == 2, 10)

    r = await http.post("/api/me/state", json={"state": "not-ready", "reason": reason})
    assert r.status_code == 422 and r.json()["detail"].startswith(says), r.text

    # An action round trip later (the PBX handles a session's actions in order), only that one
    # is in the PBX's record: the refused reason never left.
    r = await http.post("/api/me/state", json={"state": "not-ready", "reason": "lunch: 30 min"})
    assert r.status_code == 200, r.text
    await eventually(lambda: server.registry.handlers[H1].state(server.config.wrapup_reason) == (HandlerState.NOT_READY, "lunch: 30 min"), 10)
    assert set(pauses(sim)) == {("lunch: 30 min",)}
