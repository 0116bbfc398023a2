"""The supervisors' stream over a real WebSocket (uvicorn on loopback, `websockets` as the
wallboard): the newest picture, a supervisor's token only, and no input taken."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from structlog.testing import capture_logs
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from intake.app.auth import Principals, SupervisorPrincipal
from intake.app.authenticator import Authenticator
from intake.app.limits import Limits
from intake.app.socket_auth import socket_check
from intake.app.supervisors import MAX_INBOUND, SupervisorStream
from intake.core.config import HttpConfig
from screenpop.socket import DEFAULT_SESSION, SessionConfig
from tests.serving import serving_app
from tests.support.sockets import signed_in
from tests.waiting import eventually

SUPERVISOR, HANDLER = "tok-sup-5d1e", "tok-ana-7f3a"


@dataclass
class Wallboards:
    stream: SupervisorStream
    picture: dict[str, Any]
    port: int

    async def connect(self, token: str = SUPERVISOR) -> ClientConnection:
        return await signed_in(f"ws://127.0.0.1:{self.port}/ws/supervisor", token)


@contextlib.asynccontextmanager
async def serving(config: SessionConfig = DEFAULT_SESSION) -> AsyncIterator[Wallboards]:
    picture: dict[str, Any] = {"waiting": 0}
    principals = Principals({HANDLER: "ana"}, {SUPERVISOR: "sup1"})
    stream = SupervisorStream(socket_check(Authenticator(principals), SupervisorPrincipal, Limits(HttpConfig())), lambda: dict(picture), config)

    async def endpoint(websocket: WebSocket) -> None:
        await stream.serve(websocket)

    async with serving_app(Starlette(routes=[WebSocketRoute("/ws/supervisor", endpoint)])) as port:
        yield Wallboards(stream, picture, port)


@pytest.fixture
async def wallboards() -> AsyncIterator[Wallboards]:
    async with serving() as world:
        yield world


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
    async with await wallboards.connect() as ws:
        first = await _next(ws)
        assert (first["type"], first["waiting"]) == ("metrics", 0)
        wallboards.picture["waiting"] = 3
        wallboards.stream.publish()
        second = await _next(ws)
        assert (second["waiting"], second["seq"]) == (3, first["seq"] + 1)


@pytest.mark.parametrize("token", ["", "not-a-token", HANDLER])
async def test_only_a_supervisors_token_opens_the_stream_and_the_refusal_is_4401(wallboards: Wallboards, token: str) -> None:
    async with await wallboards.connect(token) as ws:
        assert await _closed_with(ws) == (4401, "a supervisor sign-in is required")
    assert wallboards.stream.listeners == 0


async def test_a_keep_alive_is_ignored_and_the_stream_goes_on(wallboards: Wallboards) -> None:
    async with await wallboards.connect() as ws:
        await _next(ws)
        await ws.send("ping")
        wallboards.stream.publish()
        assert (await _next(ws))["type"] == "metrics"


@pytest.mark.parametrize("sent", [b"\x00binary", "x" * (MAX_INBOUND + 1)], ids=["binary", "too-long"])
async def test_a_wallboard_that_sends_data_is_closed_as_a_policy_violation(wallboards: Wallboards, sent: Any) -> None:
    async with await wallboards.connect() as ws:
        await _next(ws)
        await ws.send(sent)
        assert await _closed_with(ws) == (1008, "the supervisor stream takes no input")
    assert wallboards.stream.listeners == 0


async def test_a_wallboard_that_stops_reading_is_closed_as_too_slow_like_a_desktop() -> None:
    async with serving(SessionConfig(send_timeout_seconds=0.5, close_timeout_seconds=0.2)) as wallboards:
        wallboards.picture["blob"] = "x" * 2_000_000  # a few pictures fill every buffer on the way
        # A small receive buffer and max_queue=1: a client that really stops reading (see test_web).
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
        sock.connect(("127.0.0.1", wallboards.port))
        with capture_logs() as logs:
            stalled = await signed_in(f"ws://127.0.0.1:{wallboards.port}/ws/supervisor", SUPERVISOR, sock=sock,
                                      max_queue=1, max_size=None, compression=None)
            try:
                # Signed in by its first message: attached once the server has read it.
                await eventually(lambda: wallboards.stream.listeners == 1, 10, "the wallboard attached")

                async def dropped() -> bool:
                    wallboards.stream.publish()  # latest-wins: the sender stalls on a send, not on a backlog
                    return wallboards.stream.listeners == 0

                await eventually(dropped, 10, "the stalled wallboard dropped")
            finally:
                stalled.transport.abort()  # no close handshake: it reads nothing
        ended = [e for e in logs if e["event"] == "supervisor session ended"]
        assert [e["close_code"] for e in ended] == [4408] and "too slow" in ended[0]["reason"]
