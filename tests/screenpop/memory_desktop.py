"""An in-memory desktop: the transport a session runs over in tests, and the desktop's side of it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from screenpop.errors import DesktopDisconnected

_GONE = object()


class MemoryDesktop:
    """Implements DesktopTransport for the session; ``say``/``next``/``leave`` are the desktop's side."""

    def __init__(self) -> None:
        self._to_server: asyncio.Queue[object] = asyncio.Queue()
        self._to_desktop: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.stalled = False
        self.closed: tuple[int, str] | None = None

    # --- the session's side (DesktopTransport) ---

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
