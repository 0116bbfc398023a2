"""The pages' sign-in sessions, kept in Redis so that any node behind the balancer accepts them.

A session is made when someone comes back from the provider's login page (intake.app.oidc_flow)
and named by a random id the browser holds in an HttpOnly cookie. Redis keeps it under
``{prefix}session:{sha256(id)}`` (whoever reads Redis cannot sign in with what they read) until it
expires. Sign-out deletes it and publishes on ``{prefix}signed-out``: every node ends that
person's sockets (:meth:`Sessions.signed_out`). A session that runs out does the same: each node
keeps the sessions its requests and sockets used, and :meth:`Sessions.sweep` (every few seconds)
publishes those past their expiry.

The session also keeps the provider's id token, for the sign-out at the provider
(``id_token_hint``, :mod:`intake.app.oidc_flow`): sealed (AES-GCM) under a key derived from the
session's id, which Redis never holds, so what Redis holds cannot be used as a token either.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Literal

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, ValidationError

from intake.app.auth import ROLE_PRINCIPALS, Principal, Role

log = structlog.get_logger("intake.sessions")


class Session(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    subject: str
    role: Role
    id: str  # the handler's or supervisor's configured id
    expires_at: float
    id_token: str = ""  # the provider's id token, sealed by the session's id ("": none, or a session from before)

    def principal(self) -> Principal:
        return ROLE_PRINCIPALS[self.role](id=self.id, subject=self.subject)

    def id_token_of(self, session_id: str) -> str | None:
        """The provider's id token (None: none kept, or ``session_id`` is not this session's)."""
        if not self.id_token:
            return None
        try:
            sealed = base64.urlsafe_b64decode(self.id_token)
            return AESGCM(_sealing_key(session_id)).decrypt(sealed[:12], sealed[12:], None).decode()
        except (ValueError, InvalidTag):
            return None


def _sealing_key(session_id: str) -> bytes:
    return hashlib.sha256(b"intake id token\0" + session_id.encode()).digest()


def seal(session_id: str, id_token: str) -> str:
    """``id_token`` as a session keeps it: only the holder of ``session_id`` (the cookie) reads it."""
    nonce = secrets.token_bytes(12)
    return base64.urlsafe_b64encode(nonce + AESGCM(_sealing_key(session_id)).encrypt(nonce, id_token.encode(), None)).decode()


class SignedOut(BaseModel):
    """Published when a session ends: whose sockets every node closes."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    role: Role
    id: str
    subject: str
    session: str  # the session's digest (its Redis key's last part): every node forgets it
    why: Literal["signed-out", "expired"]


class Sessions:
    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, redis: Any, prefix: str, lifetime_seconds: float, *, now: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._prefix = prefix
        self._lifetime = lifetime_seconds
        self.clock = now  # the expiry's clock (a test moves it on)
        self.channel = f"{prefix}signed-out"
        self._in_use: dict[str, Session] = {}  # digest -> session, those used on this node

    @staticmethod
    def _digest(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}session:{self._digest(session_id)}"

    async def open(self, principal: Principal, id_token: str = "") -> tuple[str, Session]:
        """A new session for ``principal`` (``id_token``: the provider's, kept sealed for the
        sign-out there): its id (for the cookie) and what Redis keeps."""
        session_id = secrets.token_urlsafe(32)
        session = Session(subject=principal.subject, role=principal.role, id=principal.id,
                          expires_at=self.clock() + self._lifetime, id_token=seal(session_id, id_token) if id_token else "")
        await self._redis.set(self._key(session_id), session.model_dump_json(), px=int(self._lifetime * 1000))
        log.info("session_opened", who=principal.id, role=principal.role.value, subject=principal.subject)
        return session_id, session

    async def find(self, session_id: str) -> Session | None:
        """The live session ``session_id`` names, or None (unknown, expired, unreadable)."""
        raw = await self._redis.get(self._key(session_id))
        if raw is None:
            return None
        try:
            session = Session.model_validate_json(raw)
        except ValidationError:
            log.error("session_unreadable")
            return None
        if session.expires_at <= self.clock():
            return None
        self._in_use[self._digest(session_id)] = session
        return session

    async def close(self, session_id: str) -> Session | None:
        """Sign out: the session is gone on every node, and every node is told to end its sockets."""
        raw = await self._redis.getdel(self._key(session_id))
        if raw is None:
            return None
        session = Session.model_validate_json(raw)
        await self._ended(self._digest(session_id), session, "signed-out")
        return session

    async def sweep(self) -> int:
        """Publish the end of every session used on this node that is past its expiry; how many."""
        now = self.clock()
        due = [(digest, session) for digest, session in self._in_use.items() if session.expires_at <= now]
        for digest, session in due:
            await self._ended(digest, session, "expired")
        return len(due)

    def forget(self, digest: str) -> None:
        self._in_use.pop(digest, None)

    async def _ended(self, digest: str, session: Session, why: Literal["signed-out", "expired"]) -> None:
        self.forget(digest)
        await self._redis.publish(self.channel, SignedOut(role=session.role, id=session.id, subject=session.subject,
                                                          session=digest, why=why).model_dump_json())
        log.info("session_ended", who=session.id, role=session.role.value, subject=session.subject, why=why)

    async def signed_out(self) -> AsyncIterator[SignedOut]:
        """Every sign-out on any node, as it is published (for as long as the caller iterates)."""
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self.channel)
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                try:
                    yield SignedOut.model_validate_json(message["data"])
                except ValidationError:
                    log.error("signed_out_unreadable")
        finally:
            await pubsub.unsubscribe(self.channel)
            await pubsub.aclose()


async def close_sockets_of_the_signed_out(sessions: Sessions, sign_off: Mapping[Role, Callable[[str], int]]) -> None:
    """Every node runs this: someone signed out (or whose sign-in ran out) anywhere loses their
    sockets here (4401: the page signs in again). ``sign_off``: per role, what ends a person's
    sockets on this node (the desktops' hub, the wallboards' stream) and says how many."""
    async for gone in sessions.signed_out():
        sessions.forget(gone.session)
        if (end := sign_off.get(gone.role)) is not None:
            log.info("signed_out_sockets_closed", who=gone.id, sockets=end(gone.id), why=gone.why)


SWEEP_SECONDS = 5.0
"""How late after its expiry a session's sockets may close at most."""


async def end_expired_sessions(sessions: Sessions, every: float = SWEEP_SECONDS) -> None:
    while True:
        await asyncio.sleep(every)
        await sessions.sweep()
