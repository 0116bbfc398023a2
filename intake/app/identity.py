"""Who an identity provider's claims name in intake: a pure rule, tested by table.

The claim ``[oidc] username_claim`` is a configured ``[[handlers]]``/``[[supervisors]]`` id and
``[oidc] roles_claim`` lists roles. A handler or supervisor must also be configured (a handler's
queues and site come from ``[[handlers]]``): someone the provider vouches for in a role intake has
no entry of is refused with a clear message, never let in half-known. Auditors and admins have no
configured list: the provider's word is the configuration. Someone with several roles signs in
as the first of :data:`PRECEDENCE` that they may take.
"""

from __future__ import annotations

from collections.abc import Mapping

from intake.app.auth import ROLE_PRINCIPALS, Principal, Role
from intake.core.errors import NotSignedIn, UnknownPerson

PRECEDENCE = (Role.HANDLER, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN)


def principal_of(claims: Mapping[str, object], *, username_claim: str, roles_claim: str,
                 configured: Mapping[Role, frozenset[str]]) -> Principal:
    """``configured``: the ids configured per role; a role absent from it needs no entry."""
    username, subject = claims.get(username_claim), claims.get("sub")
    if not isinstance(username, str) or not username:
        raise NotSignedIn(f"the token carries no {username_claim} claim")
    if not isinstance(subject, str):
        raise NotSignedIn("the token carries no sub claim")
    raw = claims.get(roles_claim, [])
    given = {raw} if isinstance(raw, str) else {r for r in raw if isinstance(r, str)} if isinstance(raw, list) else set()
    roles = [role for role in PRECEDENCE if role.value in given]
    if not roles:
        raise UnknownPerson(username, None)
    for role in roles:
        ids = configured.get(role)
        if ids is None or username in ids:
            return ROLE_PRINCIPALS[role](id=username, subject=subject)
    raise UnknownPerson(username, roles[0].value)
