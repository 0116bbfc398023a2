"""The supervisors' live stream: the newest metrics picture, never a backlog of stale ones.

Each socket reads from a latest-wins slot (:mod:`screenpop.latest`): a new picture replaces an
unsent one, so a slow wallboard skips to the present instead of replaying the past, and can never
hold up another.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect

from intake.app.auth import Principals, Role
from screenpop.latest import LatestFanout, LatestSlot, SlotClosed

log = structlog.get_logger("intake.supervisors")

CLOSE_BAD_TOKEN = 4401
CLOSE_BAD_INPUT = 1008
MAX_INBOUND = 4096


class SupervisorStream:
    def __init__(self, principals: Principals, picture: Callable[[], dict[str, Any]]) -> None:
        self.principals = principals
        self.picture = picture
        self._fanout: LatestFanout[str] = LatestFanout()
        self._seq = 0

    @property
    def listeners(self) -> int:
        return len(self._fanout)

    def publish(self) -> None:
        """Send the current picture to every supervisor (called on a short tick when dirty)."""
        if len(self._fanout):
            self._seq += 1
            self._fanout.publish(json.dumps({"type": "metrics", "seq": self._seq, **self.picture()}))

    async def serve(self, websocket: WebSocket, *, token: str) -> None:
        who = self.principals.who(token)
        await websocket.accept()
        if who is None or who.role is not Role.SUPERVISOR:
            await websocket.close(CLOSE_BAD_TOKEN, "a supervisor token is required")
            return
        slot_id, slot = self._fanout.attach()
        self.publish()  # the newcomer starts from the present
        with structlog.contextvars.bound_contextvars(supervisor_id=who.id):
            log.info("supervisor_connected")
            try:
                async with asyncio.TaskGroup() as tg:
                    sender = tg.create_task(self._send(websocket, slot))
                    await self._receive(websocket)
                    sender.cancel()
            except* (WebSocketDisconnect, ConnectionError, SlotClosed):
                pass
            finally:
                self._fanout.detach(slot_id)
                log.info("supervisor_disconnected")

    async def _send(self, websocket: WebSocket, slot: LatestSlot[str]) -> None:
        while True:
            await websocket.send_text(await slot.take())

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
