"""``intake demo``: the whole server on one machine with nothing installed beyond the package.

A simulated PBX speaks real AMI on loopback and plays 999/101 traffic to four simulated
handlers; caller history lives in an in-process store seeded with a few warning markers, so the
first pops a newcomer sees already carry history. Tokens are made afresh on every run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets as token_source
import tempfile
import time
from pathlib import Path
from typing import Any

from intake.app import logs
from intake.app.demo_places import DemoLocationService, phone_location, sample_crimes
from intake.app.server import IntakeServer, make_redis
from intake.core.config import IntakeConfig, parse
from screenpop.incidents_csv import CrimeFile, read_crimes
from screenpop.models import Marker
from screenpop.web import redact_tokens_in_server_logs
from telephony.simulator import SimConfig, SimulatedPbx
from telephony.simulator.config import TrafficProfile

HANDLER_NAMES = {"h1": "Alice Hughes", "h2": "Ben Okafor", "h3": "Carys Jones", "h4": "Dev Patel"}
SEEDED_MARKERS = [
    ("07700900003", "firearms at address", "Shotgun certificate holder at this address"),
    ("07700900007", "vulnerable adult", "Lives alone; dementia; daughter is the contact"),
    ("07700900011", "repeat caller", "Calls most nights about neighbours; check welfare"),
    ("07700900019", "violence towards police", "Assaulted attending officers 2025"),
]


# Any: the [callback] section as TOML would give it, validated by the config parser
def demo_config(sim: SimConfig, ami_port: int, http_port: int, *, callback: dict[str, Any] | None = None,
                location_port: int | None = None) -> IntakeConfig:
    """``callback``: keys of ``[routing.callback]`` to set (the demo escalates sooner, tests take
    offers back sooner); ``location_port``: the demo's location service (demo_places)."""
    # Wrap-up runs on the wall clock: a few simulated seconds, so four handlers keep up.
    wrapup = round(max(0.5, 4.0 / sim.speed), 2)
    lines: dict[str, list[str]] = {}
    for q in sim.queues:
        lines.setdefault(q.line, []).append(q.name)
    raw: dict[str, Any] = {
        "ami": {"host": "127.0.0.1", "port": ami_port, "username": sim.username, "secret": "env:INTAKE_DEMO_AMI_SECRET",
                "ping_interval": 5, "ping_timeout": 3, "reconnect_initial": 0.2, "reconnect_max": 5,
                # Simulated time runs ``speed`` times faster than ours: its clock leaves ours by design.
                "max_clock_skew_seconds": 300 if sim.speed <= 1 else 366 * 86400},
        "redis": {"url": "embedded"},
        "http": {"host": "127.0.0.1", "port": http_port},
        "lines": [{"name": name, "target_seconds": 12 if name == "999" else 60, "queues": queues,
                   "wrapup_seconds": wrapup} for name, queues in lines.items()],
        "handlers": [{"id": h.name, "name": HANDLER_NAMES.get(h.name, h.name), "member": h.interface,
                      "queues": list(h.queues), "token": f"env:INTAKE_DEMO_TOKEN_{h.name.upper()}"} for h in sim.handlers],
        "supervisors": [{"id": "sup1", "name": "Demo supervisor", "token": "env:INTAKE_DEMO_TOKEN_SUP1"}],
        # The simulated handlers let a few calls ring out but never press Ready: paused for it,
        # they would stay out for good and the demo would run down to nobody answering.
        "routing": {"pause_after_ring_no_answer": 0, "callback": callback or {}},
        "dev": {"test_bed": True},  # the demo's people sign in with the tokens it prints
    }
    if location_port is not None:
        raw["location"] = {"service_url": f"http://127.0.0.1:{location_port}/locate/{{number}}"}
    return parse(raw, "<demo>")


async def seed_history(server: IntakeServer) -> None:
    now = time.time()
    markers = [Marker(id=f"demo-{i}", number=number, kind=kind, detail=detail, created_at=now - 86400 * (i + 1),  # type: ignore[arg-type]
                      created_by="sup1") for i, (number, kind, detail) in enumerate(SEEDED_MARKERS)]
    await server.history.add_markers(markers)


async def import_sample_crimes(server: IntakeServer, seed: int, numbers: list[str], folder: Path) -> tuple[Path, CrimeFile]:
    """Write the demo's street-level crime file (police.uk's layout, made here from the seed:
    nothing is downloaded) in ``folder`` and import it as ``intake incidents import`` would, into
    the demo's own store; the file is there while the demo runs, for a newcomer to read."""
    now = time.time()
    path = folder / "thames-valley-street.csv"
    path.write_text(sample_crimes(seed, now, numbers), encoding="utf-8", newline="")
    with path.open(encoding="utf-8", newline="") as text:
        crimes = read_crimes(text, now=now, keep_seconds=server.incidents.config.retention_seconds)
    if not crimes.ok:  # our own file: a problem here is a bug in demo_places, said as such
        raise RuntimeError(f"the demo's own crime file has problems: {'; '.join(map(str, crimes.problems[:5]))}")
    await server.incidents.put(crimes.incidents, now)
    return path, crimes


async def run_demo(*, port: int = 8080, json_line: bool = False, seed: int = 999, speed: float = 1.0,
                   callers: int = 40, rates: dict[str, float] | None = None, escalate_callbacks: float = 300.0,
                   log_level: str = "warning") -> None:
    logs.configure(log_level)
    redact_tokens_in_server_logs()
    # intake manages wrap-up (a timed pause after each call), so the simulated handlers leave
    # pausing to it. ``callers`` sizes the caller pool: a tiny pool makes numbers ring again soon.
    # ``rates`` (queue -> calls per simulated minute) replaces the default arrival rates: with a
    # queue at 0 a script places that queue's calls itself (the browser tests' call-backs do).
    traffic = TrafficProfile(handlers_pause_themselves=False, caller_pool=callers, caller_location=phone_location(seed))
    if rates:
        arrivals = {**dict(traffic.arrivals_per_second), **{q: per_minute / 60 for q, per_minute in rates.items()}}
        traffic = dataclasses.replace(traffic, arrivals_per_second=tuple(arrivals.items()))
    sim_config = SimConfig(seed=seed, speed=speed, secret=token_source.token_urlsafe(16), traffic=traffic)
    with tempfile.TemporaryDirectory(prefix="intake-demo-") as folder:
        await _run(sim_config, Path(folder), port=port, json_line=json_line, seed=seed,
                   escalate_callbacks=escalate_callbacks)


async def _run(sim_config: SimConfig, folder: Path, *, port: int, json_line: bool, seed: int,
               escalate_callbacks: float) -> None:
    service = DemoLocationService(seed)
    async with SimulatedPbx(sim_config) as sim:
        config = demo_config(sim_config, sim.port, port, callback={"escalate_seconds": escalate_callbacks},
                             location_port=await service.start())
        secrets = {"ami.secret": sim_config.secret}
        tokens = {h.id: token_source.token_urlsafe(18) for h in config.handlers}
        secrets.update({f"handlers[{i}].token": tokens[h.id] for i, h in enumerate(config.handlers)})
        supervisor_token = token_source.token_urlsafe(18)
        secrets["supervisors[0].token"] = supervisor_token
        server = IntakeServer(config, secrets, make_redis("embedded"))
        await seed_history(server)
        callers = [number for number, _ in sim.traffic.callers] if sim.traffic else []
        crimes = await import_sample_crimes(server, seed, callers, folder)
        ready, bound = asyncio.Event(), list[int]()
        run = asyncio.create_task(server.run(config.http.host, port, ready=ready, bound=bound))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait([run, waiter], return_when=asyncio.FIRST_COMPLETED)
        if run.done():
            waiter.cancel()
            await run  # raises why the server could not start (e.g. port in use)
            return
        base = f"http://127.0.0.1:{bound[0] if bound else port}"
        announce(base, config, tokens, supervisor_token, (sim.port, sim_config.username, sim_config.secret), json_line, crimes)
        try:
            await run
        finally:
            await service.close()


def announce(base: str, config: IntakeConfig, tokens: dict[str, str], supervisor_token: str,
             ami: tuple[int, str, str], json_line: bool, crimes: tuple[Path, CrimeFile]) -> None:
    ami_port, ami_username, ami_secret = ami
    if json_line:  # the simulator's AMI login too: tests check the PBX's own view through it
        print(json.dumps({"base_url": base, "ami_port": ami_port, "ami_username": ami_username, "ami_secret": ami_secret,
                          "handlers": tokens, "supervisors": {"sup1": supervisor_token},
                          "incidents": {"file": str(crimes[0]), "imported": len(crimes[1].incidents),
                                        "no_point": crimes[1].no_point}}), flush=True)
        return
    print(banner(base, config, tokens, supervisor_token, ami_port, crimes), flush=True)


def banner(base: str, config: IntakeConfig, tokens: dict[str, str], supervisor_token: str, ami_port: int,
           crimes: tuple[Path, CrimeFile]) -> str:
    """What a person starting the demo reads: where each page is, and who signs in with what."""
    def answers(queues: list[str]) -> str:
        return "answers " + " and ".join(line.name for line in config.lines if set(line.queues) & set(queues))

    people = [(f"{h.name} ({h.id}):", tokens[h.id], answers(h.queues)) for h in config.handlers]
    people += [(f"{s.name} ({s.id}):", supervisor_token, "supervisor: wallboard, reports, API") for s in config.supervisors]
    width = max(len(who) for who, _, _ in people)
    signins = "\n".join(f"  {who:<{width}} token {token}   {role}" for who, token, role in people)
    ws = base.replace("http", "ws", 1)
    return f"""intake demo: a simulated PBX (AMI on 127.0.0.1:{ami_port}) is playing 999 and 101 calls.

  Handler desktop  {base}/desktop     sign in with a handler's token
  Wallboard        {base}/wallboard   the supervisor's token
  Reports          {base}/reports     the supervisor's token
  API docs         {base}/docs        Authorize with any token below
  Prometheus       {base}/metrics
  Health           {base}/healthz

Callers are around Oxford (most phones send where they are with the call, the rest are found by
the demo's location service a moment later); the incidents near them on each pop come from a sample of
police.uk's street-level crime file the demo made and imported ({len(crimes[1].incidents)} crimes,
{crimes[1].no_point} with no map point skipped): {crimes[0]}

Sign in with (new tokens every run):
{signins}

  Live queues      curl -H 'Authorization: Bearer {supervisor_token}' {base}/api/queues
  Supervisor feed  {ws}/ws/supervisor   first message: {{"type": "auth", "token": "<supervisor token>"}}
  Desktop feed     {ws}/ws/desktop      first message: the same, with a handler's token

Press Ctrl-C to stop."""
