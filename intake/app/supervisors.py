"""The supervisors' live stream: the newest metrics picture, never a backlog of stale ones.

Each socket reads from a latest-wins slot (:mod:`screenpop.latest`): a new picture replaces an
unsent one, so a slow wallboard skips to the present instead of replaying the past, and can never
hold up another. The socket itself (tasks, send deadline, close codes) is the desktops'
:class:`screenpop.socket.Socket`; a wallboard only listens, so its inbox takes nothing but small
keep-alives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import structlog
from starlette.websockets import WebSocket

from screenpop.errors import BadMessage, BadToken, DesktopError, InputRefused
from screenpop.latest import LatestFanout, LatestSlot
from screenpop.signin import Authenticator, sign_in
from screenpop.socket import DEFAULT_SESSION, CloseCode, SessionConfig, Socket
from screenpop.web import StarletteSocket, handshake_of

log = structlog.get_logger("intake.supervisors")

MAX_INBOUND = 4096
"""A wallboard may send small text (a keep-alive), which is ignored; more is refused."""
NO_INPUT = "the supervisor stream takes no input"


class _Listener:
    """A wallboard's inbox: small text is ignored, anything else closes the socket."""

    async def received(self, text: str) -> None:
        if len(text) > MAX_INBOUND:
            raise InputRefused(NO_INPUT)

    def refused(self, exc: BadMessage) -> None:
        raise InputRefused(NO_INPUT) from exc


class SupervisorStream:
    # Any: the picture is the server's JSON-ready report (the same dicts the REST routes return).
    def __init__(self, authenticate: Authenticator, picture: Callable[[], dict[str, Any]],
                 config: SessionConfig = DEFAULT_SESSION) -> None:
        """``authenticate``: signs a supervisor in (their id), or raises BadToken."""
        self.authenticate = authenticate
        self.picture = picture
        self._config = config
        self._fanout: LatestFanout[str] = LatestFanout()
        self._seq = 0
        self._slots: dict[str, dict[int, LatestSlot[str]]] = {}  # supervisor id -> their sockets' slots
        self._signed_off: set[int] = set()
        # Told (the supervisors watching on this node, the picture) of each picture sent: the audit
        # trail's wallboard consultations (intake.app.wallboard_audit); it only queues, never waits.
        self.shown: Callable[[list[str], dict[str, Any]], None] = lambda _watching, _picture: None

    @property
    def listeners(self) -> int:
        return len(self._fanout)

    def publish(self) -> None:
        """Send the current picture to every supervisor (called on a short tick when dirty)."""
        if len(self._fanout):
            self._seq += 1
            picture = self.picture()
            try:
                self.shown([who for who, slots in self._slots.items() if slots], picture)
            except Exception:
                log.exception("wallboard_shown_not_told")
            self._fanout.publish(json.dumps({"type": "metrics", "seq": self._seq, **picture}))

    async def serve(self, websocket: WebSocket) -> CloseCode:
        """Accept the socket (so a refused sign-in gets close code 4401, not an HTTP 403), sign the
        supervisor in (:mod:`screenpop.signin`: the session cookie or the first message) and
        stream to them until they go or must go; returns the close code it got."""
        await websocket.accept()
        socket = Socket(StarletteSocket(websocket), self._config, "supervisor")
        try:
            supervisor_id = await sign_in(socket.transport, self.authenticate, handshake_of(websocket),
                                          websocket.query_params, self._config.auth_timeout_seconds)
        except DesktopError as exc:
            log.info("supervisor refused", reason=str(exc))
            return await socket.close(exc)
        with structlog.contextvars.bound_contextvars(supervisor_id=supervisor_id):
            slot_id, slot = self._fanout.attach()
            self._slots.setdefault(supervisor_id, {})[slot_id] = slot
            self.publish()  # the newcomer starts from the present
            log.info("supervisor connected")
            try:
                reason: BaseException = await socket.pump(f"wallboard of supervisor {supervisor_id!r}", slot,
                                                          _Listener())
            finally:
                self._fanout.detach(slot_id)
                self._slots.get(supervisor_id, {}).pop(slot_id, None)
            if slot_id in self._signed_off:
                self._signed_off.discard(slot_id)
                reason = BadToken(f"supervisor {supervisor_id!r} signed out")
            return await socket.close(reason)

    def sign_off(self, supervisor_id: str) -> int:
        """End every wallboard socket of ``supervisor_id`` on this node (4401: sign in again); how many."""
        slots = self._slots.pop(supervisor_id, {})
        for slot_id, slot in slots.items():
            self._signed_off.add(slot_id)
            slot.close()
        return len(slots)
