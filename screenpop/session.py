"""One desktop connection: authenticate, then receive and send until one of them stops.

The socket's tasks, send deadline and close codes are :mod:`screenpop.socket`'s (the supervisors'
wallboards run on the same), its sign-in :mod:`screenpop.signin`'s (the session cookie, else the
first message); what is the desktop's is here: the resume point, the hub's
outbox as the feed, and an inbox that files outcomes and answers a bad message with an ``error``.

The heartbeat is the hub's (:meth:`screenpop.delivery.DesktopHub.keep_alive`, one timer for every
socket); the session only notes when it last heard from its desktop.

A message the desktop gets wrong is answered with an ``error`` reply and the socket stays open:
a handler mid-call must not lose their desktop over one bad form. Only a desktop that keeps
sending unusable messages is closed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping

import structlog

from screenpop.delivery import DesktopHub, Outbox
from screenpop.errors import (
    BadMessage,
    BadResumePoint,
    DesktopError,
    OutcomeRejected,
    TooManyBadMessages,
)
from screenpop.inbound import Ack, Auth, OutcomeSubmission, Pong, parse_client_message
from screenpop.messages import ErrorReply, OutcomeSaved, Outgoing, Ping
from screenpop.models import Outcome
from screenpop.signin import Authenticator, Credentials, sign_in
from screenpop.socket import (
    CLOSE_CODES,
    DEFAULT_SESSION,
    CloseCode,
    SessionConfig,
    Socket,
    SocketTransport,
    close_code_for,
)

# The close-code table and the session's settings are the socket's; named here too, where a
# reader of the desktop's session looks for them.
__all__ = ["CLOSE_CODES", "CloseCode", "DesktopSession", "OnOutcome", "SessionConfig", "close_code_for", "parse_last_seq"]

log = structlog.get_logger(__name__)

OnOutcome = Callable[[str, Outcome], Awaitable[None]]
"""``on_outcome(handler_id, outcome)``: store it; raise an OutcomeRejected to refuse it."""

def parse_last_seq(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise BadResumePoint(raw)
    return int(raw)


class DesktopSession:
    def __init__(
        self,
        transport: SocketTransport,
        hub: DesktopHub,
        authenticate: Authenticator,
        on_outcome: OnOutcome,
        config: SessionConfig = DEFAULT_SESSION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._socket = Socket(transport, config, "desktop")
        self._hub = hub
        self._authenticate = authenticate
        self._on_outcome = on_outcome
        self._config = config
        self._clock = clock

    async def run(self, handshake: Credentials, query: Mapping[str, str]) -> CloseCode:
        """Serve the desktop until it goes or must go; returns the close code it got.
        ``handshake``: what the opening request carried (cookies, the peer's address); ``query``:
        its URL's (``last_seq``: where the desktop resumes)."""
        try:
            resume = parse_last_seq(query.get("last_seq"))
            handler_id = await sign_in(self._socket.transport, self._authenticate, handshake, query,
                                       self._config.auth_timeout_seconds)
        except DesktopError as exc:  # a bad resume point, a refused sign-in
            log.info("desktop refused", reason=str(exc))
            return await self._socket.close(exc)
        # Bound once here: the socket's tasks copy this context when they are created.
        with structlog.contextvars.bound_contextvars(handler_id=handler_id):
            outbox = await self._hub.open(handler_id, resume, shows_state=True)
            self._hub.start_heartbeat(self._config.heartbeat_seconds, self._config.silence_seconds, self._ping)
            log.info("desktop connected", last_seq=resume, sockets=self._hub.sockets(handler_id))
            try:
                reason = await self._socket.pump(f"desktop of handler {handler_id!r}", outbox,
                                                 _DesktopInbox(handler_id, outbox, self._on_outcome, self._config, self._clock))
            finally:
                self._hub.detach(outbox)
            return await self._socket.close(reason)

    def _ping(self) -> str:
        return Ping(at=self._clock()).encode()


class _DesktopInbox:
    """What a desktop says: outcomes to file; acks and pongs, which only show it is alive."""

    def __init__(self, handler_id: str, outbox: Outbox, on_outcome: OnOutcome, config: SessionConfig,
                 clock: Callable[[], float]) -> None:
        self._handler_id = handler_id
        self._outbox = outbox
        self._on_outcome = on_outcome
        self._config = config
        self._clock = clock
        self._bad = 0

    async def received(self, text: str) -> None:
        self._outbox.last_heard = time.monotonic()
        try:
            message = parse_client_message(text, self._config.max_message_bytes)
        except BadMessage as exc:
            self.refused(exc)
            return
        if isinstance(message, OutcomeSubmission):
            await self._file_outcome(message)
        elif isinstance(message, Ack | Pong | Auth):
            # Hearing from the desktop is all they are for (see Outbox.last_heard); an auth
            # message after the cookie signed the socket in changes nothing.
            pass

    def refused(self, exc: BadMessage) -> None:
        self._outbox.last_heard = time.monotonic()  # a binary frame is still a sign of life
        self._bad += 1
        log.info("desktop message refused", code=exc.code, detail=exc.detail)
        self._reply(ErrorReply(code=exc.code, message=exc.detail, problems=exc.problems, call_id=exc.call_id))
        if self._bad >= self._config.max_bad_messages:
            raise TooManyBadMessages(self._handler_id, self._bad) from exc

    async def _file_outcome(self, message: OutcomeSubmission) -> None:
        outcome = Outcome(call_id=message.call_id, handler_id=self._handler_id, at=self._clock(),
                          grading=message.grading, thrive=message.thrive, notes=message.notes)
        with structlog.contextvars.bound_contextvars(call_id=message.call_id):
            try:
                await self._on_outcome(self._handler_id, outcome)
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
        self._reply(reply)

    def _reply(self, message: Outgoing) -> None:
        # Through the outbox, so replies keep their order with the stream; if it is full the
        # outbox ends and the session closes as too slow.
        self._outbox.offer(message.encode())
