"""The Starlette adapter: accept the WebSocket, build a DesktopSession, run it. Nothing else.

Mount it with ``WebSocketRoute("/desktop", desktop_endpoint(hub, authenticate, on_outcome))``; the
desktop connects to ``/desktop?last_seq=N`` and signs in by its session cookie or its first
message (:mod:`screenpop.signin`). The socket is accepted before anyone is signed in so that a
refused desktop sees close code 4401 rather than a bare HTTP 403.

A token in the URL is refused (4401) without a look; uvicorn logs every handshake's path *with
its query string* at INFO, so :func:`redact_tokens_in_server_logs` blanks such a token there too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from screenpop.delivery import DesktopHub
from screenpop.errors import DesktopDisconnected, NotText
from screenpop.session import DesktopSession, OnOutcome
from screenpop.signin import Authenticator, Credentials
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


def handshake_of(websocket: WebSocket) -> Credentials:
    """What the opening request offers to sign in with: its cookies, and the peer's address."""
    return Credentials(cookies=dict(websocket.cookies), client=websocket.client.host if websocket.client else "")


def desktop_endpoint(
    hub: DesktopHub, authenticate: Authenticator, on_outcome: OnOutcome, config: SessionConfig = DEFAULT_SESSION
) -> Callable[[WebSocket], Awaitable[None]]:
    """``cookie``: the name of the application's sign-in cookie and its check; a handshake that
    carries it signs in by it, else by ``?token=``."""
    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        session = DesktopSession(StarletteSocket(websocket), hub, authenticate, on_outcome, config)
        await session.run(handshake_of(websocket), websocket.query_params)

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
