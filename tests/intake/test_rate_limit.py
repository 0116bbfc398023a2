"""Refused tokens and sign-ins are limited per client address: the pure buckets by table, then the
web edge: REST answers 429 with Retry-After, a socket closes 4429, and the token is not even
looked at until the bucket refills; other addresses are untouched."""

from __future__ import annotations

from typing import Any

import fakeredis
import httpx
import pytest
from fastapi import FastAPI

from intake.app import web_errors
from intake.app.limits import Limits, SignInLimited
from intake.app.server import IntakeServer
from intake.app.web import create_app
from intake.core.config import HttpConfig, parse, read_toml
from intake.core.rate_limit import Rate, RateLimit
from screenpop.signin import auth_message
from tests.test_docs import SHIPPED_CONFIG, close_code

SUPERVISOR, HANDLER = "supervisor-token-00000", "handler-token-00000000"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# (seconds later, what the client does: "spend" or "wait?", what wait() says after it)
STEPS: list[tuple[float, str, int | None]] = [
    (0, "spend", None), (0, "spend", None), (0, "spend", 20),  # burst 3: the third empties it; one refills in 20 s
    (5, "wait?", 15),
    (15, "wait?", None),   # one back
    (0, "spend", 20),
    (100, "wait?", None),  # full again: the bucket is dropped
]


def test_a_bucket_by_table() -> None:
    clock = Clock()
    limit = RateLimit(Rate(burst=3, per_minute=3), clock)
    for i, (later, act, wait) in enumerate(STEPS):
        clock.now += later
        if act == "spend":
            limit.spend("10.0.0.1")
        assert limit.wait("10.0.0.1") == wait, (i, later, act)
        assert limit.wait("10.0.0.2") is None  # another address: its own bucket
    assert len(limit) == 0  # refilled buckets are forgotten


def test_the_buckets_are_bounded_by_dropping_the_longest_untouched() -> None:
    limit = RateLimit(Rate(burst=1, per_minute=1), Clock(), max_clients=2)
    for client in ("a", "b", "c"):
        limit.spend(client)
    assert len(limit) == 2 and limit.wait("a") is None and limit.wait("c") is not None


def world(**http: Any) -> FastAPI:
    raw = read_toml(SHIPPED_CONFIG)
    config = parse({**raw, "http": {**raw["http"], **http}})
    secrets = {"ami.secret": "not-used", "supervisors[0].token": SUPERVISOR}
    secrets |= {f"handlers[{i}].token": f"handler-token-{i:08d}" for i in range(4)}
    return create_app(IntakeServer(config, secrets, fakeredis.FakeAsyncRedis()))


def client(app: FastAPI, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 5555)), base_url="http://intake.test")


async def test_refused_tokens_over_rest_get_429_with_retry_after_then_even_a_good_one_waits() -> None:
    app = world(refused_burst=3, refused_per_minute=2)
    async with client(app, "10.0.0.9") as guesser, client(app, "10.0.0.7") as desk:
        for n in range(3):
            assert (await guesser.get("/api/queues", headers={"Authorization": f"Bearer guess-{n:012d}"})).status_code == 401
        limited = await guesser.get("/api/queues", headers={"Authorization": "Bearer guess-000000000003"})
        assert (limited.status_code, limited.json()["error"], limited.headers["retry-after"]) == (429, "too-many-refusals", "30")
        good = await guesser.get("/api/queues", headers={"Authorization": f"Bearer {SUPERVISOR}"})
        assert good.status_code == 429  # not looked at: guessing goes no faster than the refill
        assert (await desk.get("/api/queues", headers={"Authorization": f"Bearer {SUPERVISOR}"})).status_code == 200
        assert (await desk.get("/api/queues")).status_code == 401  # no token at all: refused, not counted
        assert (await desk.get("/api/queues", headers={"Authorization": f"Bearer {SUPERVISOR}"})).status_code == 200


async def test_refused_tokens_on_the_sockets_count_too_and_then_close_with_4429() -> None:
    app = world(refused_burst=2, refused_per_minute=1)
    for path in ("/ws/desktop", "/ws/supervisor"):  # one address: the ASGI scope's 127.0.0.1
        assert await close_code(app, path, first=auth_message("not-a-token-000000")) == 4401
    assert await close_code(app, "/ws/desktop", first=auth_message(HANDLER)) == 4429
    async with client(app, "127.0.0.1") as same:  # and REST from that address waits as well
        assert (await same.get("/api/me", headers={"Authorization": f"Bearer {HANDLER}"})).status_code == 429


async def test_sign_ins_are_limited_per_address() -> None:
    app = FastAPI()
    app.state.limits = Limits(HttpConfig(sign_in_burst=2, sign_in_per_minute=6))

    @app.get("/sign-in")
    async def sign_in(_: SignInLimited) -> dict[str, bool]:
        return {"ok": True}

    web_errors.install(app)
    async with client(app, "10.0.0.9") as busy, client(app, "10.0.0.7") as other:
        assert [(await busy.get("/sign-in")).status_code for _ in range(3)] == [200, 200, 429]
        assert (await busy.get("/sign-in")).headers["retry-after"] == "10"
        assert (await other.get("/sign-in")).status_code == 200


@pytest.mark.parametrize("key", ["refused_burst", "sign_in_burst"])
def test_a_limit_of_nothing_is_refused_by_the_configuration(key: str) -> None:
    with pytest.raises(ValueError):
        HttpConfig(**{key: 0})
