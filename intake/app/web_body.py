"""A cap on request bodies, before anything parses them.

FastAPI reads a whole body before the route or its dependencies run, so the cap is a small ASGI
middleware: a body over the limit (by its Content-Length, or as it streams in) is refused with
the error table's 413 and never reaches the JSON parser. (FastAPI's own ``max_body_size``
answers a declared Content-Length in plain text, outside the table: one shape for every refusal
is the point.)
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intake.app.web_errors import error_response
from intake.core.errors import RequestTooLarge


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int, larger: Mapping[str, int] | None = None) -> None:
        """``larger``: path -> its own cap, for the few routes that take more than a form (a bulk feed)."""
        self.app = app
        self.limit = limit
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.limit)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await error_response(RequestTooLarge(int(declared), limit))(scope, receive, send)
            return
        # Read it here, to the cap (a chunked body says no length), then hand it on in one piece.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _then(message, receive), send)
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await error_response(RequestTooLarge(len(body), limit))(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _then({"type": "http.request", "body": bytes(body), "more_body": False}, receive), send)


def _then(first: Message, rest: Receive) -> Receive:
    """``first``, then whatever the client sends next (a disconnect, which Starlette listens for)."""
    given = False

    async def receive() -> Message:
        nonlocal given
        if not given:
            given = True
            return first
        return await rest()

    return receive
