"""Who is asking: a bearer token (REST) or ``?token=`` (WebSocket) resolved to a typed principal.

A principal is what every route and socket knows of the person asking: a frozen model per role,
so a route that needs a handler takes a :class:`HandlerPrincipal` and cannot be handed a
supervisor. :meth:`Principals.who` is the one seam sign-in goes through: the force's OpenID
provider (a later issue) replaces the token books behind it and adds to the principals (a
handler's position), and nothing in the routes changes.

Handlers' and supervisors' tokens are held in two :class:`screenpop.auth.TokenBook`s (SHA-256
digests, looked up by digest); the handlers' book is the one desktop sockets authenticate with.
"""

from __future__ import annotations

from enum import Enum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from intake.core.config import IntakeConfig
from screenpop.auth import TokenBook
from screenpop.errors import BadToken

MAX_TOKEN_CHARS = 512


class Role(Enum):
    HANDLER = "handler"
    SUPERVISOR = "supervisor"


class Principal(BaseModel):
    """Someone signed in. ``id`` is the handler's or supervisor's id in the configuration."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")
    role: ClassVar[Role]
    id: str


class HandlerPrincipal(Principal):
    role: ClassVar[Role] = Role.HANDLER


class SupervisorPrincipal(Principal):
    role: ClassVar[Role] = Role.SUPERVISOR


class Principals:
    def __init__(self, handlers: dict[str, str], supervisors: dict[str, str]) -> None:
        """Each maps token -> id."""
        self.handlers = TokenBook(handlers)
        self.supervisors = TokenBook(supervisors)

    @classmethod
    def from_config(cls, config: IntakeConfig, secrets: dict[str, str]) -> Principals:
        return cls(
            {secrets[f"handlers[{i}].token"]: h.id for i, h in enumerate(config.handlers)},
            {secrets[f"supervisors[{i}].token"]: s.id for i, s in enumerate(config.supervisors)},
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
