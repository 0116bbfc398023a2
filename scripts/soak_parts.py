"""The soak's moving parts, each a real process or a real socket on loopback: redis-server, the PBX
simulator, ``intake serve``, handlers' desktops (one of them stalled), and the samplers of intake's
RSS and responsiveness. scripts/soak.py puts them on a schedule; scripts/soak_judge.py referees."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
import websockets
from websockets.frames import Frame, Opcode

from screenpop.signin import auth_message

REPO = Path(__file__).resolve().parents[1]
AMI_SECRET_ENV, SUPERVISOR_ENV = "SOAK_AMI_SECRET", "SOAK_TOKEN_SUPERVISOR"
AMI_SECRET, SUPERVISOR_TOKEN = "soak-ami-secret-5e2f", "soak-supervisor-token-0123456789"


class SoakError(RuntimeError):
    """A part did not come up or back within its deadline: the run cannot go on."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def token_of(handler_id: str) -> str:
    return f"soak-desktop-{handler_id}-token-0123456789"


async def until(check: Any, timeout: float, what: str, every: float = 0.1) -> Any:
    """Wait for ``await check()`` to be truthy, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = await check()
        except Exception:  # noqa: BLE001 - a part on its way up refuses connections
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise SoakError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(every)


async def spawn(argv: list[str], log: Path, *, env: dict[str, str] | None = None, stdout: Any = None) -> asyncio.subprocess.Process:
    """A child process with this tree first on its path (the code under test), its output to ``log``."""
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(*argv, cwd=REPO, stdout=stdout or out, stderr=out,
                                                    env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


async def kill(proc: asyncio.subprocess.Process | None, sig: int = signal.SIGKILL, timeout: float = 15) -> None:
    if proc is None or proc.returncode is not None:
        return
    proc.send_signal(sig)
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()


@dataclass
class RedisServer:
    """redis-server with an append-only file fsynced on every write: killed -9, it loses nothing it
    acknowledged (a production Redis for records that must not be lost is run that way)."""

    port: int
    dir: Path
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.proc = await spawn(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                                 "--save", "", "--appendonly", "yes", "--appendfsync", "always"], self.dir / "redis.log")
        await until(self.ping, 15, f"redis-server on {self.port}")

    async def ping(self) -> bool:
        client = aioredis.Redis.from_url(self.url, socket_timeout=1)
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    async def kill(self) -> None:
        await kill(self.proc)

    async def pause(self, ms: int) -> None:
        """A slow Redis: every client's commands wait ``ms`` (CLIENT PAUSE ALL)."""
        client = aioredis.Redis.from_url(self.url, socket_timeout=2)
        try:
            await client.client_pause(ms, all=True)
        finally:
            await client.aclose()

    async def callback_ids(self, prefix: str) -> set[str]:
        """The ids of intake's call-back tasks (routing/callbacks.py: one hash, id -> task)."""
        client = aioredis.Redis.from_url(self.url, socket_timeout=10)
        try:
            return {k.decode() for k in await client.hkeys(f"{prefix}callbacks")}
        finally:
            await client.aclose()

    async def journal(self, prefix: str) -> list[dict[str, Any]]:
        client = aioredis.Redis.from_url(self.url, socket_timeout=10)
        try:
            records = []
            async for key in client.scan_iter(match=f"{prefix}journal:*"):
                records += [json.loads(r) for r in await client.zrange(key, 0, -1)]
            return records
        finally:
            await client.aclose()


@dataclass
class Simulator:
    """``python -m telephony.simulator`` on a fixed port, appending to one queue_log across restarts.
    Stopped with SIGTERM it hangs up every call first (``core stop now``)."""

    port: int
    setup: Path
    queue_log: Path
    log: Path
    seed: int
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0

    async def start(self) -> None:
        self.proc = await spawn([sys.executable, "-m", "telephony.simulator", "--port", str(self.port), "--secret", AMI_SECRET,
                                 "--seed", str(self.seed + self.starts), "--setup", str(self.setup), "--queue-log", str(self.queue_log)],
                                self.log, stdout=asyncio.subprocess.PIPE)
        self.starts += 1
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 20)
        if not line:
            raise SoakError(f"the simulator exited ({await self.proc.wait()}) before listening; see {self.log}")

    async def stop(self) -> None:
        await kill(self.proc, signal.SIGTERM)


@dataclass
class Intake:
    """``python -m intake.app.cli serve --config ...``, its log appended across restarts."""

    config: Path
    log: Path
    http_port: int
    proc: asyncio.subprocess.Process | None = None
    killed: int = 0  # exits we caused; any other exit is a crash

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def start(self) -> None:
        self.proc = await spawn([sys.executable, "-m", "intake.app.cli", "serve", "--config", str(self.config)], self.log,
                                env={AMI_SECRET_ENV: AMI_SECRET, SUPERVISOR_ENV: SUPERVISOR_TOKEN})

    async def healthy(self, http: httpx.AsyncClient, timeout: float) -> float:
        """Wait until /healthz says the PBX link and Redis are up; returns the epoch time it did."""
        async def ok() -> bool:
            if self.proc is None or self.proc.returncode is not None:
                raise SoakError(f"intake serve exited ({self.proc.returncode if self.proc else None}); see {self.log}")
            r = await http.get(self.base + "/healthz", timeout=2)
            return r.status_code == 200 and bool(r.json().get("ok"))

        deadline = time.monotonic() + timeout
        while True:
            try:
                if await ok():
                    return time.time()
            except SoakError:
                raise
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise SoakError(f"intake not healthy within {timeout:g} s; see {self.log}")
            await asyncio.sleep(0.1)

    async def kill(self, sig: int = signal.SIGKILL) -> None:
        self.killed += 1
        await kill(self.proc, sig)

    def log_summary(self) -> dict[str, int]:
        """Warnings and errors in intake's log by event, and tracebacks of tasks nobody awaited
        (a write that failed with nobody to retry it): what to read first when an invariant broke."""
        counts: dict[str, int] = {}
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("level") in ("warning", "error", "critical"):
                    key = f"{rec['level']}: {rec.get('event')}"
                    counts[key] = counts.get(key, 0) + 1
            elif line.startswith(("Task exception was never retrieved", "Traceback")):
                counts[line] = counts.get(line, 0) + 1
        return dict(sorted(counts.items()))

    def rss_bytes(self) -> int | None:
        if self.proc is None or self.proc.returncode is not None:
            return None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None


@dataclass
class Samples:
    """intake's RSS and the time it takes to answer a request that touches no Redis (/api/calls):
    a stalled event loop answers late, so this is its loop lag as a client sees it, plus loopback."""

    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds into the run, bytes)
    lag: list[tuple[float, float]] = field(default_factory=list)  # (seconds into the run, seconds)
    probe_failures: int = 0
    machine_load: list[float] = field(default_factory=list)  # the 1-minute load average, each sample

    async def run(self, intake: Intake, http: httpx.AsyncClient, t0: float, every: float = 0.5) -> None:
        auth = {"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}
        while True:
            self.machine_load.append(os.getloadavg()[0])
            rss = intake.rss_bytes()
            if rss is not None:
                self.rss.append((time.monotonic() - t0, rss))
                started = time.perf_counter()
                try:
                    r = await http.get(intake.base + "/api/calls", headers=auth, timeout=5)
                    if r.status_code == 200:
                        self.lag.append((time.monotonic() - t0, time.perf_counter() - started))
                    else:
                        self.probe_failures += 1
                except httpx.HTTPError:
                    self.probe_failures += 1
            await asyncio.sleep(every)


@dataclass
class Desktop:
    """A handler's desktop that reads everything and answers pings; reconnects after intake restarts."""

    url: str
    token: str  # sent as the socket's first message: never in the URL
    pops: int = 0
    connects: int = 0

    async def run(self) -> None:
        while True:
            try:
                async with websockets.connect(self.url, open_timeout=5) as ws:
                    await ws.send(auth_message(self.token))
                    self.connects += 1
                    async for raw in ws:
                        kind = json.loads(raw).get("type")
                        if kind == "pop":
                            self.pops += 1
                        elif kind == "ping":
                            await ws.send(json.dumps({"type": "pong"}))
            except (OSError, websockets.WebSocketException, TimeoutError):
                pass
            await asyncio.sleep(0.5)


class StalledDesktop:
    """A handler's desktop that opens its WebSocket and never reads from it again (a frozen browser
    tab). Whether intake let it go is read from the kernel's TCP table, without reading the socket:
    ESTABLISHED while intake keeps it, CLOSE_WAIT (or gone) once intake closed it."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws/desktop HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)  # byte by byte: not one byte of the stream after the handshake
            if not chunk:
                raise SoakError("intake closed the desktop socket during the handshake")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise SoakError(f"WebSocket handshake refused: {head[:80]!r}")
        # Signed in by its first message (a client's frames are masked), then never read again.
        self.sock.sendall(Frame(Opcode.TEXT, auth_message(token).encode()).serialize(mask=True, extensions=[]))
        self.local = self.sock.getsockname()[1]

    def tcp_state(self) -> str:
        """ESTABLISHED, CLOSE_WAIT, ... of our end, from /proc/net/tcp; GONE if the kernel dropped it."""
        states = {"01": "ESTABLISHED", "08": "CLOSE_WAIT", "07": "CLOSE", "0A": "LISTEN", "06": "TIME_WAIT"}
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            parts = line.split()
            if int(parts[1].split(":")[1], 16) == self.local:
                return states.get(parts[3], parts[3])
        return "GONE"

    def close(self) -> None:
        self.sock.close()
