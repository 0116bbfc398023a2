"""The security headers on every HTTP answer: what a browser may load, frame and send along.

The pages are plain ES modules and stylesheets from ``/static`` with no inline script or style,
so the Content-Security-Policy allows nothing but this origin: an injected ``<script>`` (a
caller's name or a marker's detail that escaped its text node) would not run, and nothing leaves
for another host. No page may be framed (clickjacking: a desktop's buttons move the PBX). No
``Referer`` goes with any request: the pages' URLs carry nothing, but nothing is the right amount.

``/docs`` is Swagger UI served from this origin with no inline script (:mod:`intake.app.web_docs`):
it runs under the same policy.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",  # the REST calls and both WebSockets (CSP 3: 'self' covers ws/wss to this host)
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
)


def csp(images_from: str | None = None) -> str:
    """The policy; ``images_from``: the origin of the force's own map tile server ([desktop]
    map_tiles), the one other place a page may load anything from, and only images."""
    directives = CSP_DIRECTIVES if images_from is None else tuple(
        f"{d} {images_from}" if d.startswith("img-src ") else d for d in CSP_DIRECTIVES)
    return "; ".join(directives)


CSP = csp()
HSTS_SECONDS = 365 * 86400


def security_headers(tls: bool) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
               (b"x-frame-options", b"DENY"), (b"cross-origin-opener-policy", b"same-origin")]
    if tls:  # only over TLS: a browser ignores it on plain HTTP, and a test bed may have no certificate
        headers.append((b"strict-transport-security", f"max-age={HSTS_SECONDS}".encode()))
    return headers


class SecurityHeaders:
    def __init__(self, app: ASGIApp, tls: bool, images_from: str | None = None) -> None:
        self.app = app
        self._headers = [*security_headers(tls), (b"content-security-policy", csp(images_from).encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self._headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
