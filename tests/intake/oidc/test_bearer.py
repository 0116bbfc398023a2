"""Bearer JWTs from a real OpenID provider: a handler's and a supervisor's tokens open their own
routes; an expired token, another issuer's, another audience's, a forged one, a handler's on a
supervisor's route and someone intake has no entry for are all refused, each saying why."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import websockets
from joserfc import jwt
from joserfc.jwk import RSAKey

from intake.app.oidc_tokens import ProviderKeys, TokenVerifier
from intake.core.errors import NotSignedIn
from tests.intake.oidc.conftest import Signed
from tests.support.oidc import (
    AUDIENCE,
    OTHER_AUDIENCE,
    OidcProvider,
    new_key,
    oidc_provider,
)


async def refused(signed: Signed, path: str, token: str, status: int, error: str, detail: str) -> None:
    r = await signed.http.get(path, headers=signed.bearer(token))
    assert (r.status_code, r.json()["error"]) == (status, error), r.text
    assert detail in r.json()["detail"]


async def test_a_handlers_token_from_the_provider_opens_the_handlers_routes(signed: Signed) -> None:
    token = signed.provider.tokens_for("h1")["access_token"]
    r = await signed.http.get("/api/me", headers=signed.bearer(token))
    assert r.status_code == 200, r.text
    assert r.json()["handler_id"] == "h1"


async def test_a_supervisors_token_opens_the_supervisors_routes_and_a_handlers_does_not(signed: Signed) -> None:
    supervisor = signed.provider.tokens_for("sup1")["access_token"]
    assert (await signed.http.get("/api/queues", headers=signed.bearer(supervisor))).status_code == 200
    handler = signed.provider.tokens_for("h2")["access_token"]
    await refused(signed, "/api/queues", handler, 403, "wrong-role", "supervisors only")
    await refused(signed, "/api/me", supervisor, 403, "wrong-role", "handlers only")


async def test_the_static_tokens_still_work_beside_the_provider(signed: Signed) -> None:
    assert (await signed.http.get("/api/me", headers=signed.bearer(signed.tokens["h1"]))).status_code == 200


async def test_the_providers_own_token_in_a_url_is_refused_by_the_routes_and_the_desktops_socket(signed: Signed) -> None:
    """A URL ends up in proxy logs and browser history: a good JWT there opens nothing."""
    token = signed.provider.tokens_for("h1")["access_token"]
    for name in ("token", "access_token"):
        r = await signed.http.get("/api/me", params={name: token})
        assert (r.status_code, r.json()["error"]) == (401, "not-signed-in"), r.text
    ws_url = str(signed.http.base_url).replace("http", "ws", 1) + f"/ws/desktop?access_token={token}"
    async with websockets.connect(ws_url) as desktop:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await desktop.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert "a token in the URL (access_token=) is refused" in closed.value.rcvd.reason


async def test_a_token_for_another_audience_is_refused(signed: Signed) -> None:
    token = signed.provider.tokens_for("h1", resource=OTHER_AUDIENCE)["access_token"]
    await refused(signed, "/api/me", token, 401, "not-signed-in", "for another audience")


async def test_a_token_from_another_issuer_is_refused_even_signed_with_the_same_key(signed: Signed) -> None:
    with oidc_provider(signed.provider.redirect_uris, keys=signed.provider.keys) as other:
        token = other.tokens_for("h1")["access_token"]
    await refused(signed, "/api/me", token, 401, "not-signed-in", "issued by another identity provider")


async def test_a_forged_token_naming_the_providers_key_is_refused(signed: Signed) -> None:
    claims = {"iss": signed.provider.issuer, "aud": AUDIENCE, "sub": "sup1", "preferred_username": "sup1",
              "roles": ["supervisor"], "iat": int(time.time()), "exp": int(time.time()) + 300}
    forged = jwt.encode({"alg": "RS256", "kid": str(signed.provider.keys[0]["kid"])}, claims,
                        RSAKey.import_key(new_key()))
    await refused(signed, "/api/queues", forged, 401, "not-signed-in", "signature does not hold")


async def test_someone_the_configuration_does_not_know_is_refused_by_name(signed: Signed) -> None:
    await refused(signed, "/api/me", signed.provider.tokens_for("stranger")["access_token"], 403, "not-configured",
                  "intake has no handler 'stranger' configured")
    await refused(signed, "/api/me", signed.provider.tokens_for("nobody")["access_token"], 403, "not-configured",
                  "'nobody' has no intake role")


async def test_a_token_for_the_client_itself_names_no_person_and_is_refused(signed: Signed) -> None:
    await refused(signed, "/api/me", signed.provider.client_credentials(), 401, "not-signed-in",
                  "no preferred_username claim")


async def test_an_expired_token_is_refused(provider: OidcProvider) -> None:
    """The provider's own token, judged after its expiry (and the leeway) on the verifier's clock."""
    token = provider.tokens_for("h1")["access_token"]
    expires = int(jwt.decode(token, RSAKey.import_key(provider.keys[0])).claims["exp"])
    async with httpx.AsyncClient() as http:
        keys = ProviderKeys(provider.issuer, http, refetch_seconds=30)
        assert (await TokenVerifier(keys, leeway_seconds=30, now=lambda: expires + 29).claims(token, AUDIENCE))["sub"] == "h1"
        with pytest.raises(NotSignedIn, match="the token has expired"):
            await TokenVerifier(keys, leeway_seconds=30, now=lambda: expires + 31).claims(token, AUDIENCE)


async def test_a_rotated_key_is_taken_without_a_restart_and_unknown_keys_are_fetched_at_most_once_a_while() -> None:
    now = [1000.0]
    with oidc_provider() as provider:
        async with httpx.AsyncClient() as http:
            keys = ProviderKeys(provider.issuer, http, refetch_seconds=30, clock=lambda: now[0])
            verifier = TokenVerifier(keys, leeway_seconds=30)
            assert (await verifier.claims(provider.tokens_for("h1")["access_token"], AUDIENCE))["sub"] == "h1"
            assert keys.fetches == 1

            provider.restart([new_key(), *provider.keys])  # the provider now signs with a new key
            # Requests meeting the new key together: all taken, on one fetch of the key set.
            token = provider.tokens_for("h2")["access_token"]
            checked = await asyncio.gather(*(verifier.claims(token, AUDIENCE) for _ in range(5)))
            assert [c["sub"] for c in checked] == ["h2"] * 5
            assert keys.fetches == 2

            # A token naming a key nobody publishes: refused without asking the provider again so soon...
            stray = jwt.encode({"alg": "RS256", "kid": "stray"}, {"sub": "x"}, RSAKey.import_key(new_key()))
            with pytest.raises(NotSignedIn, match="key the identity provider does not publish"):
                await verifier.claims(stray, AUDIENCE)
            assert keys.fetches == 2
            # ... and asked again once the rate limit's interval has passed.
            now[0] += 30
            with pytest.raises(NotSignedIn, match="key the identity provider does not publish"):
                await verifier.claims(stray, AUDIENCE)
            assert keys.fetches == 3
