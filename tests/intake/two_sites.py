"""Two simulated PBX sites ("north" and "south", each with a queue "emergency" and phones
PJSIP/handler-1 and -2) followed by one IntakeServer over real AMI: the rig of the sites' tests."""

from __future__ import annotations

import contextlib
import secrets as token_source
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from intake.app.server import IntakeServer
from intake.core.config import IntakeConfig, parse
from telephony.simulator import SimConfig, SimulatedPbx
from tests.serving import running_server
from tests.waiting import eventually

SITES = ("north", "south")


def two_site_config(ports: dict[str, int], key_prefix: str) -> IntakeConfig:
    raw: dict[str, Any] = {
        "pbx": [{"name": site, "port": port, "secret": f"env:AMI_{site.upper()}", "reconnect_initial": 0.1, "reconnect_max": 0.5}
                for site, port in ports.items()],
        "redis": {"url": "embedded", "key_prefix": key_prefix},
        "lines": [{"site": site, "name": line, "target_seconds": target, "queues": [queue], "wrapup_seconds": 0}
                  for site in ports for line, target, queue in (("999", 12, "emergency"), ("101", 60, "non-emergency"))],
        "handlers": [{"site": site, "id": f"{site[0]}{n}", "name": f"{site} {n}", "member": f"PJSIP/handler-{n}",
                      "queues": ["emergency"], "token": f"env:T_{site[0]}{n}"} for site in ports for n in (1, 2)],
        "supervisors": [{"id": "sup1", "token": "env:T_SUP"}],
        "routing": {"enabled": False},
    }
    return parse(raw)


@dataclass
class TwoSites:
    server: IntakeServer
    http: httpx.AsyncClient
    sims: dict[str, SimulatedPbx]
    base_url: str
    supervisor_token: str
    handler_tokens: dict[str, str]


@contextlib.asynccontextmanager
async def two_sites(redis: Any) -> AsyncIterator[TwoSites]:
    async with contextlib.AsyncExitStack() as stack:
        sims = {site: await stack.enter_async_context(SimulatedPbx(SimConfig(traffic=None, secret=token_source.token_urlsafe(12),
                                                                           tick=0.005)))
                for site in SITES}
        config = two_site_config({site: sim.port for site, sim in sims.items()}, f"test-sites-{token_source.token_hex(4)}:")
        secrets = {config.secret_key(site): sim.config.secret for site, sim in sims.items()}
        handler_tokens = {h.id: token_source.token_urlsafe(18) for h in config.handlers}
        secrets |= {f"handlers[{i}].token": handler_tokens[h.id] for i, h in enumerate(config.handlers)}
        secrets["supervisors[0].token"] = sup = token_source.token_urlsafe(18)
        bound: list[int] = []
        server = await stack.enter_async_context(running_server(config, secrets, redis, bound=bound))
        await eventually(lambda: all(site.up for site in server.sites.values()), 10, "both sites' links up")
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=f"http://127.0.0.1:{bound[0]}",
                                                                 headers={"Authorization": f"Bearer {sup}"}))
        yield TwoSites(server, http, sims, f"http://127.0.0.1:{bound[0]}", sup, handler_tokens)


