"""End-to-end harness: `intake serve` as its own process against the real test PBX and a real
Redis, handler desktops over real WebSockets, and the PBX's queue_log as the referee.

Everything here talks to intake the way production does: a config file written for the test
bed, the AMI secret and the tokens in the environment, REST with bearer tokens, WebSockets.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
import websockets

from intake.core.config import RedisConfig
from tests.pbx.intake_server import AmiLogin
from tests.support.oidc import AUDIENCE, CLIENT_ID, CLIENT_SECRET, OidcProvider
from tests.support.processes import end, tail
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.sip.callers import SippRun
from tests.support.sockets import signed_in
from tests.support.testbed.ami import Frame, RawAmi
from tests.support.testbed.pbx import PbxTestbed
from tests.waiting import eventually, patience, patience_ms

REPO = Path(__file__).resolve().parents[2]

HANDLERS: dict[str, tuple[str | None, list[str]]] = {  # handler id -> (member interface, None: hot-desks; queues)
    "h1": ("PJSIP/handler-1", ["emergency", "non-emergency"]),
    "h2": ("PJSIP/handler-2", ["emergency", "non-emergency"]),
    "h3": ("PJSIP/handler-3", ["emergency", "non-emergency"]),
    "h4": ("PJSIP/handler-4", ["emergency", "non-emergency"]),
}
SUPERVISOR_TOKEN = "e2e-supervisor-token-0123456789"
E2E_REDIS_DB = 13


def token_of(handler_id: str) -> str:
    return f"e2e-{handler_id}-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Sites = AmiLogin | Mapping[str, AmiLogin]
"""Where intake logs in: one PBX (the old ``[ami]`` section, site "default"), or PBX sites by name
(one ``[[pbx]]`` each, with the lines and handlers of each site)."""

AMI_TUNING = ['secret = "env:{secret}"', "ping_interval = 1.0", "ping_timeout = 1.0", "action_timeout = 3.0",
              "reconnect_initial = 0.2", "reconnect_max = 1.0"]


def site_handlers(pbx: Sites, handlers: Mapping[str, tuple[str | None, list[str]]] = HANDLERS) -> dict[str, tuple[str | None, str]]:
    """handler id -> (its site, None with one PBX; the handler it is at its site): the first site's
    handlers keep their ids (h1...), another site's are named after it (bh1... on site b)."""
    if not isinstance(pbx, Mapping):
        return {hid: (None, hid) for hid in handlers}
    first = next(iter(pbx))
    return {(hid if site == first else f"{site}{hid}"): (site, hid) for site in pbx for hid in handlers}


def logins(pbx: Sites) -> dict[str | None, AmiLogin]:
    """site -> where intake logs in to its PBX (the one PBX of ``[ami]`` under None)."""
    if isinstance(pbx, Mapping):
        return {site: login for site, login in pbx.items()}
    return {None: pbx}


def ami_secret_env(site: str | None) -> str:
    return "INTAKE_AMI_SECRET" if site is None else f"INTAKE_AMI_SECRET_{site.upper()}"


def _redis_section(redis: str | RedisConfig) -> list[str]:
    """A plain Redis by URL (the e2e database in it), or Redis with Sentinel (the same database)."""
    if isinstance(redis, str):
        return ["[redis]", f'url = "{redis}/{E2E_REDIS_DB}"', 'key_prefix = "e2e:"']
    return ["[redis]", f"sentinels = {json.dumps(redis.sentinels)}", f'service = "{redis.service}"',
            f"database = {E2E_REDIS_DB}", 'key_prefix = "e2e:"']


def write_config(path: Path, pbx: Sites, redis: str | RedisConfig, http_port: int, *, wrapup_seconds: float = 0,
                 handlers: Mapping[str, tuple[str | None, list[str]]] = HANDLERS, node_id: str = "",
                 lease_seconds: float | None = None, overflow: Mapping[str, float] | None = None,
                 positions: dict[str, str] | None = None) -> None:
    """An intake.toml for the test bed; secrets by env: reference only. ``node_id``: this node's
    name in ``[cluster]``; ``lease_seconds``: the cluster on (one leader per site); ``overflow``:
    ``[routing.overflow]`` keys (e.g. clear_seconds) in place of the defaults; ``positions``:
    position id -> its phone (one PBX), for handlers given no member (hot-desking)."""
    sites = logins(pbx)
    parts = ['wrapup_reason = "wrap-up"']
    for site, login in sites.items():
        head = ["[ami]"] if site is None else ["[[pbx]]", f'name = "{site}"']
        parts += [*head, 'host = "127.0.0.1"', f"port = {login.ami_port}", f'username = "{login.ami_user}"',
                  *(t.format(secret=ami_secret_env(site)) for t in AMI_TUNING)]
    parts += [*_redis_section(redis), "[http]", 'host = "127.0.0.1"', f"port = {http_port}"]
    for site in sites:
        on_site = [] if site is None else [f'site = "{site}"']
        parts += ["[[lines]]", 'name = "999"', *on_site, "target_seconds = 12", 'queues = ["emergency"]',
                  f"wrapup_seconds = {wrapup_seconds}",
                  "[[lines]]", 'name = "101"', *on_site, "target_seconds = 60", 'queues = ["non-emergency"]',
                  f"wrapup_seconds = {wrapup_seconds}"]
    for hid, (site, at_site) in site_handlers(pbx, handlers).items():
        member, queues = handlers[at_site]
        on_site = [] if site is None else [f'site = "{site}"']
        fixed = [] if member is None else [f'member = "{member}"']
        parts += ["[[handlers]]", f'id = "{hid}"', *on_site, f'name = "Handler {hid}"', *fixed,
                  f"queues = {json.dumps(queues)}", f'token = "env:INTAKE_TOKEN_{hid.upper()}"']
    for position, member in (positions or {}).items():
        parts += ["[[positions]]", f'id = "{position}"', f'label = "Desk {position}"', f'member = "{member}"']
    parts += ["[[supervisors]]", 'id = "sup1"', 'token = "env:INTAKE_TOKEN_SUP1"', "[dev]", "test_bed = true"]
    if node_id or lease_seconds is not None:
        parts += ["[cluster]", f'node_id = "{node_id}"']
        if lease_seconds is not None:
            parts += ["enabled = true", f"lease_seconds = {lease_seconds}"]
    if overflow:
        parts += ["[routing.overflow]", *(f"{key} = {value}" for key, value in overflow.items())]
    path.write_text("\n".join(parts) + "\n")


def flush_e2e_db(redis_url: str) -> None:
    client = redis.Redis.from_url(f"{redis_url}/{E2E_REDIS_DB}")
    try:
        client.flushdb()
    finally:
        client.close()


@dataclass
class IntakeProcess:
    """`python -m intake.app.cli serve --config ...` in its own process; JSON log lines in ``log_path``."""

    config: Path
    log_path: Path
    http_port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 20) -> IntakeProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "intake.app.cli", "serve", "--config", str(self.config)],
                                            cwd=REPO, stderr=log, stdout=log, env={**os.environ, **self.env})
        self.started_at = time.monotonic()
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float = 20) -> dict[str, Any]:
        timeout = patience(timeout)  # a net for a hung start, stretched for a busy machine
        deadline = time.monotonic() + timeout
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"intake serve exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                health = httpx.get(self.base + "/healthz", timeout=2).json()
                if health.get("ok"):
                    return health
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"intake not healthy within {timeout} s: {health}\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        end(self.process, sig)
        self.process = None

    def log_tail(self, n: int = 40) -> str:
        return tail(self.log_path, n)

    def log_records(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    # --- REST --------------------------------------------------------------------------------

    def get(self, path: str, token: str = SUPERVISOR_TOKEN) -> Any:
        r = httpx.get(self.base + path, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        r.raise_for_status()
        return r.json()

    def set_state(self, handler_id: str, state: str, reason: str = "") -> Any:
        r = httpx.post(self.base + "/api/me/state", headers={"Authorization": f"Bearer {token_of(handler_id)}"},
                       json={"state": state, "reason": reason}, timeout=10)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def queues(self, site: str | None = None) -> dict[str, Any]:
        """Figures per queue: of every site, or of one ``[[pbx]]`` site."""
        report = self.get("/api/queues")
        return (report if site is None else report["sites"][site])["queues"]  # type: ignore[no-any-return]

    def calls(self) -> list[dict[str, Any]]:
        return self.get("/api/calls")["calls"]  # type: ignore[no-any-return]

    def handlers(self) -> dict[str, dict[str, Any]]:
        return {h["member"]: h for h in self.get("/api/handlers")["handlers"]}

    def states(self) -> dict[str, str]:
        """handler id -> its state (every site's handlers: a member may be on two sites)."""
        return {h["handler_id"]: h["state"] for h in self.get("/api/handlers")["handlers"] if h["handler_id"]}

    def health(self) -> dict[str, Any]:
        """What the node says of itself on /healthz (its PBX links, Redis, leaders)."""
        return httpx.get(self.base + "/healthz", timeout=5).json()  # type: ignore[no-any-return]

    def leadership(self, site: str = "default") -> dict[str, Any]:
        """Who leads ``site`` and this node's role in it, as the node says on /healthz."""
        return self.health()["leaders"][site]  # type: ignore[no-any-return]

    def metric(self, sample: str) -> float:
        """One sample of /metrics by its exposition name and labels, e.g. 'intake_history_watched'."""
        r = httpx.get(self.base + "/metrics", timeout=5)
        r.raise_for_status()
        for line in r.text.splitlines():
            name, _, value = line.rpartition(" ")
            if name == sample:
                return float(value)
        raise AssertionError(f"no sample {sample} in /metrics")


def signing_in_at(intake: IntakeProcess, provider: OidcProvider) -> None:
    """Add ``[oidc]`` naming the test provider to ``intake``'s config (written, not yet started)."""
    with intake.config.open("a") as config:
        config.write(f'\n[oidc]\nissuer = "{provider.issuer}"\nclient_id = "{CLIENT_ID}"\n'
                     f'client_secret = "env:INTAKE_OIDC_SECRET"\naudience = "{AUDIENCE}"\n'
                     'scopes = ["openid", "profile", "roles"]\n')
    intake.env["INTAKE_OIDC_SECRET"] = CLIENT_SECRET


async def provider_sign_in(page: Any, provider: OidcProvider, login: str, back_to: str) -> None:
    """On a page showing intake's "Sign in with your force account": through the provider's own
    login page as ``login``, back at ``back_to`` (a URL of intake's)."""
    await page.click("#sso:not(.hidden)", timeout=patience_ms(5000))
    await page.wait_for_url(f"{provider.issuer}/**", timeout=patience_ms(10000))
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", "any password")
    await page.click("button[type=submit]")
    await page.wait_for_url(back_to, timeout=patience_ms(10000))


def intake_process(tmp: Path, pbx: Sites, redis: str | RedisConfig, **config: Any) -> IntakeProcess:
    http_port = free_port()
    path = tmp / "intake.toml"
    write_config(path, pbx, redis, http_port, **config)
    env = {ami_secret_env(site): login.ami_secret for site, login in logins(pbx).items()}
    env["INTAKE_TOKEN_SUP1"] = SUPERVISOR_TOKEN
    env.update({f"INTAKE_TOKEN_{hid.upper()}": token_of(hid) for hid in site_handlers(pbx, config.get("handlers", HANDLERS))})
    return IntakeProcess(path, tmp / "intake.log", http_port, env)


def intake_cli(intake: IntakeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """``intake ARGS --config`` (e.g. ``audit verify``) run against ``intake``'s config, as an operator would."""
    return subprocess.run([sys.executable, "-m", "intake.app.cli", *args, "--config", str(intake.config)],
                          capture_output=True, text=True, timeout=60)


async def ready_then_burst(nodes: Sequence[IntakeProcess], runs: list[SippRun], *, calls_999: int, calls_101: int,
                          hangup_999: float, waiting: int) -> None:
    """Every handler says Ready on ``nodes[0]`` and every node shows them ready; then a burst of
    SIPp callers at once: ``calls_999`` on 999 (hanging up ``hangup_999`` s after the PBX answered
    them, by a handler or not: some abandon), then ``calls_101`` on 101 (talking 1.5 s once a
    handler answers), each run added to ``runs`` (the caller stops them); returns once
    ``nodes[0]`` shows at least ``waiting`` calls waiting together."""
    for hid in HANDLERS:
        nodes[0].set_state(hid, "ready")
    await wait_until(lambda: all(h["state"] == "ready" for node in nodes for h in node.handlers().values()), 5, "all ready")
    runs.append(sipp_dial("999", callers=[f"caller-{n}" for n in range(1, calls_999 + 1)], calls=calls_999,
                          rate_per_s=100, hangup_after=hangup_999))
    runs.append(sipp_dial("101", callers=[f"caller-{n}" for n in range(calls_999 + 1, calls_999 + calls_101 + 1)],
                          calls=calls_101, rate_per_s=100, hangup_after=1.5))
    await wait_until(lambda: sum(q["waiting"] for q in nodes[0].queues().values()) >= waiting, 10, "calls waiting together")


def ready(intake: IntakeProcess, member: str) -> bool:
    """Whether intake shows the handler at ``member`` ready."""
    return intake.handlers()[member]["state"] == "ready"


async def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll ``check`` (sync, may do blocking I/O: run in a thread) until it returns something truthy."""
    return await eventually(check, timeout, what, every, in_thread=True)


@dataclass
class Desktop:
    """One handler's desktop: a real WebSocket, every message kept with its arrival time."""

    handler_id: str
    ws: Any
    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, intake: IntakeProcess, handler_id: str, last_seq: int | None = None) -> Desktop:
        return await cls.connect(intake.http_port, handler_id, last_seq)

    @classmethod
    async def connect(cls, http_port: int, handler_id: str, last_seq: int | None = None) -> Desktop:
        """The desktop on whatever answers at ``http_port``: a node, or the load balancer;
        ``last_seq``: the last message it had, to resume from."""
        resume = "" if last_seq is None else f"?last_seq={last_seq}"
        ws = await signed_in(f"ws://127.0.0.1:{http_port}/ws/desktop{resume}", token_of(handler_id))
        desk = cls(handler_id, ws)
        desk._task = asyncio.create_task(desk._read())
        return desk

    @property
    def last_seq(self) -> int | None:
        """The stream position of the newest message this socket was sent (None: none yet)."""
        return max((m["seq"] for _, m in self.messages if m.get("seq")), default=None)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if message.get("type") == "ping":
                    await self.ws.send(json.dumps({"type": "pong"}))
                async with self._changed:
                    self.messages.append((time.monotonic(), message))
                    self._changed.notify_all()
        except websockets.ConnectionClosed:
            pass

    async def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float, what: str = "") -> tuple[float, dict[str, Any]]:
        async def found() -> tuple[float, dict[str, Any]]:
            async with self._changed:
                while True:
                    for at, m in self.messages:
                        if match(m):
                            return at, m
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(found(), timeout)
        except TimeoutError:
            seen = [m.get("type") for _, m in self.messages]
            raise AssertionError(f"{self.handler_id}: no {what or 'matching message'} within {timeout} s; saw {seen}") from None

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def closed(self) -> None:
        """Returns once the server's end of the socket is gone (its node stopped or was killed)."""
        assert self._task is not None
        await asyncio.shield(self._task)

    async def wait_closed(self, timeout: float) -> None:
        """:meth:`closed`, or an error after ``timeout``."""
        try:
            await asyncio.wait_for(self.closed(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.handler_id}: the desktop's socket still open after {timeout} s") from None

    async def close(self) -> None:
        await self.ws.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


async def desk_state(desk: Any, state: str, timeout: float = 3000) -> None:
    """Wait until a desktop page (Playwright) shows the handler in ``state``."""
    await desk.wait_for_function("s => document.querySelector('#state').dataset.state === s", arg=state, timeout=timeout)


async def put_away(phone: HandlerPhone, *contexts: Any) -> None:
    """After a browser test: its browser contexts (Playwright) closed, its handler's phone stopped."""
    for context in contexts:
        await context.close()
    await asyncio.to_thread(phone.stop)


async def ringing_pop(desk: Any, timeout: float = 15000) -> dict[str, str]:
    """Wait until a desktop page (Playwright) shows a ringing call's pop: its number, line, call id."""
    shown = await desk.wait_for_function("""() => {
        const q = (s) => document.querySelector(s);
        return !q('#pop').classList.contains('hidden') && q('#pop-phase').textContent === 'Ringing' && {
            number: q('#pop-number').textContent, line: q('#pop-line').textContent, call_id: q('#pop').dataset.callId};
    }""", timeout=patience_ms(timeout))
    return await shown.json_value()  # type: ignore[no-any-return]


# --- the PBX's own record -----------------------------------------------------------------------


async def member_status(ami: RawAmi, member: str) -> dict[str, Frame]:
    """The PBX's own view of a member: queue -> its QueueMember frame (QueueStatus)."""
    start = len(ami.frames)
    action_id = await ami.send("QueueStatus")
    await ami.wait_for(lambda f: f.get("Event") == "QueueStatusComplete" and f.get("ActionID") == action_id, 5, start)
    return {f["Queue"]: f for f in ami.frames[start:]
            if f.get("Event") == "QueueMember" and f.get("ActionID") == action_id and f.get("Location") == member}


async def member_shows(ami: RawAmi, member: str, queues: tuple[str, ...], paused: str | None, reason: str = "") -> dict[str, Frame]:
    """Assert the member is in ``queues`` with Paused == ``paused`` (and that PausedReason), or,
    with ``paused`` None, in none. Retries briefly: QueueStatus may be read between two actions."""
    deadline = time.monotonic() + 3
    while True:
        status = await member_status(ami, member)
        if paused is None:
            ok = status == {}
        else:
            ok = set(status) == set(queues) and all(
                s["Paused"] == paused and (paused == "0" or s.get("PausedReason") == reason) for s in status.values())
        if ok or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    seen = {q: (s.get("Paused"), s.get("PausedReason")) for q, s in status.items()}
    assert ok, f"PBX state of {member}: {seen}, wanted paused={paused} reason={reason!r}"
    return status



@dataclass
class QueueLogWindow:
    """queue_log lines appended since :meth:`mark` (the file only grows during a test session)."""

    pbx: PbxTestbed
    offset: int = 0

    def mark(self) -> QueueLogWindow:
        self.offset = self.pbx.queue_log.stat().st_size if self.pbx.queue_log.exists() else 0
        return self

    def rows(self) -> list[list[str]]:
        with self.pbx.queue_log.open("rb") as f:
            f.seek(self.offset)
            text = f.read().decode(errors="replace")
        return [line.split("|") for line in text.splitlines() if line.count("|") >= 4]

    def counts(self) -> dict[str, dict[str, int]]:
        """Per queue: offered (ENTERQUEUE), answered (CONNECT), abandoned (ABANDON), and the
        other ways out of a queue (EXITWITHTIMEOUT, EXITEMPTY, EXITWITHKEY)."""
        out: dict[str, dict[str, int]] = {}
        names = {"ENTERQUEUE": "offered", "CONNECT": "answered", "ABANDON": "abandoned",
                 "EXITWITHTIMEOUT": "left_other", "EXITEMPTY": "left_other", "EXITWITHKEY": "left_other"}
        for row in self.rows():
            name = names.get(row[4])
            if name:
                q = out.setdefault(row[2], {"offered": 0, "answered": 0, "abandoned": 0, "left_other": 0})
                q[name] += 1
        return out

    def holdtimes(self) -> dict[str, int]:
        """call id -> CONNECT holdtime (whole seconds)."""
        return {row[1]: int(row[5]) for row in self.rows() if row[4] == "CONNECT"}

    def events_of(self, call_id: str) -> list[str]:
        return [row[4] for row in self.rows() if row[1] == call_id]


def intake_counts(queues: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {q: {k: fig[k] for k in ("offered", "answered", "abandoned", "left_other")} for q, fig in queues.items()}


def journal_rows(redis_url: str, site: str | None = None) -> list[dict[str, Any]]:
    """Every record intake journalled (one per settled call; a call twice would be a bug); of one
    ``[[pbx]]`` site when given."""
    client = redis.Redis.from_url(f"{redis_url}/{E2E_REDIS_DB}")
    keys = "e2e:journal:*" if site is None else f"e2e:site:{site}:journal:*"
    try:
        return [json.loads(raw) for key in client.scan_iter(keys) for raw in client.zrange(key, 0, -1)]
    finally:
        client.close()


def journal(redis_url: str, site: str | None = None) -> dict[str, dict[str, Any]]:
    """Every settled call intake journalled: call id -> record."""
    return {r["call_id"]: r for r in journal_rows(redis_url, site)}


def assert_agrees_with_queue_log(intake: IntakeProcess, window: QueueLogWindow, redis_url: str,
                                 site: str | None = None) -> dict[str, dict[str, int]]:
    """intake's counts per queue = queue_log's; each answer time within 1 s of CONNECT's holdtime.

    queue_log's holdtime is time(NULL) at connect minus time(NULL) at entry (whole seconds, both
    truncated), so it differs from the exact wait by less than 1 s either way.
    """
    logged = window.counts()
    figures = intake_counts(intake.queues(site))
    assert figures == {q: logged.get(q, {"offered": 0, "answered": 0, "abandoned": 0, "left_other": 0}) for q in figures}, \
        (figures, logged)
    records = journal(redis_url, site)
    holdtimes = window.holdtimes()
    answered = {cid for cid, r in records.items() if r["settled"] == "answered"}
    assert answered == set(holdtimes), (answered ^ set(holdtimes))
    off = {cid: (records[cid]["waited_seconds"], held) for cid, held in holdtimes.items()
           if abs(records[cid]["waited_seconds"] - held) > 1.0}
    assert not off, off
    return logged
