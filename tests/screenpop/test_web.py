"""The real WebSocket path: a Starlette app served by uvicorn on loopback, desktops on `websockets`.

No TestClient: real sockets, real flow control, so a desktop that stops reading really does fill
the server's buffers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from structlog.testing import capture_logs
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from screenpop.auth import TokenBook
from screenpop.delivery import DesktopHub, HubConfig
from screenpop.pop import CallSnapshot, compose_pop
from screenpop.session import SessionConfig
from screenpop.web import desktop_endpoint, redact_tokens_in_server_logs
from tests.screenpop.doubles import Outcomes
from tests.serving import serving_app
from tests.support.sockets import signed_in

TOKENS = {"tok-ana-7f3a": "ana", "tok-bo-91c2": "bo"}


class Server:
    def __init__(self, hub: DesktopHub, outcomes: Outcomes, port: int) -> None:
        self.hub, self.outcomes, self.port = hub, outcomes, port

    def url(self, last_seq: int | None = None) -> str:
        return f"ws://127.0.0.1:{self.port}/desktop" + (f"?last_seq={last_seq}" if last_seq is not None else "")

    async def desktop(self, token: str, last_seq: int | None = None, **options: Any) -> ClientConnection:
        """A desktop signed in by its first message."""
        return await signed_in(self.url(last_seq), token, **options)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    hub, outcomes = DesktopHub(HubConfig(outbox_size=8)), Outcomes()
    config = SessionConfig(heartbeat_seconds=30, close_timeout_seconds=0.2)
    app = Starlette(routes=[WebSocketRoute("/desktop", desktop_endpoint(hub, TokenBook(TOKENS).authenticate, outcomes, config))])
    redact_tokens_in_server_logs()
    async with serving_app(app) as port:
        try:
            yield Server(hub, outcomes, port)
        finally:
            hub.close()


def _small_buffer_socket(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16_384)
    sock.connect(("127.0.0.1", port))
    return sock


def _pop(call_id: str, name: str = "J SMITH") -> Any:
    return compose_pop(CallSnapshot(call_id, "999", "999-north", "+447700900123", name, 1.0, 2.0), None)


async def _next(ws: ClientConnection, timeout: float = 2.0) -> dict[str, Any]:
    """The next message that is not a heartbeat ping (which of a beat's slots a socket is pinged in
    depends on how many sockets the process opened before it)."""
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] != "ping":
            return message


async def test_a_bad_token_is_closed_with_4401_and_the_token_is_not_in_the_server_log(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    async with await server.desktop("tok-stolen-9999") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert "tok-stolen" not in caplog.text


async def test_a_token_in_the_url_is_refused_even_a_good_one_and_blanked_in_the_server_log(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    async with connect(f"{server.url()}?token=tok-ana-7f3a&last_seq=0") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert "a token in the URL (token=) is refused" in closed.value.rcvd.reason
    assert server.hub.sockets("ana") == 0
    assert "WebSocket /desktop?token=[redacted]" in caplog.text
    assert "tok-ana" not in caplog.text


async def test_a_pop_reaches_its_handler_and_no_one_else(server: Server) -> None:
    async with await server.desktop("tok-ana-7f3a") as ana, await server.desktop("tok-bo-91c2") as bo:
        assert (await _next(ana))["type"] == (await _next(bo))["type"] == "snapshot"
        server.hub.publish("ana", _pop("c1"), active=True)
        pop = await _next(ana)
        assert (pop["type"], pop["seq"], pop["call_id"]) == ("pop", 1, "c1")
        server.hub.publish("bo", _pop("c2"), active=True)
        theirs = await _next(bo)  # the first bo is sent after the snapshot: ana's pop never reached it
        assert (theirs["type"], theirs["seq"], theirs["call_id"]) == ("pop", 1, "c2")


async def test_a_stalled_desktop_is_dropped_alone_and_resumes_from_its_last_seq(server: Server) -> None:
    big = "x" * 100_000  # so the stalled socket's buffers fill after a few MB, not a few GB
    count = 120
    # A small receive buffer stops the kernel auto-tuning it to 32 MB; max_queue=1 stops the
    # client library reading ahead; no compression, or 100 kB of "x" would be 100 bytes.
    # Together: a desktop that does not read, for real.
    stalled = await server.desktop("tok-ana-7f3a", last_seq=0, sock=_small_buffer_socket(server.port),
                            max_queue=1, max_size=None, compression=None)
    try:
        with capture_logs() as logs:
            async with await server.desktop("tok-ana-7f3a", last_seq=0, max_size=None) as reading:
                await asyncio.sleep(0.1)
                assert server.hub.sockets("ana") == 2
                started, got = time.monotonic(), []
                for i in range(count):
                    server.hub.publish("ana", _pop(f"c{i}", big), active=True)
                    got.append((await _next(reading))["seq"])
                assert got == list(range(1, count + 1))
                assert time.monotonic() - started < 5
                assert server.hub.sockets("ana") == 1  # the stalled one was dropped, the reader kept
                await asyncio.sleep(0.3)  # the server gives up on a close frame the stalled peer cannot take
                assert [e["close_code"] for e in logs if e["event"] == "desktop session ended"] == [4408]

        # The stalled desktop reads what reached it before the drop, then finds itself closed.
        seen = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                seen.append(await _next(stalled))
        assert closed.value.rcvd is None or closed.value.rcvd.code == 4408
        last_seq = seen[-1]["seq"]
        assert 0 < last_seq < count

        # It comes back from where it got to, and nothing it missed is missing: a replay of what
        # followed, or (more than its outbox holds) a snapshot of the active pops.
        async with await server.desktop("tok-ana-7f3a", last_seq=last_seq, max_size=None) as resumed:
            first = await _next(resumed)
            if first["type"] == "snapshot":
                caught_up = [m["seq"] for m in first["pops"]]
            else:
                caught_up = [first["seq"]] + [(await _next(resumed))["seq"] for _ in range(count - last_seq - 1)]
        assert set(range(last_seq + 1, count + 1)) <= set(caught_up)
    finally:
        await stalled.close()


async def test_hostile_messages_get_clear_errors_and_nothing_is_stored(server: Server) -> None:
    good = {"type": "outcome", "call_id": "c1", "grading": "priority", "notes": "unit sent"}
    hostile: list[tuple[str | bytes, str]] = [
        (json.dumps(good | {"notes": "x" * 20_000}), "too-large"),
        ("<script>alert(1)</script>", "not-json"),
        (json.dumps(good | {"grading": ["emergency"], "handler_id": "bo"}), "invalid"),
        (json.dumps(good | {"call_id": "c404"}), "unknown-call"),
        (b'{"type": "ack", "seq": 1}', "not-text"),
    ]
    async with await server.desktop("tok-ana-7f3a", last_seq=0) as ws:
        for message, code in hostile:
            await ws.send(message)
            reply = await _next(ws)
            assert (reply["type"], reply["code"]) == ("error", code), reply
            assert reply["message"]
        assert server.outcomes.saved == []
        await ws.send(json.dumps(good))
        assert await _next(ws) == {"type": "outcome.saved", "call_id": "c1"}
    ((handler_id, outcome),) = server.outcomes.saved
    assert (handler_id, outcome.notes) == ("ana", "unit sent")
