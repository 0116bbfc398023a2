"""The server flags a repeat caller on the pop, counting calls Redis has not got yet, each once.

The whole server's wiring (registry -> pops -> write-behind) with a real Redis; the events are
fed in as the AMI session would deliver them, stamped with the current time (pops are looked up
as of the PBX clock, which is the local clock until the PBX has spoken).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import redis.asyncio as aioredis

from intake.app.server import IntakeServer
from intake.core.config import parse
from tests.intake.timeline import Timeline

pytestmark = pytest.mark.redis

H1 = "PJSIP/handler-1"
NUMBER = "07700900042"


def server_with(redis: Any, repeat_calls: int) -> IntakeServer:
    config = parse({
        "ami": {"secret": "env:UNUSED"},
        "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]},
                  {"name": "101", "target_seconds": 60, "queues": ["non-emergency"]}],
        "handlers": [{"id": "h1", "name": "A", "member": H1, "queues": ["non-emergency"], "token": "token-of-handler-h1"}],
        "routing": {"enabled": False, "repeat_calls": repeat_calls},
    })
    return IntakeServer(config, {"ami.secret": "x", "handlers[0].token": "token-of-handler-h1"}, redis)


def call(call_id: str, t0: float) -> Timeline:
    return Timeline(call_id=call_id, queue="non-emergency", number=NUMBER, t0=t0)


async def pops(server: IntakeServer, outbox: Any) -> list[dict]:
    await server.pops.drain()
    messages = [json.loads(await outbox.next()) for _ in range(outbox.waiting)]
    return [m for m in messages if m["type"] == "pop"]


async def test_a_caller_ringing_again_before_the_first_record_is_written_is_a_repeat_caller(redis_client: aioredis.Redis):
    server = server_with(redis_client, repeat_calls=1)
    down = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=None)
    server.writes.redis, server.writes._retry_every = down, 0.05  # records held: Redis is away for writes
    outbox = server.hub.attach("h1", 0)
    t0 = time.time() - 60
    try:
        for e in call("first", t0).join(0).ring(1, H1).abandon(4, hold=4).events:
            server.on_event(e)
        [first] = await pops(server, outbox)  # popped before the second call comes, seconds later as on the floor
        for e in call("second", t0).join(6).ring(7, H1).events:  # seconds later, same number
            server.on_event(e)
        [second] = await pops(server, outbox)
        assert await redis_client.zcard(server.history.keys(NUMBER).contacts) == 0  # nothing written yet
        assert (first["flags"], first["repeat"]) == ([], None)
        assert second["flags"] == ["repeat-caller"] and second["repeat"] == {"calls": 2, "window_seconds": 3600.0}

        server.writes.redis = redis_client  # Redis is back: the first call's record lands
        await asyncio.wait_for(server.writes.flush(), 5)
        assert server.pops.unrecorded.of(NUMBER) == {"second": t0 + 6}  # written: no longer held
        for e in call("second", t0).answer(9, H1, hold=3).complete(20, H1, talk=11).events:
            server.on_event(e)
        await asyncio.wait_for(server.writes.flush(), 5)
        assert len(server.pops.unrecorded) == 0
        for e in call("third", t0).join(30).ring(31, H1).events:
            server.on_event(e)
        (third,) = await pops(server, outbox)
        assert third["repeat"] == {"calls": 3, "window_seconds": 3600.0}  # two recorded + this one, none twice
    finally:
        await server.writes.close(1)
        await down.aclose()


async def test_a_withheld_caller_is_never_a_repeat_caller(redis_client: aioredis.Redis):
    server = server_with(redis_client, repeat_calls=1)
    outbox = server.hub.attach("h1", 0)
    t0 = time.time() - 60
    for i in range(3):
        timeline = Timeline(call_id=f"w{i}", queue="non-emergency", number="anonymous", t0=t0 + 10 * i)
        for e in timeline.join(0).ring(1, H1).abandon(3, hold=3).events:
            server.on_event(e)
    found = await pops(server, outbox)
    await server.writes.close(1)
    assert len(found) == 3 and all(p["flags"] == [] and p["history_status"] == "withheld" for p in found)
    assert len(server.pops.unrecorded) == 0
