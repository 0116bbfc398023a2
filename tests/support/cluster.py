"""The two-node rig: two `intake serve` processes (each its own HTTP port and node id, one shared
Redis, the same PBX) behind a real HAProxy running the shipped config/haproxy/intake.cfg.

The PBX is whatever the caller logs in to: the simulator in the test's own event loop for the
fast tests, the real Asterisk in the pbx suite. Everything is started and waited for by what it
says (each node's /healthz, HAProxy's own view of the nodes on its stats socket), never by time.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from intake.core.config import IntakeConfig
from tests.pbx.harness import (
    Desktop,
    IntakeProcess,
    flush_e2e_db,
    intake_process,
)
from tests.pbx.intake_server import AmiLogin
from tests.support.haproxy import NODES, Haproxy, ServerView
from tests.waiting import eventually


@dataclass
class Cluster:
    """Two nodes and HAProxy. ``nodes``: node name (as in the HAProxy config) -> its process."""

    nodes: dict[str, IntakeProcess]
    haproxy: Haproxy

    @property
    def port(self) -> int:
        """Where desktops, wallboards and REST clients connect: the load balancer."""
        return self.haproxy.port

    @property
    def base(self) -> str:
        """The REST API through the load balancer."""
        return f"http://127.0.0.1:{self.port}"

    async def view(self) -> dict[str, ServerView]:
        return await asyncio.to_thread(self.haproxy.servers)

    async def wait_for(self, what: str, check: Callable[[dict[str, ServerView]], bool]) -> dict[str, ServerView]:
        """Until HAProxy's view of the nodes satisfies ``check``; returns that view."""
        async def seen() -> dict[str, ServerView] | None:
            view = await self.view()
            return view if view and check(view) else None

        return await eventually(seen, 20, what)  # type: ignore[no-any-return]

    async def desktop(self, handler_id: str) -> Desktop:
        """A handler's desktop socket, through HAProxy."""
        return await Desktop.connect(self.port, handler_id)

    async def holder(self) -> str:
        """The node that holds the one socket open through HAProxy (waits until exactly one does)."""
        view = await self.wait_for("one node to hold the socket", lambda v: sum(s.sessions for s in v.values()) == 1)
        return next(name for name, s in view.items() if s.sessions == 1)

    async def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """kill -9 by default: no goodbye to its desktops, its PBX link or Redis (SIGTERM: the
        node's own orderly stop)."""
        await asyncio.to_thread(self.nodes[name].stop, sig)

    async def restart(self, name: str) -> None:
        """Start a stopped node again on its own port and config; returns once it is healthy."""
        await asyncio.to_thread(self.nodes[name].start)

    def other(self, name: str) -> str:
        return next(n for n in self.nodes if n != name)

    def logs(self) -> str:
        parts = [f"--- {name} ({node.log_path}) ---\n{node.log_tail(40)}" for name, node in self.nodes.items()]
        return "\n".join([*parts, f"--- haproxy ({self.haproxy.log_path}) ---\n{self.haproxy.log_tail(40)}"])


def _name_node(node: IntakeProcess, name: str) -> None:
    """Give the node its id in the config's ``[cluster]`` section, once this build has one (the
    leader's part of issue 13 adds it); until then each node's id defaults to host and port."""
    if "cluster" in IntakeConfig.model_fields:
        with node.config.open("a") as f:
            f.write(f'[cluster]\nnode_id = "{name}"\n')


@contextlib.asynccontextmanager
async def running_cluster(tmp: Path, pbx: AmiLogin, redis_url: str) -> AsyncIterator[Cluster]:
    """Two nodes on ``pbx`` sharing ``redis_url`` (its e2e database, flushed first), HAProxy in
    front; yields once both nodes are healthy and HAProxy has marked both up. Every process is
    stopped after; on a failure the logs are printed."""
    flush_e2e_db(redis_url)
    nodes: dict[str, IntakeProcess] = {}
    for name in NODES:
        (tmp / name).mkdir()
        nodes[name] = intake_process(tmp / name, pbx, redis_url)
        _name_node(nodes[name], name)
    (tmp / "haproxy").mkdir()
    cluster = Cluster(nodes, Haproxy(tmp / "haproxy", {name: node.http_port for name, node in nodes.items()}))
    try:
        # Off the loop: the PBX may be a simulator in this very loop, answering the nodes' logins.
        await asyncio.gather(*(asyncio.to_thread(node.start) for node in nodes.values()))
        cluster.haproxy.start()
        await cluster.wait_for("HAProxy to mark both nodes up", lambda v: all(v[n].up for n in NODES))
        yield cluster
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        cluster.haproxy.stop()
        await asyncio.gather(*(asyncio.to_thread(node.stop) for node in nodes.values()))
