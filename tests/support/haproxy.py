"""Debian's haproxy running the shipped config/haproxy/intake.cfg on loopback ports, and its
view of the nodes read from its stats socket: for the two-node test rig (tests/support/cluster.py)
and the benchmark's two-node phase (scripts/bench_duplex.py). No pytest here."""

from __future__ import annotations

import csv
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import end, tail

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "haproxy" / "intake.cfg"
BACKEND = "intake_nodes"
NODES = ("node1", "node2")


class HaproxyMissing(RuntimeError):
    def __init__(self) -> None:
        super().__init__("haproxy is not installed (scripts/test installs it: apt-get install haproxy)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
            raise HaproxyMissing
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([binary, "-db", "-f", str(self.config)], stdout=log, stderr=log)

    def stop(self) -> None:
        end(self.process)
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
        return tail(self.log_path, n)
