"""Who a provider's claims name in intake, by table: the username claim is a configured id, the
roles claim says in which role; someone with no configured entry of their role is refused by name."""

from __future__ import annotations

import pytest

from intake.app.auth import Role
from intake.app.identity import principal_of
from intake.core.errors import NotSignedIn, UnknownPerson

CONFIGURED = {Role.HANDLER: frozenset({"h1", "both"}), Role.SUPERVISOR: frozenset({"sup1", "both"})}

CASES = [
    # (claims, role, id) or (claims, error, words)
    ({"sub": "s-1", "upn": "h1", "groups": ["handler"]}, Role.HANDLER, "h1"),
    ({"sub": "s-2", "upn": "sup1", "groups": ["supervisor"]}, Role.SUPERVISOR, "sup1"),
    ({"sub": "s-3", "upn": "sup1", "groups": "supervisor"}, Role.SUPERVISOR, "sup1"),  # one role as a string
    ({"sub": "s-4", "upn": "both", "groups": ["supervisor", "handler"]}, Role.HANDLER, "both"),
    ({"sub": "s-5", "upn": "sup1", "groups": ["handler", "supervisor"]}, Role.SUPERVISOR, "sup1"),  # not a handler here
    ({"sub": "s-6", "upn": "anyone", "groups": ["auditor"]}, Role.AUDITOR, "anyone"),  # auditors: the provider's word
    ({"sub": "s-7", "upn": "root", "groups": ["admin", "other"]}, Role.ADMIN, "root"),
    ({"sub": "s-8", "upn": "h9", "groups": ["handler"]}, UnknownPerson, "no handler 'h9' configured"),
    ({"sub": "s-9", "upn": "h1", "groups": []}, UnknownPerson, "has no intake role"),
    ({"sub": "s-9", "upn": "h1", "groups": ["Handler"]}, UnknownPerson, "has no intake role"),  # exact names
    ({"sub": "s-9", "upn": "h1"}, UnknownPerson, "has no intake role"),
    ({"sub": "s-10", "groups": ["handler"]}, NotSignedIn, "no upn claim"),
    ({"upn": "h1", "groups": ["handler"]}, NotSignedIn, "no sub claim"),
]


@pytest.mark.parametrize(("claims", "outcome", "detail"), CASES)
def test_claims_name_a_configured_person_in_one_role(claims: dict[str, object], outcome: object, detail: str) -> None:
    def who() -> object:
        return principal_of(claims, username_claim="upn", roles_claim="groups", configured=CONFIGURED)
    if isinstance(outcome, Role):
        principal = who()
        assert (principal.role, principal.id, principal.subject) == (outcome, detail, claims["sub"])  # type: ignore[attr-defined]
    else:
        with pytest.raises(outcome, match=detail):  # type: ignore[call-overload]
            who()
