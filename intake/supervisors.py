"""The supervisors' live stream: the newest metrics picture, never a backlog of stale ones.

Each supervisor socket has a one-slot mailbox: a new picture replaces an unsent one, so a slow
wallboard skips to the present instead of replaying the past, and can never hold up another.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect

from intake.auth import Role, TokenBook

log = structlog.get_logger("intake.supervisors")

CLOSE_BAD_TOKEN = 4401
CLOSE_BAD_INPUT = 1008
MAX_INBOUND = 4096


class _Mailbox:
    __slots__ = ("latest", "ready")

    def __init__(self) -> None:
        self.latest: str | None = None
        self.ready = asyncio.Event()

    def put(self, text: str) -> None:
        self.latest = text
        self.ready.set()

    async def take(self) -> str:
        await self.ready.wait()
        self.ready.clear()
        text, self.latest = self.latest, None
        assert text is not None
        return text


class SupervisorStream:
    def __init__(self, tokens: TokenBook, picture: Callable[[], dict[str, Any]]) -> None:
        self.tokens = tokens
        self.picture = picture
        self._boxes: set[_Mailbox] = set()
        self._seq = 0

    @property
    def listeners(self) -> int:
        return len(self._boxes)

    def publish(self) -> None:
        """Send the current picture to every supervisor (called on a short tick when dirty)."""
        if not self._boxes:
            return
        self._seq += 1
        text = json.dumps({"type": "metrics", "seq": self._seq, **self.picture()})
        for box in self._boxes:
            box.put(text)

    async def serve(self, websocket: WebSocket, *, token: str) -> None:
        who = self.tokens.who(token)
        await websocket.accept()
        if who is None or who.role is not Role.SUPERVISOR:
            await websocket.close(CLOSE_BAD_TOKEN, "a supervisor token is required")
            return
        box = _Mailbox()
        self._seq += 1
        box.put(json.dumps({"type": "metrics", "seq": self._seq, **self.picture()}))
        self._boxes.add(box)
        with structlog.contextvars.bound_contextvars(supervisor_id=who.id):
            log.info("supervisor_connected")
            try:
                async with asyncio.TaskGroup() as tg:
                    sender = tg.create_task(self._send(websocket, box))
                    await self._receive(websocket)
                    sender.cancel()
            except* (WebSocketDisconnect, ConnectionError):
                pass
            finally:
                self._boxes.discard(box)
                log.info("supervisor_disconnected")

    async def _send(self, websocket: WebSocket, box: _Mailbox) -> None:
        while True:
            await websocket.send_text(await box.take())

    async def _receive(self, websocket: WebSocket) -> None:
        """Supervisors only listen: small text (a keep-alive) is ignored, anything else closes."""
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text") or ""
            if len(text) > MAX_INBOUND or message.get("bytes"):
                await websocket.close(CLOSE_BAD_INPUT, "the supervisor stream takes no input")
                return
