"""A scripted simulated PBX per test, with short ring timeouts so ring-outs take a fraction of a second."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from telephony.simulator import HandlerConfig, QueueConfig, SimConfig, SimulatedPbx
from tests.simulator.ami_client import AmiTestClient

SCRIPTED = SimConfig(
    queues=(
        QueueConfig("999", line="999", weight=10, timeout=0.3, retry=0.1, exten="999"),
        QueueConfig("101", line="101", weight=0, timeout=0.3, retry=0.1, exten="101"),
    ),
    handlers=(
        HandlerConfig("PJSIP/handler-1", "Asha Patel", ("999",)),
        HandlerConfig("PJSIP/handler-2", "Ben Carter", ("999", "101")),
        HandlerConfig("PJSIP/handler-3", "Cara Lewis", ("101",)),
    ),
    traffic=None,
    tick=0.005,
    dialplan_delay=0.05,
)


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    async with SimulatedPbx(SCRIPTED) as pbx:
        yield pbx


@pytest.fixture
async def client(sim: SimulatedPbx) -> AsyncIterator[AmiTestClient]:
    c = await AmiTestClient.logged_in(sim.port)
    await c.wait_event("FullyBooted")
    yield c
    await c.close()
