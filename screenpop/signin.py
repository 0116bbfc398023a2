"""How a socket learns who is on the other end, before anything is sent to it.

Never from the URL: a token in a query string ends up in proxy logs, browser history and the
``Referer`` of every request the page makes. A socket signs in by the session cookie its
handshake carried, else by its first message, ``{"type": "auth", "token": "..."}``, within
:attr:`screenpop.socket.SessionConfig.auth_timeout_seconds`; else it is closed with 4401.

What a cookie or a token means is not screenpop's business: the app supplies an
:class:`Authenticator` (intake's checks the session store and the bearer tokens), so this module
knows nothing of OpenID Connect or of token books.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from screenpop.errors import BadMessage, BadToken, TokenInUrl
from screenpop.socket import SocketTransport

MAX_AUTH_MESSAGE_CHARS = 8192
"""A JWT with a generous set of claims fits; anything longer is not a sign-in."""
URL_TOKEN_NAMES = frozenset({"token", "access_token", "id_token"})
"""Query parameters that would carry a credential: refused outright, never looked at."""
_FIRST_MESSAGE = 'the first message must be {"type": "auth", "token": "..."}'


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a socket offers: its handshake's cookies, or the bearer token of its first message;
    ``client`` is the peer's address (for the app's limit on refused tokens)."""

    cookies: Mapping[str, str] = field(default_factory=dict)
    bearer: str | None = None
    client: str = ""

    def __repr__(self) -> str:  # never the token or a cookie: a repr ends up in logs
        return f"Credentials(cookies={sorted(self.cookies)}, bearer={'…' if self.bearer else None}, client={self.client!r})"


class Authenticator(Protocol):
    async def __call__(self, offered: Credentials) -> str:
        """The id of who offered these (a desktop's: the handler's id); raises BadToken (or
        another DesktopError, e.g. TooManyRefusals) when they say no one it accepts."""
        ...


class AuthMessage(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")
    type: Literal["auth"]
    token: str = Field(max_length=MAX_AUTH_MESSAGE_CHARS)  # empty: a refused token, as any wrong one

    def __repr__(self) -> str:
        return "AuthMessage(token=…)"


def refuse_token_in_url(query: Mapping[str, str]) -> None:
    """Raise TokenInUrl when the handshake's query carries a credential (``?token=``)."""
    named = URL_TOKEN_NAMES.intersection(query)
    if named:
        raise TokenInUrl(min(named))


async def sign_in(transport: SocketTransport, authenticate: Authenticator, handshake: Credentials,
                  query: Mapping[str, str], timeout: float) -> str:
    """Who is on the other end: by the handshake's cookies if they sign someone in, else by the
    first message within ``timeout`` seconds. Raises BadToken (-> 4401) otherwise, and at once
    for a token in the URL's ``query``."""
    refuse_token_in_url(query)
    if handshake.cookies:
        try:
            return await authenticate(handshake)
        except BadToken:
            pass  # an expired session: a token in the first message may still sign in
    try:
        async with asyncio.timeout(timeout):
            text = await transport.receive_text()
    except TimeoutError:
        raise BadToken(f"no session cookie and no auth message within {timeout:g} s") from None
    except BadMessage:  # a binary frame
        raise BadToken(_FIRST_MESSAGE) from None
    if len(text) > MAX_AUTH_MESSAGE_CHARS + 64:
        raise BadToken(_FIRST_MESSAGE)
    try:
        message = AuthMessage.model_validate_json(text)
    except ValidationError:
        raise BadToken(_FIRST_MESSAGE) from None
    return await authenticate(Credentials(cookies=handshake.cookies, bearer=message.token, client=handshake.client))


def auth_message(token: str) -> str:
    """The first message a client without a session cookie sends: what the pages send, and tools."""
    return json.dumps({"type": "auth", "token": token})
