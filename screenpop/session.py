"""One desktop connection: authenticate, then receive and send until one of them stops.

The heartbeat is the hub's (:meth:`screenpop.delivery.DesktopHub.keep_alive`, one timer for every
socket); the session only notes when it last heard from its desktop.

The session knows nothing of HTTP: it runs over any :class:`DesktopTransport` (a Starlette
WebSocket in production, see :mod:`screenpop.web`; an in-memory pair in tests). Its tasks run in
one TaskGroup, so the first to fail stops the others; :data:`CLOSE_CODES` turns that failure into
the close code the desktop sees, in one place.

A message the desktop gets wrong is answered with an ``error`` reply and the socket stays open:
a handler mid-call must not lose their desktop over one bad form. Only a desktop that keeps
sending unusable messages is closed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

import structlog

from screenpop.auth import TokenBook
from screenpop.delivery import DesktopHub, Outbox
from screenpop.errors import (
    BadMessage,
    BadResumePoint,
    BadToken,
    DesktopDisconnected,
    DesktopTooSlow,
    OutcomeRejected,
    ServerShuttingDown,
    TooManyBadMessages,
)
from screenpop.inbound import (
    MAX_MESSAGE_BYTES,
    Ack,
    OutcomeSubmission,
    Pong,
    parse_client_message,
)
from screenpop.messages import ErrorReply, OutcomeSaved, Outgoing, Ping
from screenpop.models import Outcome

log = structlog.get_logger(__name__)

OnOutcome = Callable[[str, Outcome], Awaitable[None]]
"""``on_outcome(handler_id, outcome)``: store it; raise an OutcomeRejected to refuse it."""


class DesktopTransport(Protocol):
    async def receive_text(self) -> str:
        """The next text message; raises DesktopDisconnected when the peer is gone, NotText for binary."""

    async def send_text(self, text: str) -> None:
        """Raises DesktopDisconnected when the peer is gone."""

    async def close(self, code: int, reason: str) -> None: ...


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    INTERNAL_ERROR = 1011
    BAD_REQUEST = 4400
    BAD_TOKEN = 4401
    TOO_SLOW = 4408


CLOSE_CODES: tuple[tuple[type[BaseException], CloseCode], ...] = (
    (BadToken, CloseCode.BAD_TOKEN),
    (BadResumePoint, CloseCode.BAD_REQUEST),
    (TooManyBadMessages, CloseCode.BAD_REQUEST),
    (DesktopTooSlow, CloseCode.TOO_SLOW),
    (ServerShuttingDown, CloseCode.GOING_AWAY),
    (DesktopDisconnected, CloseCode.NORMAL),
)
"""Why a session ended -> the code the desktop gets. Anything not listed is our bug: 1011."""


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


def parse_last_seq(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise BadResumePoint(raw)
    return int(raw)


class DesktopSession:
    def __init__(
        self,
        transport: DesktopTransport,
        hub: DesktopHub,
        tokens: TokenBook,
        on_outcome: OnOutcome,
        config: SessionConfig = SessionConfig(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self._hub = hub
        self._tokens = tokens
        self._on_outcome = on_outcome
        self._config = config
        self._clock = clock

    async def run(self, token: str | None, last_seq: str | None) -> CloseCode:
        """Serve the desktop until it goes or must go; returns the close code it got."""
        try:
            handler_id = self._tokens.handler_for(token)
            resume = parse_last_seq(last_seq)
        except (BadToken, BadResumePoint) as exc:
            log.info("desktop refused", reason=str(exc))
            return await self._close(exc)
        # Bound once here: the TaskGroup's tasks copy this context when they are created.
        with structlog.contextvars.bound_contextvars(handler_id=handler_id):
            outbox = self._hub.attach(handler_id, resume)
            self._hub.start_heartbeat(self._config.heartbeat_seconds, self._config.silence_seconds, self._ping)
            log.info("desktop connected", last_seq=resume, sockets=self._hub.sockets(handler_id))
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._receive(handler_id, outbox), name="receive")
                    tasks.create_task(self._send(handler_id, outbox), name="send")
                    tasks.create_task(outbox.ended(), name="outbox")
                reason: Exception = AssertionError("a session's tasks ended without raising")
            except ExceptionGroup as group:
                reason = _first_cause(group)
            finally:
                self._hub.detach(outbox)
            if close_code_for(reason) is CloseCode.INTERNAL_ERROR:
                log.error("desktop session failed", exc_info=reason)
            return await self._close(reason)

    async def _receive(self, handler_id: str, outbox: Outbox) -> None:
        bad = 0
        while True:
            try:
                raw = await self._transport.receive_text()
                outbox.last_heard = time.monotonic()
                message = parse_client_message(raw, self._config.max_message_bytes)
            except BadMessage as exc:
                outbox.last_heard = time.monotonic()  # a binary frame is still a sign of life
                bad += 1
                log.info("desktop message refused", code=exc.code, detail=exc.detail)
                self._reply(outbox, ErrorReply(code=exc.code, message=exc.detail, problems=exc.problems, call_id=exc.call_id))
                if bad >= self._config.max_bad_messages:
                    raise TooManyBadMessages(handler_id, bad) from exc
                continue
            if isinstance(message, OutcomeSubmission):
                await self._file_outcome(handler_id, outbox, message)
            elif isinstance(message, Ack | Pong):
                pass  # hearing from the desktop is all they are for (see _last_heard)

    async def _file_outcome(self, handler_id: str, outbox: Outbox, message: OutcomeSubmission) -> None:
        outcome = Outcome(call_id=message.call_id, handler_id=handler_id, at=self._clock(),
                          grading=message.grading, thrive=message.thrive, notes=message.notes)
        with structlog.contextvars.bound_contextvars(call_id=message.call_id):
            try:
                await self._on_outcome(handler_id, outcome)
            except OutcomeRejected as exc:
                log.info("outcome rejected", code=exc.code)
                reply: Outgoing = ErrorReply(code=exc.code, message=str(exc), call_id=message.call_id)
            except Exception:
                # Storage failing is not the desktop's fault: it keeps the form and tries again.
                log.exception("outcome not saved")
                reply = ErrorReply(code="not-saved", message="the outcome could not be saved; try again",
                                   call_id=message.call_id)
            else:
                log.info("outcome saved", grading=outcome.grading)
                reply = OutcomeSaved(call_id=message.call_id)
        self._reply(outbox, reply)

    async def _send(self, handler_id: str, outbox: Outbox) -> None:
        while True:
            text = await outbox.next()
            try:
                async with asyncio.timeout(self._config.send_timeout_seconds):
                    await self._transport.send_text(text)
            except TimeoutError:
                raise DesktopTooSlow(handler_id, f"a send took over {self._config.send_timeout_seconds:g} s") from None

    def _ping(self) -> str:
        return Ping(at=self._clock()).encode()

    @staticmethod
    def _reply(outbox: Outbox, message: Outgoing) -> None:
        # Through the outbox, so replies keep their order with the stream; if it is full the
        # outbox ends and the session closes as too slow.
        outbox.offer(message.encode())

    async def _close(self, reason: BaseException) -> CloseCode:
        code = close_code_for(reason)
        log.info("desktop session ended", close_code=int(code), reason=str(reason))
        if not isinstance(reason, DesktopDisconnected):
            try:
                async with asyncio.timeout(self._config.close_timeout_seconds):
                    await self._transport.close(int(code), _reason_text(reason))
            except (TimeoutError, DesktopDisconnected):
                pass  # a peer that cannot take a close frame is gone anyway
        return code


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
