"""Who is asking: a bearer token (REST) or ``?token=`` (WebSocket) resolved to a handler or supervisor.

Handlers' and supervisors' tokens are held in two :class:`screenpop.auth.TokenBook`s (SHA-256
digests, looked up by digest); the handlers' book is the one desktop sockets authenticate with.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from intake.core.config import IntakeConfig
from screenpop.auth import TokenBook
from screenpop.errors import BadToken


class Role(Enum):
    HANDLER = "handler"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    id: str


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
        if not token or len(token) > 512:
            return None
        for role, book in ((Role.HANDLER, self.handlers), (Role.SUPERVISOR, self.supervisors)):
            try:
                return Principal(role, book.handler_for(token))
            except BadToken:
                continue
        return None
