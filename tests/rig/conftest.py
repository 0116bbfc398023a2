"""The two-node rig on the PBX simulator (tests/support/cluster.py): fast, no real PBX needed."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from telephony.simulator import HandlerConfig, SimConfig, SimulatedPbx
from tests.conftest import redis_server
from tests.pbx.intake_server import SimLogin
from tests.support.cluster import Cluster, running_cluster


@pytest.fixture(scope="session")
def cluster_redis() -> Iterator[str]:
    """A redis-server of the rig's own: both nodes share it, and nobody else flushes it."""
    with redis_server() as url:
        yield url


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    """One PBX both nodes follow: handler h2's phone in the 999 queue, no random traffic."""
    config = SimConfig(traffic=None, members_at_start=True, secret=secrets.token_urlsafe(12), tick=0.005,
                       handlers=(HandlerConfig("PJSIP/handler-2", "h2", ("emergency",)),))
    async with SimulatedPbx(config) as pbx:
        yield pbx


@pytest.fixture
async def cluster(tmp_path: Path, sim: SimulatedPbx, cluster_redis: str) -> AsyncIterator[Cluster]:
    """Two `intake serve` nodes on the simulator and one Redis, HAProxy (the shipped config) in
    front, both nodes up in HAProxy's eyes."""
    async with running_cluster(tmp_path, SimLogin.of(sim), cluster_redis) as rig:
        yield rig
