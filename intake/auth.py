"""Who is asking: a bearer token (REST) or ``?token=`` (WebSocket) resolved to a handler or supervisor.

Tokens are held only as SHA-256 digests and looked up by digest, so the comparison never walks
a secret byte by byte and a memory dump of the book shows no token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum

from intake.config import IntakeConfig


class Role(Enum):
    HANDLER = "handler"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    id: str
    name: str


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenBook:
    def __init__(self, entries: dict[str, Principal]) -> None:
        self._by_digest = {_digest(token): who for token, who in entries.items()}

    @classmethod
    def from_config(cls, config: IntakeConfig, secrets: dict[str, str]) -> TokenBook:
        entries = {}
        for i, h in enumerate(config.handlers):
            entries[secrets[f"handlers[{i}].token"]] = Principal(Role.HANDLER, h.id, h.name)
        for i, s in enumerate(config.supervisors):
            entries[secrets[f"supervisors[{i}].token"]] = Principal(Role.SUPERVISOR, s.id, s.name)
        return cls(entries)

    def who(self, token: str | None) -> Principal | None:
        if not token or len(token) > 512:
            return None
        return self._by_digest.get(_digest(token))
