"""One client socket, whoever is on the other end: send what its feed yields, hand what it says to
its inbox, until one of them stops; then close with the code :data:`CLOSE_CODES` gives the reason.

Both of intake's streams run on this: a handler's desktop (:mod:`screenpop.session`: every
message, in order, from a bounded outbox) and a supervisor's wallboard (:mod:`intake.app.supervisors`:
the newest metrics picture only, from a latest-wins slot). What differs is the feed, the inbox and
how the peer signs in; the tasks, the send deadline, the close codes and the log lines are this
module's, written once.

It knows nothing of HTTP: it runs over any :class:`SocketTransport` (a Starlette WebSocket in
production, see :mod:`screenpop.web`; an in-memory pair in tests). Its tasks run in one TaskGroup,
so the first to fail stops the others.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

import structlog

from screenpop.errors import (
    BadMessage,
    BadResumePoint,
    BadToken,
    DesktopDisconnected,
    InputRefused,
    ServerShuttingDown,
    TooManyBadMessages,
    TooManyRefusals,
    TooSlow,
)
from screenpop.inbound import MAX_MESSAGE_BYTES

log = structlog.get_logger(__name__)


class SocketTransport(Protocol):
    async def receive_text(self) -> str:
        """The next text message; raises DesktopDisconnected when the peer is gone, NotText for binary."""

    async def send_text(self, text: str) -> None:
        """Raises DesktopDisconnected when the peer is gone."""

    async def close(self, code: int, reason: str) -> None: ...


class Feed(Protocol):
    """What a socket is sent: a desktop's :class:`screenpop.delivery.Outbox` (every message, bounded)
    or a wallboard's :class:`screenpop.latest.LatestSlot` (only the newest)."""

    async def next(self) -> str: ...

    async def ended(self) -> None:
        """Wait until the feed is ended from outside (too slow, shutting down), then raise why."""


class Inbox(Protocol):
    """What a socket does with what its peer says."""

    async def received(self, text: str) -> None:
        """One text message; raise a DesktopError to close the socket."""

    def refused(self, exc: BadMessage) -> None:
        """A message the transport could not take (a binary frame); raise to close the socket."""


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    POLICY_VIOLATION = 1008
    INTERNAL_ERROR = 1011
    BAD_REQUEST = 4400
    BAD_TOKEN = 4401
    TOO_SLOW = 4408
    TOO_MANY_REFUSALS = 4429


CLOSE_CODES: tuple[tuple[type[BaseException], CloseCode], ...] = (
    (BadToken, CloseCode.BAD_TOKEN),
    (TooManyRefusals, CloseCode.TOO_MANY_REFUSALS),
    (BadResumePoint, CloseCode.BAD_REQUEST),
    (TooManyBadMessages, CloseCode.BAD_REQUEST),
    (InputRefused, CloseCode.POLICY_VIOLATION),
    (TooSlow, CloseCode.TOO_SLOW),
    (ServerShuttingDown, CloseCode.GOING_AWAY),
    (DesktopDisconnected, CloseCode.NORMAL),
)
"""Why a session ended -> the code its peer gets. Anything not listed is our bug: 1011."""


def close_code_for(exc: BaseException) -> CloseCode:
    for kind, code in CLOSE_CODES:
        if isinstance(exc, kind):
            return code
    return CloseCode.INTERNAL_ERROR


@dataclass(frozen=True, slots=True)
class SessionConfig:
    max_message_bytes: int = MAX_MESSAGE_BYTES
    heartbeat_seconds: float = 15.0
    silence_seconds: float = 45.0
    """No message at all (not even a pong) for this long: the desktop is gone or frozen."""
    send_timeout_seconds: float = 10.0
    close_timeout_seconds: float = 2.0
    max_bad_messages: int = 20
    auth_timeout_seconds: float = 5.0
    """No session cookie: the first message must sign in within this long (screenpop.signin)."""


DEFAULT_SESSION = SessionConfig()


class Socket:
    """The tasks of one open socket and its close; ``kind`` names it in log lines ("desktop")."""

    def __init__(self, transport: SocketTransport, config: SessionConfig, kind: str) -> None:
        self._transport = transport
        self._config = config
        self._kind = kind

    @property
    def transport(self) -> SocketTransport:
        """What the socket runs over (the sign-in reads its first message before the pump starts)."""
        return self._transport

    async def pump(self, peer: str, feed: Feed, inbox: Inbox) -> Exception:
        """Send and receive until something stops the socket; returns what did. ``peer`` says who
        it is in an error ("desktop of handler 'ana'").

        Bind the log context before calling: the TaskGroup's tasks copy it when they are created.
        """
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._receive(inbox), name="receive")
                tasks.create_task(self._send(peer, feed), name="send")
                tasks.create_task(feed.ended(), name="feed")
        except ExceptionGroup as group:
            return _first_cause(group)
        return AssertionError("a session's tasks ended without raising")

    async def close(self, reason: BaseException) -> CloseCode:
        """Close with the code the table gives ``reason`` (no frame to a peer already gone); returns it."""
        code = close_code_for(reason)
        if code is CloseCode.INTERNAL_ERROR:
            log.error(f"{self._kind} session failed", exc_info=reason)
        log.info(f"{self._kind} session ended", close_code=int(code), reason=str(reason))
        if not isinstance(reason, DesktopDisconnected):
            try:
                async with asyncio.timeout(self._config.close_timeout_seconds):
                    await self._transport.close(int(code), _reason_text(reason))
            except (TimeoutError, DesktopDisconnected):
                pass  # a peer that cannot take a close frame is gone anyway
        return code

    async def _receive(self, inbox: Inbox) -> None:
        while True:
            try:
                text = await self._transport.receive_text()
            except BadMessage as exc:
                inbox.refused(exc)
                continue
            await inbox.received(text)

    async def _send(self, peer: str, feed: Feed) -> None:
        while True:
            text = await feed.next()
            try:
                async with asyncio.timeout(self._config.send_timeout_seconds):
                    await self._transport.send_text(text)
            except TimeoutError:
                raise TooSlow(peer, f"a send took over {self._config.send_timeout_seconds:g} s") from None


def _first_cause(group: ExceptionGroup[Exception]) -> Exception:
    """The exception that stopped the group; an error of ours ranks above the peer's leaving."""
    leaves: list[Exception] = []

    def walk(exc: Exception) -> None:
        if isinstance(exc, ExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    return min(leaves, key=lambda exc: isinstance(exc, DesktopDisconnected))


def _reason_text(reason: BaseException) -> str:
    # A close reason is at most 123 bytes of UTF-8.
    return str(reason).encode()[:120].decode(errors="ignore")
