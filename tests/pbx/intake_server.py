"""A real IntakeServer (embedded store) attached to the test PBX (or the PBX simulator), for
tests that steer it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import fakeredis

from intake.app.server import IntakeServer
from intake.core.config import IntakeConfig, parse
from telephony.simulator import SimulatedPbx
from tests.serving import running_server


class AmiLogin(Protocol):
    """Where intake logs in: a :class:`tests.support.testbed.pbx.PbxTestbed`, or the simulator's."""

    @property
    def ami_host(self) -> str: ...
    @property
    def ami_port(self) -> int: ...
    @property
    def ami_user(self) -> str: ...
    @property
    def ami_secret(self) -> str: ...


@dataclass(frozen=True)
class SimLogin:
    """Where intake logs in to a PBX simulator (an :class:`AmiLogin`)."""

    ami_host: str
    ami_port: int
    ami_user: str
    ami_secret: str

    @classmethod
    def of(cls, sim: SimulatedPbx) -> SimLogin:
        return cls(sim.host, sim.port, sim.config.username, sim.config.secret)


def intake_config(pbx: AmiLogin, handlers: dict[str, list[str]], **routing: Any) -> IntakeConfig:
    """``handlers``: handler id (h1..h4, phone handler-N) -> queues; wrap-up off so a handler is
    ready again the moment a call ends."""
    return parse({
        "ami": {"host": pbx.ami_host, "port": pbx.ami_port, "username": pbx.ami_user, "secret": "env:UNUSED",
                "ping_interval": 2, "action_timeout": 3},
        "redis": {"url": "embedded"},
        "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"], "wrapup_seconds": 0},
                  {"name": "101", "target_seconds": 60, "queues": ["non-emergency"], "wrapup_seconds": 0}],
        "handlers": [{"id": h, "name": h, "member": f"PJSIP/handler-{h[1:]}", "queues": q, "token": f"token-of-handler-{h}"}
                     for h, q in handlers.items()],
        "routing": routing,
    })


@contextlib.asynccontextmanager
async def running_intake(pbx: AmiLogin, config: IntakeConfig, redis: Any = None) -> AsyncIterator[IntakeServer]:
    secrets = {"ami.secret": pbx.ami_secret} | {f"handlers[{i}].token": h.token for i, h in enumerate(config.handlers)}
    async with running_server(config, secrets, redis if redis is not None else fakeredis.FakeAsyncRedis()) as server:
        yield server


async def hang_up_everything(ami: Any) -> None:
    """End every call still up: a SIPp caller stopped mid-call sends no BYE, and its channel
    would keep a handler busy (ringinuse = no) into the next test."""
    await ami.action("Hangup", Channel="/^(PJSIP|Local)\\/.*$/")
    await asyncio.sleep(0.5)
