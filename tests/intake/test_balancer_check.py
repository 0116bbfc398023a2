"""The load balancer's check, ``/healthz?for=balancer``: a node takes new sockets once its first
try at the PBX is over and until it is asked to stop; its Redis being away does not take it out
(plain ``/healthz``, for monitoring, still says 503)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets as token_source
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import fakeredis
import httpx
import pytest

from intake.app.balancer import NodeState, node_state
from intake.app.server import IntakeServer
from telephony.simulator import SimConfig, SimulatedPbx
from tests.intake.own_redis import OwnRedis
from tests.pbx.intake_server import SimLogin, intake_config, running_intake
from tests.waiting import eventually

HANDLERS = {"h1": ["emergency"]}


@pytest.mark.parametrize(("pbx_tried", "stopping", "state"), [
    (False, False, NodeState.STARTING),  # its first PBX snapshot not in: a desktop would miss a ringing call's pop
    (True, False, NodeState.SERVING),
    (True, True, NodeState.STOPPING),
    (False, True, NodeState.STOPPING),  # asked to stop before it ever served
])
def test_node_state_by_table(pbx_tried: bool, stopping: bool, state: NodeState) -> None:
    assert node_state(pbx_tried=pbx_tried, stopping=stopping) is state


@dataclass(frozen=True)
class SilentPbx:
    """A TCP listener that accepts and says nothing: a PBX still booting (no AMI banner yet)."""

    server: asyncio.Server
    accepted: asyncio.Queue[asyncio.StreamWriter]
    ami_host: str = "127.0.0.1"
    ami_user: str = "intake"
    ami_secret: str = "unused-secret"

    @property
    def ami_port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])


@contextlib.asynccontextmanager
async def silent_pbx() -> AsyncIterator[SilentPbx]:
    accepted: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accepted.put(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield SilentPbx(server, accepted)
    finally:
        server.close()
        while not accepted.empty():
            writer = accepted.get_nowait()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await server.wait_closed()


async def balancer_check(http: httpx.AsyncClient) -> tuple[int, str]:
    answer = await http.get("/healthz", params={"for": "balancer"})
    return answer.status_code, answer.json()["node"]


async def test_a_node_takes_no_sockets_until_its_first_try_at_the_pbx_is_over_and_none_once_stopping() -> None:
    async with silent_pbx() as pbx:
        config = intake_config(pbx, HANDLERS)
        secrets = {"ami.secret": pbx.ami_secret, "handlers[0].token": config.handlers[0].token}
        server = IntakeServer(config, secrets, fakeredis.FakeAsyncRedis())
        ready, bound = asyncio.Event(), []
        run = asyncio.create_task(server.run("127.0.0.1", 0, ready=ready, bound=bound))
        try:
            await asyncio.wait_for(ready.wait(), 20)
            link = await asyncio.wait_for(pbx.accepted.get(), 20)  # intake is waiting for the banner
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{bound[0]}") as http:
                assert await balancer_check(http) == (503, "starting")
                assert (await http.get("/healthz")).json()["node"] == "starting"
                link.close()  # the PBX went away before it ever answered: the first try is over
                await link.wait_closed()

                async def serving() -> bool:
                    return await balancer_check(http) == (200, "serving")

                await eventually(serving, 20, "the balancer's check to pass")
                # Still no PBX: the monitor's report says so, while the balancer keeps the node.
                report = await http.get("/healthz")
                assert report.status_code == 503 and report.json()["ami"]["connected"] is False
            server.stop()
            assert server.node_state() is NodeState.STOPPING
        finally:
            server.stop()
            await asyncio.wait_for(run, 20)


async def test_a_node_whose_redis_is_away_still_takes_sockets(tmp_path: Path) -> None:
    own = OwnRedis(tmp_path)
    await own.start()
    redis = own.client()
    try:
        async with (SimulatedPbx(SimConfig(traffic=None, secret=token_source.token_urlsafe(12))) as sim,
                    running_intake(SimLogin.of(sim), intake_config(SimLogin.of(sim), HANDLERS), redis) as server):
            port = server._http.servers[0].sockets[0].getsockname()[1]  # type: ignore[union-attr]
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                assert await balancer_check(http) == (200, "serving")
                own.stop()

                async def redis_away() -> bool:
                    answer = await http.get("/healthz")
                    return answer.status_code == 503 and answer.json()["redis"]["reachable"] is False

                await eventually(redis_away, 20, "/healthz to report Redis away")
                assert await balancer_check(http) == (200, "serving")
    finally:
        own.stop()
        await redis.aclose()
