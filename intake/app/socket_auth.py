"""Who may open a stream: the app's :class:`screenpop.signin.Authenticator` for each socket.

screenpop asks "who offers these credentials?" and knows nothing of how intake signs people in;
this answers it with :class:`intake.app.authenticator.Authenticator`: the page's session cookie
when the socket's handshake carried one, else the bearer of its first message (a JWT from the
force's provider, or a static token of the test bed), and refuses anyone not of the stream's role.
A refused bearer counts against the client's address (:mod:`intake.app.limits`), as on REST.
"""

from __future__ import annotations

from collections.abc import Callable

from intake.app.auth import Principal
from intake.app.authenticator import SESSION_COOKIE, Authenticator
from intake.app.limits import Limits
from intake.core.errors import IntakeError
from screenpop.errors import BadToken
from screenpop.signin import Authenticator as SocketAuthenticator
from screenpop.signin import Credentials


def socket_check(authenticator: Authenticator, role: type[Principal], limits: Limits,
                 seen: Callable[[Principal], object] = lambda _who: None) -> SocketAuthenticator:
    """Signs in someone of ``role`` (a desktop: a handler; a wallboard: a supervisor), by id;
    ``seen`` is told who signed in (the audit trail: a pop or an outcome sent over the socket
    knows the handler's id only, its entry names them as the provider did)."""

    async def authenticate(offered: Credentials) -> str:
        refused = BadToken(f"a {role.role.value} token is required")
        if offered.bearer is None:  # the handshake: a page's session, or nobody yet
            cookie = offered.cookies.get(SESSION_COOKIE)
            who = await authenticator.session_or_none(cookie) if cookie else None
            if not isinstance(who, role):
                raise refused  # screenpop.signin then waits for the first message
            seen(who)
            return who.id
        limits.may_try(offered.client)
        try:
            found: Principal | None = await authenticator.bearer(offered.bearer)
        except IntakeError:
            found = None
        if not isinstance(found, role):
            limits.refused(offered.client)
            raise refused
        seen(found)
        return found.id

    return authenticate
