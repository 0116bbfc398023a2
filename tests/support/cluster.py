"""The two-node rig: two `intake serve` processes (each its own HTTP port and node id, one shared
Redis, the same PBX) behind a real HAProxy running the shipped config/haproxy/intake.cfg.

The PBX is whatever the caller logs in to: the simulator in the test's own event loop for the
fast tests, the real Asterisk in the pbx suite. Everything is started and waited for by what it
says (each node's /healthz, HAProxy's own view of the nodes on its stats socket), never by time.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import shutil
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from intake.core.config import IntakeConfig
from tests.pbx.harness import (
    Desktop,
    IntakeProcess,
    flush_e2e_db,
    free_port,
    intake_process,
)
from tests.pbx.intake_server import AmiLogin
from tests.waiting import eventually

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "haproxy" / "intake.cfg"
BACKEND = "intake_nodes"
NODES = ("node1", "node2")


def haproxy_config(shipped: str, *, bind_port: int, node_ports: dict[str, int], stats_socket: Path) -> str:
    """The shipped file with loopback in place of its addresses, its stats socket in ``stats_socket``
    and its log on stderr; every place replaced must be there, so the shipped file cannot drift
    away from what the tests run."""
    swaps = {
        "bind 192.0.2.10:8080": f"bind 127.0.0.1:{bind_port}",
        "server node1 192.0.2.11:8080": f"server node1 127.0.0.1:{node_ports['node1']}",
        "server node2 192.0.2.12:8080": f"server node2 127.0.0.1:{node_ports['node2']}",
        "stats socket /run/haproxy/admin.sock": f"stats socket {stats_socket}",
        "log /dev/log local0": "log stderr format raw local0",
    }
    text = shipped
    for old, new in swaps.items():
        assert text.count(old) == 1, f"{SHIPPED} no longer has {old!r} once"
        text = text.replace(old, new)
    return text


@dataclass(frozen=True)
class ServerView:
    """One node as HAProxy sees it (a row of `show stat`)."""

    status: str  # UP, DOWN, "UP 1/3" (coming up), "DOWN 1/2" (going down), MAINT...
    sessions: int  # connections open to it now: every desktop or wallboard socket it holds

    @property
    def up(self) -> bool:
        return self.status == "UP"

    @property
    def down(self) -> bool:
        return self.status == "DOWN"


class Haproxy:
    """Debian's haproxy in the foreground on a config of the test's own."""

    def __init__(self, workdir: Path, node_ports: dict[str, int]) -> None:
        self.port = free_port()
        self.stats_socket = workdir / "admin.sock"
        self.config = workdir / "haproxy.cfg"
        self.log_path = workdir / "haproxy.log"
        self.config.write_text(haproxy_config(SHIPPED.read_text(), bind_port=self.port, node_ports=node_ports,
                                              stats_socket=self.stats_socket))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("haproxy")
        if binary is None:
            pytest.fail("haproxy is not installed (scripts/test installs it: apt-get install haproxy)")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([binary, "-db", "-f", str(self.config)], stdout=log, stderr=log)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def ask(self, command: str) -> str:
        """One command on the stats socket (as `socat stdio admin.sock` would send it)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.stats_socket))
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def servers(self) -> dict[str, ServerView]:
        """Each node of the backend as HAProxy sees it now; {} while HAProxy is not answering yet."""
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"haproxy exited {self.process.returncode}:\n{self.log_tail()}")
        try:
            text = self.ask("show stat")
        except OSError:
            return {}
        rows = csv.DictReader(line.removeprefix("# ") for line in text.splitlines() if line.strip())
        return {r["svname"]: ServerView(r["status"], int(r["scur"] or 0)) for r in rows
                if r["pxname"] == BACKEND and r["svname"] in NODES}

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


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

    async def kill(self, name: str) -> None:
        """kill -9: no goodbye to its desktops, its PBX link or Redis."""
        await asyncio.to_thread(self.nodes[name].stop, signal.SIGKILL)

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
