"""Which handler a desktop's token belongs to.

Tokens are kept only as SHA-256 digests and looked up by digest. A dict lookup's timing depends
on the digest, which an attacker cannot steer byte by byte the way they can steer a plain string
comparison, so this is as safe as comparing against every token with ``hmac.compare_digest``
and does not grow with the number of handlers. Tokens never appear in errors, reprs or logs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from screenpop.errors import BadToken
from screenpop.signin import Credentials


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def token_digest(token: str) -> str:
    """A token's SHA-256 in hex: what a configuration holds instead of the token (``token_sha256``)."""
    return _digest(token).hex()


class TokenBook:
    def __init__(self, tokens: Mapping[str, str], digests: Mapping[str, str] | None = None) -> None:
        """``tokens`` maps token -> handler_id; ``digests``, a token's SHA-256 in hex -> handler_id
        (a token the configuration holds only as its digest)."""
        self._handlers = {_digest(token): handler_id for token, handler_id in tokens.items() if token}
        self._handlers.update({bytes.fromhex(digest): handler_id for digest, handler_id in (digests or {}).items()})

    def handler_for(self, token: str | None) -> str:
        if not token:
            raise BadToken()
        handler_id = self._handlers.get(_digest(token))
        if handler_id is None:
            raise BadToken()
        return handler_id

    async def authenticate(self, offered: Credentials) -> str:
        """A :class:`screenpop.signin.Authenticator` that takes bearer tokens only."""
        return self.handler_for(offered.bearer)

    def __repr__(self) -> str:
        return f"TokenBook({len(self._handlers)} tokens)"
