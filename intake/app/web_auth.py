"""The one auth dependency of the web edge: a session cookie or a bearer -> a typed principal, by role.

Routes take ``who: Anyone``, ``Handler``, ``Supervisor``, ``Auditor`` or ``Admin`` and get a
principal of that type, or the request is refused (401 / 403, from the table in
:mod:`intake.app.web_errors`) before the route runs. A page signed in through the force's
provider carries the session cookie; a program sends ``Authorization: Bearer`` (a JWT from the
provider, or a static token of the demo and the test bed). The scheme is a FastAPI security
scheme, so ``/openapi.json`` declares it. Who a credential names is
:class:`intake.app.authenticator.Authenticator`'s business.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar
from urllib.parse import urlsplit

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from intake.app.auth import (
    AdminPrincipal,
    AuditorPrincipal,
    HandlerPrincipal,
    Principal,
    SupervisorPrincipal,
)
from intake.app.authenticator import SESSION_COOKIE, Authenticator
from intake.app.limits import Limits, client_of
from intake.core.errors import NotSignedIn, WrongRole

if TYPE_CHECKING:
    from intake.app.positions import Positions

# Every dependency is ``async def``: FastAPI runs a plain ``def`` one in a worker thread, which
# cost more than the whole request (measured: /api/me 0.7 ms of CPU -> 0.4 ms).
bearer = HTTPBearer(
    scheme_name="bearer", auto_error=False,
    description="A JWT from the force's OpenID provider, or (demo, test bed) a configured token "
                "(`Authorization: Bearer ...`). Pages signed in at /auth/login send their session cookie instead.")


async def signed_in(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    cookie = request.cookies.get(SESSION_COOKIE)
    if credentials is None and cookie:
        if request.method not in SAFE_METHODS and not from_own_page(request):
            raise NotSignedIn("the session is taken only from intake's own pages")
        return await authenticator.session(cookie)
    if credentials is None:
        raise NotSignedIn()
    limits: Limits = request.app.state.limits
    client = client_of(request)
    limits.may_try(client)  # too many refused lately: 429, the token not looked at
    try:
        return await authenticator.bearer(credentials.credentials)
    except NotSignedIn:
        limits.refused(client)
        raise


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def from_own_page(request: Request) -> bool:
    """A browser names where a request comes from on every POST: another site's page riding on
    the session cookie (cross-site request forgery; SameSite=Lax already keeps the cookie from
    other sites, this from sibling hosts and ports too) is refused. ``Sec-Fetch-Site`` where the
    browser sends it (a form's POST from a page served with ``Referrer-Policy: no-referrer`` says
    ``Origin: null``, so that alone cannot tell), else ``Origin``."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


P = TypeVar("P", bound=Principal)


def _only(kind: type[P], message: str) -> Callable[[Principal], Awaitable[P]]:
    async def check(who: Annotated[Principal, Depends(signed_in)]) -> P:
        if not isinstance(who, kind):
            raise WrongRole(kind.role.value, message)
        return who
    return check


supervisor = _only(SupervisorPrincipal, "supervisors only")
_any_handler = _only(HandlerPrincipal, "handlers only: sign in with a handler's own account")


async def handler(request: Request, who: Annotated[HandlerPrincipal, Depends(_any_handler)]) -> HandlerPrincipal:
    """A handler, with the position they sit at (from the positions store) when they hot-desk;
    the audit trail remembers them as signed in (their pops' entries name the provider's subject)."""
    positions: Positions | None = getattr(request.app.state, "positions", None)
    position = await positions.position_of(who.id) if positions is not None else None
    found = who if position is None else who.model_copy(update={"position": position})
    server = getattr(request.app.state, "server", None)
    if server is not None:
        server.audit.seen(found)
    return found
auditor = _only(AuditorPrincipal, "auditors only")
admin = _only(AdminPrincipal, "administrators only")

Anyone = Annotated[Principal, Depends(signed_in)]
Supervisor = Annotated[SupervisorPrincipal, Depends(supervisor)]
Handler = Annotated[HandlerPrincipal, Depends(handler)]
Auditor = Annotated[AuditorPrincipal, Depends(auditor)]
Admin = Annotated[AdminPrincipal, Depends(admin)]
