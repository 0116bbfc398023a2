"""Who may open a stream: the app's :class:`screenpop.signin.Authenticator` for each socket.

screenpop asks "who offers these credentials?" and knows nothing of how intake signs people in;
this answers it by :meth:`intake.app.auth.Principals.who` (a bearer token from the socket's first
message: today a static token of the test bed; the OpenID sign-in adds the session cookie and
JWTs behind the same seam), and refuses anyone not of the stream's role.
"""

from __future__ import annotations

from intake.app.auth import Principal, Principals
from screenpop.errors import BadToken
from screenpop.signin import Authenticator, Credentials


def socket_check(principals: Principals, role: type[Principal]) -> Authenticator:
    """Signs in someone of ``role`` (a desktop: a handler; a wallboard: a supervisor), by id."""

    async def authenticate(offered: Credentials) -> str:
        who = principals.who(offered.bearer)
        if not isinstance(who, role):
            raise BadToken(f"a {role.role.value} token is required")
        return who.id

    return authenticate
