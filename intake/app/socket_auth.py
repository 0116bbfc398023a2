"""Who may open a stream: the app's :class:`screenpop.signin.Authenticator` for each socket.

screenpop asks "who offers these credentials?" and knows nothing of how intake signs people in;
this answers it by :meth:`intake.app.auth.Principals.who` (a bearer token from the socket's first
message: today a static token of the test bed; the OpenID sign-in adds the session cookie and
JWTs behind the same seam), and refuses anyone not of the stream's role. A refused token counts
against the client's address (:mod:`intake.app.limits`), as on REST.
"""

from __future__ import annotations

from intake.app.auth import Principal, Principals
from intake.app.limits import Limits
from screenpop.errors import BadToken
from screenpop.signin import Authenticator, Credentials


def socket_check(principals: Principals, role: type[Principal], limits: Limits) -> Authenticator:
    """Signs in someone of ``role`` (a desktop: a handler; a wallboard: a supervisor), by id."""

    async def authenticate(offered: Credentials) -> str:
        refused = BadToken(f"a {role.role.value} token is required")
        if offered.bearer is None:
            raise refused  # (a session cookie: the OpenID sign-in's)
        limits.may_try(offered.client)
        who = principals.who(offered.bearer)
        if not isinstance(who, role):
            limits.refused(offered.client)
            raise refused
        return who.id

    return authenticate
