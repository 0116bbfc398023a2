"""The real OpenID provider (tests/support/oidc.py) and intake signed in through it, on the simulator."""

from __future__ import annotations

import contextlib
import secrets as token_source
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from intake.app.demo import demo_config
from intake.app.server import IntakeServer
from intake.core.config import IntakeConfig
from intake.core.config_oidc import OidcConfig
from telephony.simulator import SimConfig, SimulatedPbx
from tests.serving import running_server
from tests.support.oidc import (
    AUDIENCE,
    CLIENT_ID,
    CLIENT_SECRET,
    OidcProvider,
    oidc_provider,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def intake_port() -> int:
    """intake's HTTP port, known before the provider starts (its client's redirect URI names it)."""
    return _free_port()


@pytest.fixture(scope="module")
def provider(intake_port: int) -> Iterator[OidcProvider]:
    with oidc_provider([f"http://127.0.0.1:{intake_port}/auth/callback"]) as started:
        yield started


@dataclass
class Signed:
    """intake on the simulator with ``[oidc]`` naming the test provider."""

    server: IntakeServer
    sim: SimulatedPbx
    http: httpx.AsyncClient
    provider: OidcProvider
    tokens: dict[str, str]  # the static tokens, by id

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def oidc_section(provider: OidcProvider, **overrides: Any) -> OidcConfig:
    return OidcConfig(issuer=provider.issuer, client_id=CLIENT_ID, client_secret="env:INTAKE_TEST_OIDC_SECRET",
                      audience=AUDIENCE, scopes=["openid", "profile", "roles"], **overrides)


@pytest.fixture
async def signed(provider: OidcProvider, intake_port: int, redis_client: Any,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Signed]:
    async with signed_server(provider, intake_port, redis_client, monkeypatch) as world:
        yield world


@contextlib.asynccontextmanager
async def signed_server(provider: OidcProvider, intake_port: int, redis_client: Any, monkeypatch: pytest.MonkeyPatch,
                        edit: Callable[[IntakeConfig], IntakeConfig] = lambda config: config) -> AsyncIterator[Signed]:
    """:func:`signed`'s intake, its demo configuration changed by ``edit`` first."""
    monkeypatch.setenv("INTAKE_TEST_OIDC_SECRET", CLIENT_SECRET)
    async with SimulatedPbx(SimConfig(traffic=None, members_at_start=False, secret=token_source.token_urlsafe(12),
                                      tick=0.005)) as sim:
        config = demo_config(sim.config, sim.port, intake_port)
        config = edit(config.model_copy(update={"oidc": oidc_section(provider)}))
        tokens = {h: token_source.token_urlsafe(18) for h in ("h1", "h2", "h3", "h4", "sup1")}
        secrets = {"ami.secret": sim.config.secret, "supervisors[0].token": tokens["sup1"],
                   "oidc.client_secret": CLIENT_SECRET}
        secrets |= {f"handlers[{i}].token": tokens[h.id] for i, h in enumerate(config.handlers)}
        async with running_server(config, secrets, redis_client, port=intake_port) as server:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{intake_port}") as http:
                yield Signed(server, sim, http, provider, tokens)
