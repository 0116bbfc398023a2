"""A desktop's or wallboard's socket as a client opens it: no token in the URL, the token as the
first message (:mod:`screenpop.signin`)."""

from __future__ import annotations

from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from screenpop.signin import auth_message


async def signed_in(url: str, token: str, **options: Any) -> ClientConnection:  # Any: websockets' connect options
    """The socket at ``url``, its first message the sign-in with ``token``; use it as
    ``async with await signed_in(...) as ws`` or close it."""
    ws = await connect(url, **options)
    await ws.send(auth_message(token))
    return ws
