"""Who a credential names: a static token, a bearer JWT from the force's provider, a page's session.

Every route (intake.app.web_auth) and socket asks this one object. A static token (the demo, the
test bed) is looked up in :class:`~intake.app.auth.Principals`; anything else that looks like a
JWT is checked against the provider's keys (:mod:`intake.app.oidc_tokens`) and mapped to a
configured person (:mod:`intake.app.identity`); a session cookie is looked up in
:class:`~intake.app.sessions.Sessions`. Refusals are :class:`~intake.core.errors.NotSignedIn`
(401) or :class:`~intake.core.errors.UnknownPerson` (403).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from intake.app.auth import HandlerPrincipal, Principal, Principals, Role
from intake.app.identity import principal_of
from intake.app.oidc_tokens import ProviderKeys, TokenVerifier
from intake.app.sessions import Sessions
from intake.core.config import IntakeConfig
from intake.core.config_oidc import OidcConfig
from intake.core.errors import IntakeError, NotSignedIn
from screenpop.errors import BadToken

SESSION_COOKIE = "__Host-intake-session"
"""Host-only, Secure, path / (what the __Host- prefix makes the browser enforce): no other site or
subdomain can set or shadow it."""


class Authenticator:
    def __init__(self, principals: Principals, *, oidc: OidcConfig | None = None,
                 verifier: TokenVerifier | None = None, sessions: Sessions | None = None,
                 configured: Mapping[Role, frozenset[str]] | None = None) -> None:
        """``configured``: the ids configured per role (handlers, supervisors)."""
        self.principals = principals
        self.oidc = oidc
        self.verifier = verifier
        self.sessions = sessions
        self._configured = dict(configured or {})

    @classmethod
    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's)
    def from_config(cls, config: IntakeConfig, principals: Principals, redis: Any) -> Authenticator:
        """Static tokens only without ``[oidc]``; with it, the provider's JWTs and the pages' sessions."""
        oidc = config.oidc
        if oidc is None:
            return cls(principals)
        keys = ProviderKeys(oidc.issuer, httpx.AsyncClient(timeout=5.0), refetch_seconds=oidc.jwks_refetch_seconds)
        return cls(principals, oidc=oidc, verifier=TokenVerifier(keys, leeway_seconds=oidc.leeway_seconds),
                   sessions=Sessions(redis, config.redis.key_prefix, oidc.session_seconds),
                   configured=cls.configured_of(config))

    async def close(self) -> None:
        if self.verifier is not None:
            await self.verifier.keys.close()

    @staticmethod
    def configured_of(config: IntakeConfig) -> dict[Role, frozenset[str]]:
        return {Role.HANDLER: frozenset(h.id for h in config.handlers),
                Role.SUPERVISOR: frozenset(s.id for s in config.supervisors)}

    def claims_principal(self, claims: Mapping[str, object]) -> Principal:
        """The configured person a provider's (already checked) claims name."""
        assert self.oidc is not None
        return principal_of(claims, username_claim=self.oidc.username_claim, roles_claim=self.oidc.roles_claim,
                            configured=self._configured)

    async def bearer(self, token: str | None) -> Principal:
        """A bearer token's principal: a static token, else a JWT from the provider."""
        static = self.principals.who(token)
        if static is not None:
            return static
        if not token or self.verifier is None or self.oidc is None or token.count(".") != 2:
            raise NotSignedIn()
        claims = await self.verifier.claims(token, self.oidc.token_audience)
        return self.claims_principal(claims)

    async def session(self, session_id: str | None) -> Principal:
        """A page's session cookie's principal."""
        if not session_id or self.sessions is None:
            raise NotSignedIn()
        session = await self.sessions.find(session_id)
        if session is None:
            raise NotSignedIn("the sign-in has ended: sign in again")
        return session.principal()

    async def session_or_none(self, session_id: str) -> Principal | None:
        try:
            return await self.session(session_id)
        except IntakeError:
            return None

    async def handler_of(self, cookie: str | None, token: str | None) -> str:
        """For the desktop's socket: the handler a session cookie (first) or a bearer names, or
        :class:`screenpop.errors.BadToken` (screenpop knows nothing of sessions or JWTs)."""
        try:
            who = await self.session(cookie) if cookie else await self.bearer(token)
        except IntakeError as exc:
            raise BadToken(str(exc)) from None
        if not isinstance(who, HandlerPrincipal):
            raise BadToken("the desktop is for handlers only")
        return who.id
