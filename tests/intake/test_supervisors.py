"""The supervisors' stream over a real WebSocket (uvicorn on loopback, `websockets` as the
wallboard): the newest picture, a supervisor's token only, and no input taken."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from intake.app.auth import Principals
from intake.app.supervisors import MAX_INBOUND, SupervisorStream
from tests.serving import serving_app

SUPERVISOR, HANDLER = "tok-sup-5d1e", "tok-ana-7f3a"


@dataclass
class Wallboards:
    stream: SupervisorStream
    picture: dict[str, Any]
    port: int

    def connect(self, token: str = SUPERVISOR) -> Any:
        return connect(f"ws://127.0.0.1:{self.port}/ws/supervisor?token={token}")


@pytest.fixture
async def wallboards() -> AsyncIterator[Wallboards]:
    picture: dict[str, Any] = {"waiting": 0}
    stream = SupervisorStream(Principals({HANDLER: "ana"}, {SUPERVISOR: "sup1"}), lambda: dict(picture))

    async def endpoint(websocket: WebSocket) -> None:
        await stream.serve(websocket, token=websocket.query_params.get("token", ""))

    async with serving_app(Starlette(routes=[WebSocketRoute("/ws/supervisor", endpoint)])) as port:
        yield Wallboards(stream, picture, port)


async def _next(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return message


async def _closed_with(ws: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_a_wallboard_starts_from_the_present_then_gets_each_new_picture(wallboards: Wallboards) -> None:
    async with wallboards.connect() as ws:
        first = await _next(ws)
        assert (first["type"], first["waiting"]) == ("metrics", 0)
        wallboards.picture["waiting"] = 3
        wallboards.stream.publish()
        second = await _next(ws)
        assert (second["waiting"], second["seq"]) == (3, first["seq"] + 1)


@pytest.mark.parametrize("token", ["", "not-a-token", HANDLER])
async def test_only_a_supervisors_token_opens_the_stream_and_the_refusal_is_4401(wallboards: Wallboards, token: str) -> None:
    async with wallboards.connect(token) as ws:
        assert await _closed_with(ws) == (4401, "a supervisor token is required")
    assert wallboards.stream.listeners == 0


async def test_a_keep_alive_is_ignored_and_the_stream_goes_on(wallboards: Wallboards) -> None:
    async with wallboards.connect() as ws:
        await _next(ws)
        await ws.send("ping")
        wallboards.stream.publish()
        assert (await _next(ws))["type"] == "metrics"


@pytest.mark.parametrize("sent", [b"\x00binary", "x" * (MAX_INBOUND + 1)], ids=["binary", "too-long"])
async def test_a_wallboard_that_sends_data_is_closed_as_a_policy_violation(wallboards: Wallboards, sent: Any) -> None:
    async with wallboards.connect() as ws:
        await _next(ws)
        await ws.send(sent)
        assert await _closed_with(ws) == (1008, "the supervisor stream takes no input")
    assert wallboards.stream.listeners == 0
