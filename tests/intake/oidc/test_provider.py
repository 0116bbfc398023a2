"""The test bed's OpenID provider is a real one: discovery, keys, and a person's tokens."""

from __future__ import annotations

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.oidc import AUDIENCE, OidcProvider


def test_the_provider_publishes_its_discovery_document(provider: OidcProvider) -> None:
    discovery = provider.discovery()
    assert discovery["issuer"] == provider.issuer
    assert "S256" in discovery["code_challenge_methods_supported"]  # type: ignore[operator]
    keys = httpx.get(str(discovery["jwks_uri"]), timeout=10).json()["keys"]
    assert [k["kid"] for k in keys] == [provider.keys[0]["kid"]]


def test_a_person_signed_in_at_the_provider_gets_a_signed_access_token_with_their_roles(provider: OidcProvider) -> None:
    tokens = provider.tokens_for("h1")
    keys = KeySet.import_key_set(httpx.get(f"{provider.issuer}/jwks", timeout=10).json())
    claims = jwt.decode(tokens["access_token"], keys).claims
    assert (claims["iss"], claims["aud"], claims["sub"]) == (provider.issuer, AUDIENCE, "h1")
    assert claims["roles"] == ["handler"] and claims["preferred_username"] == "h1"
