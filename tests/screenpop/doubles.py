"""Test doubles: an in-memory desktop (the transport a session runs over, and the desktop's side of
it) and an ``on_outcome`` callback that keeps what it accepts."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from screenpop.errors import DesktopDisconnected, NotYourCall, UnknownCall
from screenpop.models import Outcome

_GONE = object()


class MemoryDesktop:
    """Implements SocketTransport for the session; ``say``/``next``/``leave`` are the desktop's side."""

    def __init__(self) -> None:
        self._to_server: asyncio.Queue[object] = asyncio.Queue()
        self._to_desktop: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.stalled = False
        self.closed: tuple[int, str] | None = None

    # --- the session's side (SocketTransport) ---

    async def receive_text(self) -> str:
        item = await self._to_server.get()
        if item is _GONE:
            raise DesktopDisconnected(1000)
        assert isinstance(item, str)
        return item

    async def send_text(self, text: str) -> None:
        if self.stalled:  # a desktop that stopped reading: the write never completes
            await asyncio.Event().wait()
        await self._to_desktop.put(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    # --- the desktop's side ---

    def say(self, message: dict[str, Any] | str) -> None:
        self._to_server.put_nowait(message if isinstance(message, str) else json.dumps(message))

    def leave(self) -> None:
        self._to_server.put_nowait(_GONE)

    async def next(self, timeout: float = 1.0) -> dict[str, Any]:
        return await asyncio.wait_for(self._to_desktop.get(), timeout)

    async def next_not_ping(self, timeout: float = 1.0) -> dict[str, Any]:
        while (message := await self.next(timeout))["type"] == "ping":
            pass
        return message

    def received(self) -> list[dict[str, Any]]:
        out = []
        while not self._to_desktop.empty():
            out.append(self._to_desktop.get_nowait())
        return out


@dataclass
class Outcomes:
    """The injected on_outcome: keeps what it accepts, refuses calls it does not know or are not the handler's."""

    calls: dict[str, str] = field(default_factory=lambda: {"c1": "ana", "c2": "bo"})
    saved: list[tuple[str, Outcome]] = field(default_factory=list)

    async def __call__(self, handler_id: str, outcome: Outcome) -> None:
        if outcome.call_id not in self.calls:
            raise UnknownCall(outcome.call_id)
        if self.calls[outcome.call_id] != handler_id:
            raise NotYourCall(outcome.call_id, handler_id)
        self.saved.append((handler_id, outcome))
