"""Bearer JWTs from the force's OpenID provider: checked against its published keys (joserfc).

:class:`ProviderKeys` reads the provider's discovery document and key set (JWKS) once, and again
when a token names a key it has not seen (the provider rotated its keys), at most once per
``refetch_seconds``: a new key is taken without a restart, and forged key ids cannot make intake
hammer the provider. :class:`TokenVerifier` checks a token's signature, issuer, audience and
expiry and gives its claims, or refuses it with a :class:`~intake.core.errors.NotSignedIn`
saying why (never the token itself).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

import httpx
import structlog
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import Key, KeySet

from intake.core.errors import NotSignedIn

log = structlog.get_logger("intake.oidc")

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
"""Asymmetric only: a provider's tokens are never signed with a secret intake shares."""

CLAIM_REFUSALS = {
    "iss": "the token was issued by another identity provider",
    "aud": "the token is for another audience",
    "nbf": "the token is not valid yet",
    "nonce": "the sign-in does not match the one this browser started",
}


class ProviderKeys:
    """The provider's discovery document and signing keys, fetched over ``http``."""

    def __init__(self, issuer: str, http: httpx.AsyncClient, *, refetch_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.issuer = issuer
        self.http = http
        self._refetch_seconds = refetch_seconds
        self._clock = clock
        self._discovery: dict[str, object] | None = None
        self._keys: KeySet | None = None
        self._last_refetch = -math.inf
        self._lock = asyncio.Lock()
        self.fetches = 0  # how often the key set was fetched (the rate limit's test reads it)

    async def close(self) -> None:
        await self.http.aclose()

    async def discovery(self) -> dict[str, object]:
        if self._discovery is None:
            self._discovery = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if self._discovery.get("issuer") != self.issuer:
                self._discovery = None
                raise NotSignedIn("the identity provider's discovery document names another issuer")
        return self._discovery

    async def endpoint(self, name: str) -> str:
        value = (await self.discovery()).get(name)
        if not isinstance(value, str):
            raise NotSignedIn(f"the identity provider publishes no {name}")
        return value

    async def key(self, kid: str | None) -> Key:
        """The signing key ``kid``: the key set is fetched again, once per ``refetch_seconds``, when
        it is unknown (requests that meet the same new key together wait for one fetch)."""
        keys = self._keys
        if keys is None:
            async with self._lock:
                keys = self._keys or await self._fetch()
        if (key := _find(keys, kid)) is not None:
            return key
        async with self._lock:
            if self._keys is not keys and self._keys is not None:  # fetched while this one waited
                keys = self._keys
                if (key := _find(keys, kid)) is not None:
                    return key
            if self._clock() - self._last_refetch >= self._refetch_seconds:
                self._last_refetch = self._clock()
                if (key := _find(await self._fetch(), kid)) is not None:
                    return key
        raise NotSignedIn("the token is signed by a key the identity provider does not publish")

    async def _fetch(self) -> KeySet:
        """The provider's key set, fetched now (under the lock)."""
        data = await self._get_json(await self.endpoint("jwks_uri"))
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise NotSignedIn("the identity provider's key set cannot be read") from exc
        self.fetches += 1
        self._keys = keys
        log.info("oidc_keys_fetched", issuer=self.issuer, kids=[k.kid for k in keys])
        return keys

    async def _get_json(self, url: str) -> dict[str, object]:
        try:
            answer = await self.http.get(url)
            answer.raise_for_status()
            data = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.error("oidc_provider_unreachable", url=url, error=str(exc))
            raise NotSignedIn("the identity provider cannot be reached to check the token") from exc
        if not isinstance(data, dict):
            raise NotSignedIn(f"the identity provider's {url} is not a JSON object")
        return data


def _find(keys: KeySet, kid: str | None) -> Key | None:
    try:
        return keys.get_by_kid(kid)
    except InvalidKeyIdError:
        return None


class TokenVerifier:
    def __init__(self, keys: ProviderKeys, *, leeway_seconds: int, now: Callable[[], float] = time.time) -> None:
        self.keys = keys
        self._leeway = leeway_seconds
        self._now = now

    async def claims(self, token: str, audience: str, *, nonce: str | None = None) -> dict[str, object]:
        """A token's claims once its signature, issuer, audience, expiry (and ``nonce``) hold."""
        try:
            header = jws.extract_compact(token.encode()).protected
        except (JoseError, ValueError):
            raise NotSignedIn("the token is not a JWT") from None
        key = await self.keys.key(header.get("kid"))
        try:
            decoded = jwt.decode(token, key, algorithms=ALGORITHMS)
        except BadSignatureError:
            raise NotSignedIn("the token's signature does not hold") from None
        except (JoseError, ValueError):
            raise NotSignedIn("the token cannot be read") from None
        options: dict[str, jwt.ClaimsOption] = {
            "iss": {"essential": True, "value": self.keys.issuer}, "aud": {"essential": True, "value": audience},
            "exp": {"essential": True}, "sub": {"essential": True}}
        if nonce is not None:
            options["nonce"] = {"essential": True, "value": nonce}
        registry = jwt.JWTClaimsRegistry(now=int(self._now()), leeway=self._leeway, **options)
        try:
            registry.validate(decoded.claims)
        except ExpiredTokenError:
            raise NotSignedIn("the token has expired") from None
        except MissingClaimError as exc:
            raise NotSignedIn(f"the token lacks the {exc.claim} claim") from None
        except InvalidClaimError as exc:
            raise NotSignedIn(CLAIM_REFUSALS.get(exc.claim, f"the token's {exc.claim} claim is not valid")) from None
        return dict(decoded.claims)
