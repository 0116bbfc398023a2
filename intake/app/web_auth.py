"""The one auth dependency of the web edge: the bearer token -> a typed principal, by role.

Routes take ``who: Anyone``, ``who: Supervisor`` or ``who: Handler`` and get a principal of that
type, or the request is refused (401 / 403, from the table in :mod:`intake.app.web_errors`)
before the route runs. The scheme is a FastAPI security scheme, so ``/openapi.json`` declares it
on every route that depends on it. Who a token names is :meth:`intake.app.auth.Principals.who`'s
business: the seam sign-in will replace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from intake.app.auth import HandlerPrincipal, Principal, Principals, SupervisorPrincipal
from intake.app.limits import Limits, client_of
from intake.core.errors import NotSignedIn, WrongRole

if TYPE_CHECKING:
    from intake.app.positions import Positions

# Every dependency is ``async def``: FastAPI runs a plain ``def`` one in a worker thread, which
# cost more than the whole request (measured: /api/me 0.7 ms of CPU -> 0.4 ms).
bearer = HTTPBearer(
    scheme_name="bearer", auto_error=False,
    description="A handler's or a supervisor's token from the configuration's secrets (`Authorization: Bearer ...`).")


async def signed_in(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> Principal:
    principals: Principals = request.app.state.principals
    if credentials is None:
        raise NotSignedIn()
    limits: Limits = request.app.state.limits
    limits.may_try(client_of(request))  # too many refused lately: 429, the token not looked at
    who = principals.who(credentials.credentials)
    if who is None:
        limits.refused(client_of(request))
        raise NotSignedIn()
    return who


async def supervisor(who: Annotated[Principal, Depends(signed_in)]) -> SupervisorPrincipal:
    if not isinstance(who, SupervisorPrincipal):
        raise WrongRole("supervisor", "supervisors only")
    return who


async def handler(request: Request, who: Annotated[Principal, Depends(signed_in)]) -> HandlerPrincipal:
    if not isinstance(who, HandlerPrincipal):
        raise WrongRole("handler", "handlers only: sign in with a handler's own desktop token")
    positions: Positions | None = getattr(request.app.state, "positions", None)
    position = await positions.position_of(who.id) if positions is not None else None
    return who if position is None else who.model_copy(update={"position": position})


Anyone = Annotated[Principal, Depends(signed_in)]
Supervisor = Annotated[SupervisorPrincipal, Depends(supervisor)]
Handler = Annotated[HandlerPrincipal, Depends(handler)]
