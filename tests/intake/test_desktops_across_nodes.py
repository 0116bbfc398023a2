"""Two intake nodes on one Redis, both following one PBX: a handler's desktop resumes on the other
node when its own goes, with no pop lost.

Real servers (HTTP and WebSocket on loopback, the simulated PBX over real AMI, a real Redis); the
desktop is a WebSocket client, as the page is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets as token_source
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection

from intake.app.demo import demo_config
from telephony.simulator import SimConfig, SimulatedPbx
from telephony.simulator.config import HandlerConfig
from tests.serving import running_server
from tests.support.sockets import signed_in
from tests.waiting import eventually

pytestmark = pytest.mark.redis

HANDLER = HandlerConfig("PJSIP/handler-2", "h2", ("emergency",))
TOKEN = token_source.token_urlsafe(18)


@contextlib.asynccontextmanager
async def node(sim: SimulatedPbx, redis_url: str, db: int) -> AsyncIterator[int]:
    """One intake node on ``sim`` with a Redis client of its own; yields its HTTP port."""
    config = demo_config(sim.config, sim.port, 0)
    secrets = {"ami.secret": sim.config.secret, "supervisors[0].token": "sup", "handlers[0].token": TOKEN}
    client = aioredis.Redis.from_url(redis_url, db=db)
    bound: list[int] = []
    try:
        async with running_server(config, secrets, client, bound=bound):
            yield bound[0]
    finally:
        await client.aclose()


async def next_of(desktop: ClientConnection, *types: str) -> dict[str, Any]:
    """The desktop's next message of one of ``types`` (the handler's state and pings come between)."""
    async with asyncio.timeout(10):
        while (message := json.loads(await desktop.recv()))["type"] not in types:
            pass
    return message


STREAM = ("pop", "pop.answered", "pop.closed", "snapshot")


async def test_a_desktop_whose_node_dies_resumes_on_the_other_with_the_ringing_calls_pop(
        redis_url: str, redis_client: aioredis.Redis) -> None:
    db = int(redis_client.connection_pool.connection_kwargs["db"])
    async with SimulatedPbx(SimConfig(traffic=None, handlers=(HANDLER,), secret="s3cret", tick=0.005)) as sim:
        async with node(sim, redis_url, db) as port_b:
            async with node(sim, redis_url, db) as port_a:
                desktop = await signed_in(f"ws://127.0.0.1:{port_a}/ws/desktop?last_seq=0", TOKEN)
                first = sim.place_call("emergency", "07700900111", "First Caller")
                pop = await next_of(desktop, *STREAM)
                assert (pop["type"], pop["seq"], pop["call_id"]) == ("pop", 1, first)  # one pop, though both nodes popped it
                last_seq = pop["seq"]
            # Node A is gone while the first call rings; the desktop is cut off.
            with contextlib.suppress(Exception):
                await desktop.close()
            sim.hangup_caller(first)
            second = sim.place_call("emergency", "07700900222", "Second Caller")
            async def second_popped() -> bool:  # node B pops the second call to a desktop it does not hold
                return await redis_client.xlen("intake:desktop:h2:stream") >= 3
            await eventually(second_popped, 10, every=0.02)
            assert sim.ringing(HANDLER.interface) == second

            async with await signed_in(f"ws://127.0.0.1:{port_b}/ws/desktop?last_seq={last_seq}", TOKEN) as desktop:
                missed = [await next_of(desktop, *STREAM) for _ in range(2)]
                assert [(m["type"], m["seq"], m["call_id"]) for m in missed] == [
                    ("pop.closed", 2, first), ("pop", 3, second)]  # the ringing call's pop, on screen before answer
                assert missed[1]["caller"]["number"] == "07700900222"
                sim.answer(HANDLER.interface)
                live = await next_of(desktop, *STREAM)
                assert (live["type"], live["seq"], live["call_id"]) == ("pop.answered", 4, second)
