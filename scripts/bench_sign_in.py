"""What signing in costs per request: a bearer JWT checked against the provider's keys (cached),
a page's session looked up in Redis, a static token; and a whole headless sign-in at the provider.

    PYTHONPATH=. python3 scripts/bench_sign_in.py [--redis redis://127.0.0.1:6379] [--n 2000]

Needs what the sign-in tests need: the OpenID provider installed by scripts/test (npm's
oidc-provider under .cache/) and a Redis. Prints one JSON line (milliseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx
import redis.asyncio as aioredis

from intake.app.auth import HandlerPrincipal, Principals
from intake.app.oidc_tokens import ProviderKeys, TokenVerifier
from intake.app.sessions import Sessions
from tests.support.oidc import AUDIENCE, oidc_provider


async def timed(n: int, step: Callable[[], Awaitable[object]]) -> dict[str, float]:
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        await step()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 3), "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3)}


async def main(redis_url: str, n: int) -> dict[str, object]:
    with oidc_provider() as provider:
        token = provider.tokens_for("h1")["access_token"]
        began = time.perf_counter()
        for _ in range(5):
            provider.tokens_for("h1")
        sign_in_ms = (time.perf_counter() - began) * 1000 / 5
        async with httpx.AsyncClient() as http:
            verifier = TokenVerifier(ProviderKeys(provider.issuer, http, refetch_seconds=30), leeway_seconds=30)
            began = time.perf_counter()
            await verifier.claims(token, AUDIENCE)
            first_ms = (time.perf_counter() - began) * 1000
            jwt_check = await timed(n, lambda: verifier.claims(token, AUDIENCE))
    redis = aioredis.Redis.from_url(redis_url, db=15)
    try:
        sessions = Sessions(redis, "bench:", 3600)
        session_id, _ = await sessions.open(HandlerPrincipal(id="h1", subject="h1"))
        session_lookup = await timed(n, lambda: sessions.find(session_id))
        await sessions.close(session_id)
    finally:
        await redis.aclose()
    principals = Principals({"a-static-token-0123456789": "h1"}, {})

    async def static() -> object:
        return principals.who("a-static-token-0123456789")

    return {"jwt_check_cached_keys": jwt_check, "jwt_first_check_with_discovery_and_jwks_ms": round(first_ms, 1),
            "session_lookup_redis": session_lookup, "static_token": await timed(n, static),
            "headless_code_flow_at_the_provider_ms": round(sign_in_ms, 1), "n": n}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.redis, args.n))))
