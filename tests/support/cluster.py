"""The two-node rig: two `intake serve` processes (each its own HTTP port and node id, one shared
Redis or Redis with Sentinel, the same PBX or PBX sites) behind a real HAProxy running the
shipped config/haproxy/intake.cfg.

The PBX is whatever the caller logs in to: the simulator in the test's own event loop for the
fast tests, the real Asterisk in the pbx suite. Everything is started and waited for by what it
says (each node's /healthz, HAProxy's own view of the nodes on its stats socket), never by time.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

from intake.core.config import RedisConfig
from tests.pbx.harness import (
    Desktop,
    IntakeProcess,
    Sites,
    flush_e2e_db,
    intake_process,
)
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

    async def desktop(self, handler_id: str, last_seq: int | None = None) -> Desktop:
        """A handler's desktop socket, through HAProxy (``last_seq``: resuming)."""
        return await Desktop.connect(self.port, handler_id, last_seq)

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


def pops_in(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The pops a desktop message shows: a pop itself, or the pops of a snapshot (what a desktop
    that connects anew is shown of the calls still active)."""
    if message.get("type") == "pop":
        return [message]
    if message.get("type") == "snapshot":
        return [m for m in message["pops"] if m.get("type") == "pop"]
    return []


@dataclass
class Screen:
    """A handler's desktop page through HAProxy: when its socket drops (its node killed) it
    connects again at once with the ``last_seq`` it saw, as the page does, and lands on a live
    node. ``sockets``: every socket it had, oldest first, each with everything it was sent."""

    cluster: Cluster
    handler_id: str
    sockets: list[Desktop] = field(default_factory=list)
    _follow: asyncio.Task[None] | None = None
    _may_reconnect: asyncio.Event = field(default_factory=asyncio.Event)

    def hold(self) -> None:
        """A dropped socket is not replaced until :meth:`release` (a page that takes its time)."""
        self._may_reconnect.clear()

    def release(self) -> None:
        self._may_reconnect.set()

    @property
    def last_seq(self) -> int | None:
        return max((seq for desk in self.sockets if (seq := desk.last_seq) is not None), default=None)

    @classmethod
    async def open(cls, cluster: Cluster, handler_id: str) -> Screen:
        screen = cls(cluster, handler_id, [await cluster.desktop(handler_id)])
        screen.release()
        screen._follow = asyncio.create_task(screen._reconnect())
        return screen

    async def _reconnect(self) -> None:
        while True:
            await self.sockets[-1].closed()
            await self._may_reconnect.wait()
            # HAProxy may still try the dead node until its check fails: retried until a live one takes it.
            self.sockets.append(await eventually(self._connect, 30, f"{self.handler_id}'s desktop reconnected"))

    async def _connect(self) -> Desktop | None:
        try:
            return await self.cluster.desktop(self.handler_id, self.last_seq)
        except (OSError, websockets.InvalidHandshake):
            return None

    def popped_at(self, number: str) -> float | None:
        """When this screen first showed a pop of a call from ``number`` (None: never)."""
        return min((at for desk in self.sockets for at, m in desk.messages for pop in pops_in(m)
                    if pop["caller"]["number"] == number), default=None)

    async def close(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            await asyncio.gather(self._follow, return_exceptions=True)
        for desk in self.sockets:
            await desk.close()


@contextlib.asynccontextmanager
async def running_cluster(tmp: Path, pbx: Sites, redis: str | RedisConfig, **config: Any) -> AsyncIterator[Cluster]:
    """Two nodes on ``pbx`` (one PBX, or sites by name) sharing ``redis`` (a URL: its e2e database,
    flushed first; or Redis with Sentinel), HAProxy in front; yields once both nodes are healthy
    and HAProxy has marked both up. ``config``: more of the nodes' settings (harness.write_config:
    ``lease_seconds`` turns the cluster on). Every process is stopped after; on a failure the
    logs are printed."""
    if isinstance(redis, str):
        flush_e2e_db(redis)
    nodes: dict[str, IntakeProcess] = {}
    for name in NODES:
        (tmp / name).mkdir()
        nodes[name] = intake_process(tmp / name, pbx, redis, node_id=name, **config)
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
