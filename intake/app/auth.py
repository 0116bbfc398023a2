"""Who is asking: a bearer token (REST, or a socket's first message) resolved to a typed principal.

A principal is what every route and socket knows of the person asking: a frozen model per role,
so a route that needs a handler takes a :class:`HandlerPrincipal` and cannot be handed a
supervisor. :meth:`Principals.who` resolves the static tokens (the demo and the test bed);
:class:`intake.app.authenticator.Authenticator` puts it beside the force's OpenID provider (bearer
JWTs, the pages' sessions), and nothing in the routes changes.

Handlers' and supervisors' tokens are held in two :class:`screenpop.auth.TokenBook`s (SHA-256
digests, looked up by digest); the handlers' book is the one desktop sockets authenticate with.
"""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from intake.core.config import IntakeConfig
from screenpop.auth import TokenBook
from screenpop.errors import BadToken

MAX_TOKEN_CHARS = 512


class Role(Enum):
    HANDLER = "handler"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Principal(BaseModel):
    """Someone signed in: what every route, socket and audit entry knows of the person asking.

    ``id`` is the handler's or supervisor's id in the configuration. ``subject`` is who the
    identity provider says they are (its ``sub``), or ``token:<id>`` for a static token (the demo
    and the test bed); the audit trail records it. ``position`` is the desk a handler signed in at,
    None until they take one (and always for other roles).
    """

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")
    role: ClassVar[Role]
    id: str
    subject: str = ""
    position: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _static_subject(cls, data: object) -> object:
        # A static token's holder has no IdP subject: name it so the audit trail can tell.
        if isinstance(data, dict) and not data.get("subject") and isinstance(data.get("id"), str):
            return {**data, "subject": f"token:{data['id']}"}
        return data


class HandlerPrincipal(Principal):
    role: ClassVar[Role] = Role.HANDLER


class SupervisorPrincipal(Principal):
    role: ClassVar[Role] = Role.SUPERVISOR


class AuditorPrincipal(Principal):
    role: ClassVar[Role] = Role.AUDITOR


class AdminPrincipal(Principal):
    role: ClassVar[Role] = Role.ADMIN


ROLE_PRINCIPALS: dict[Role, type[Principal]] = {
    Role.HANDLER: HandlerPrincipal, Role.SUPERVISOR: SupervisorPrincipal,
    Role.AUDITOR: AuditorPrincipal, Role.ADMIN: AdminPrincipal}


class Principals:
    def __init__(self, handlers: dict[str, str], supervisors: dict[str, str], *,
                 handler_digests: dict[str, str] | None = None, supervisor_digests: dict[str, str] | None = None) -> None:
        """Each maps token -> id; the digests, a token's SHA-256 in hex -> id (``token_sha256``)."""
        self.handlers = TokenBook(handlers, handler_digests)
        self.supervisors = TokenBook(supervisors, supervisor_digests)

    @classmethod
    def from_config(cls, config: IntakeConfig, secrets: dict[str, str]) -> Principals:
        """The static tokens of the configuration (the demo's, a test bed's): each given by
        reference (resolved into ``secrets``) or as its digest."""
        return cls(
            {secrets[f"handlers[{i}].token"]: h.id for i, h in enumerate(config.handlers) if h.token is not None},
            {secrets[f"supervisors[{i}].token"]: s.id for i, s in enumerate(config.supervisors) if s.token is not None},
            handler_digests={h.token_sha256: h.id for h in config.handlers if h.token_sha256 is not None},
            supervisor_digests={s.token_sha256: s.id for s in config.supervisors if s.token_sha256 is not None},
        )

    def who(self, token: str | None) -> Principal | None:
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        kinds: tuple[tuple[type[Principal], TokenBook], ...] = (
            (HandlerPrincipal, self.handlers), (SupervisorPrincipal, self.supervisors))
        for kind, book in kinds:
            try:
                return kind(id=book.handler_for(token))
            except BadToken:
                continue
        return None
