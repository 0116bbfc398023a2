"""The Starlette adapter: accept the WebSocket, build a DesktopSession, run it. Nothing else.

Mount it with ``WebSocketRoute("/desktop", desktop_endpoint(hub, tokens, on_outcome))``; the
desktop connects to ``/desktop?token=...&last_seq=N``. The socket is accepted before the token is
checked so that a refused desktop sees close code 4401 rather than a bare HTTP 403.

uvicorn logs every WebSocket handshake's path *with its query string*, token included, at INFO:
:func:`redact_tokens_in_server_logs` installs a filter that blanks it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from screenpop.auth import TokenBook
from screenpop.delivery import DesktopHub
from screenpop.errors import DesktopDisconnected, NotText
from screenpop.session import DesktopSession, OnOutcome
from screenpop.socket import DEFAULT_SESSION, SessionConfig

_GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError)
"""What Starlette and uvicorn raise when the peer is already gone (OSError: ClientDisconnected)."""


class StarletteSocket:
    """A Starlette WebSocket as a :class:`screenpop.socket.SocketTransport` (desktops' and wallboards')."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    async def receive_text(self) -> str:
        try:
            message = await self._websocket.receive()
        except _GONE as exc:
            raise DesktopDisconnected(getattr(exc, "code", None)) from None
        if message["type"] == "websocket.disconnect":
            raise DesktopDisconnected(message.get("code"))
        text = message.get("text")
        if text is None:
            raise NotText()
        return str(text)

    async def send_text(self, text: str) -> None:
        try:
            await self._websocket.send_text(text)
        except _GONE as exc:
            raise DesktopDisconnected(getattr(exc, "code", None)) from None

    async def close(self, code: int, reason: str) -> None:
        try:
            await self._websocket.close(code, reason)
        except _GONE as exc:
            raise DesktopDisconnected(getattr(exc, "code", None)) from None


SessionCheck = Callable[[str], Awaitable[str]]
"""The application's check of a sign-in cookie: the handler's id, or BadToken (screenpop knows
nothing of how the application signs people in)."""


def desktop_endpoint(
    hub: DesktopHub, tokens: TokenBook, on_outcome: OnOutcome, config: SessionConfig = DEFAULT_SESSION, *,
    cookie: tuple[str, SessionCheck] | None = None,
) -> Callable[[WebSocket], Awaitable[None]]:
    """``cookie``: the name of the application's sign-in cookie and its check; a handshake that
    carries it signs in by it, else by ``?token=``."""
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        session = DesktopSession(StarletteSocket(websocket), hub, tokens, on_outcome, config)
        signed_in = websocket.cookies.get(cookie[0]) if cookie is not None else None
        check = (lambda: cookie[1](signed_in)) if cookie is not None and signed_in else None
        await session.run(websocket.query_params.get("token"), websocket.query_params.get("last_seq"), signed_in=check)

    return endpoint


class RedactTokens(logging.Filter):
    """Blanks ``token=...`` (and a sign-in's one-time ``code=...``) in a log record's message and arguments."""

    _TOKEN = re.compile(r"((?:token|code)=)[^&\s\"']*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self._TOKEN.sub(r"\1[redacted]", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._TOKEN.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_tokens_in_server_logs(logger_names: tuple[str, ...] = ("uvicorn.error", "uvicorn.access")) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
