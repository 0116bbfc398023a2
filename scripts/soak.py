#!/usr/bin/env python3
"""A soak with faults: the PBX simulator at busy-hour load against a real ``intake serve`` and a real
redis-server, with faults on a schedule; then intake's call journal is judged against the PBX's
queue_log call by call, and intake's RSS and responsiveness first quarter against last. One JSON
object on stdout (``--table``: a summary on stderr too).

    python3 scripts/soak.py [--minutes 2] [--seed 7] [--scale 10] [--table]

Load: config/busy-hour.toml's peak arrival rates and staffing, run ``--scale`` times faster on a
real-time PBX clock (arrivals x scale; talk, wrap-up and patience / scale; phones still ring for
the profile's real ring time). The PBX clock stays the wall clock on purpose: intake checks event
timestamps against its own clock, and queue_log's whole seconds are the referee.

Faults (each logged with its time in the JSON; all loopback, all bounded):
  slow_redis       CLIENT PAUSE ALL for 500 ms
  redis_kill       redis-server killed -9, restarted 3 s later (append-only file, fsync always)
  pbx_restart      the simulator stopped as by ``core stop now`` (every call hung up: queue_log
                   ABANDON for a waiting caller, COMPLETECALLER for one talking, the events sent,
                   then Shutdown), started again 2 s later on the same port and queue_log
  intake_kill      intake serve killed -9, restarted 2 s later
  stalled_desktop  a handler's second desktop that never reads after its handshake: intake must
                   let it go (heartbeat silence) while the other desktops go on
The first and last quarter of the run carry no fault but the stalled desktop (the baseline and
the steady state after the faults); intake is killed only in fault cycles that start in the first
half, so the process of the last quarter has lived through at least half the run (or, in a short
run, is the one started after the only kill). The run ends by stopping the PBX (every call
ended), waiting for intake to have no call in progress, and stopping intake (SIGTERM) so that
its write-behind empties; then Redis's journal is read. Nothing waits longer than its deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
for path in (str(REPO), str(SCRIPTS)):
    if path not in sys.path:
        sys.path.insert(0, path)

import httpx
from bench import percentile
from soak_judge import Outage, judge
from soak_parts import (
    AMI_SECRET_ENV,
    SUPERVISOR_ENV,
    SUPERVISOR_TOKEN,
    Desktop,
    Intake,
    RedisServer,
    Samples,
    Simulator,
    SoakError,
    StalledDesktop,
    free_port,
    token_of,
    until,
)

from routing.scenario import profile as profiles
from routing.scenario.profile import Distribution, Profile
from screenpop.auth import token_digest
from screenpop.session import SessionConfig
from telephony.simulator.queue_log import QueueLog

PREFIX = "soak:"
QUEUES = {"999": "emergency", "101": "non-emergency"}
CYCLE_SECONDS = 80.0  # one round of every fault
# (offset in a cycle, fault): an intake kill comes last, after the stalled desktop's verdict.
CYCLE = ((2.0, "slow_redis"), (10.0, "redis_kill"), (25.0, "slow_redis"), (35.0, "pbx_restart"), (50.0, "slow_redis"),
         (72.0, "intake_kill"))
REDIS_DOWN, PBX_DOWN, INTAKE_DOWN, PAUSE_MS = 3.0, 2.0, 2.0, 500
RECOVERY_DEADLINE = 30.0
# A stalled desktop is let go after heartbeat silence: last heard + silence, found at the next beat.
_SESSION = SessionConfig()
# Then the WebSocket's closing handshake waits up to 10 s for the desktop's reply before the TCP
# connection goes (what the kernel's table shows).
STALL_DEADLINE = _SESSION.silence_seconds + _SESSION.heartbeat_seconds + 10.0 + 15.0
# Flat: the last quarter's median RSS at most this times the first's; the last quarter's median
# response time at most this times the first's, or under the floor (on a busy two-core machine a
# request on loopback takes 5-30 ms when other work holds the cores; a ratio of two such figures
# says nothing, while a loop that lags 50 ms at the median is a regression anyone would feel).
# The p99 of a quarter is some sixty samples' worst, the machine's scheduler as much as intake:
# reported, not judged.
RSS_GROWTH_LIMIT, LAG_GROWTH_LIMIT, LAG_FLOOR_S = 1.5, 3.0, 0.050


@dataclass(frozen=True, slots=True)
class Fault:
    at: float  # seconds into the run
    kind: str


def schedule(seconds: float) -> list[Fault]:
    """Fault cycles over the middle half of the run, squeezed into it if one cycle does not fit."""
    start, end = seconds / 4, seconds * 3 / 4
    squeeze = min(1.0, (end - start) / CYCLE_SECONDS)
    faults = [Fault(5.0, "stalled_desktop")]
    cycles = max(1, math.floor((end - start) / CYCLE_SECONDS))
    for n in range(cycles):
        at = start + n * CYCLE_SECONDS * squeeze
        if n:  # another desktop stalls each cycle (the cycle's intake kill waits for its verdict)
            faults.append(Fault(at, "stalled_desktop"))
        for offset, kind in CYCLE:
            if kind == "intake_kill" and n and at >= seconds / 2:
                continue
            faults.append(Fault(at + offset * squeeze, kind))
    return sorted(faults, key=lambda f: f.at)


# --- load: the busy hour, faster --------------------------------------------------------------------


def mean_of(d: Distribution) -> float:
    if d.distribution == "lognormal":
        return float(d.median) * math.exp(float(d.sigma) ** 2 / 2)
    if d.distribution == "uniform":
        return (float(d.low) + float(d.high)) / 2
    return float(d.seconds if d.distribution == "fixed" else d.mean)


def spread(d: Distribution, scale: float) -> list[float]:
    """The simulator draws ring, talk and wrap-up times uniformly: the profile's own range, or
    one around the distribution's mean (half to one and a half times it)."""
    if d.distribution == "uniform":
        return [float(d.low) / scale, float(d.high) / scale]
    m = mean_of(d) / scale
    return [round(m / 2, 3), round(m * 3 / 2, 3)]


def busy_hour_setup(profile: Profile, scale: float) -> dict[str, Any]:
    """The simulator's --setup: the profile's staffing and its peak interval, ``scale`` times faster."""
    ids = iter(range(1, 10_000))
    handlers = [{"interface": f"PJSIP/handler-{n}", "name": f"h{n}", "queues": queues}
                for count, queues in ((profile.handlers.only_999, ["emergency"]), (profile.handlers.only_101, ["non-emergency"]),
                                      (profile.handlers.both, ["emergency", "non-emergency"]))
                for n in (next(ids) for _ in range(count))]
    # The simulator has one set of durations for both queues: the 999 line's, the busier.
    e = profile.lines["999"]
    patience = e.patience_seconds
    ring = profile.ring_seconds
    traffic = {
        "arrivals_per_second": [[QUEUES[line], max(profile.lines[line].arrivals_per_hour) * scale / 3600] for line in QUEUES],
        "patience_median": (patience.median or mean_of(patience)) / scale, "patience_sigma": patience.sigma or 0.8,
        "answer_delay": spread(ring, 1.0), "talk_time": spread(e.talk_seconds, scale),
        "wrap_up": spread(e.wrapup_seconds, scale), "caller_pool": 500,
    }
    return {"handlers": handlers, "traffic": traffic}


def intake_toml(ami_port: int, redis_url: str, http_port: int, handlers: list[dict[str, Any]]) -> str:
    """intake's own config for the run. Wrap-up is the simulated handlers' own (they pause
    themselves) and a ring-out does not pause a handler: both need a person at the desktop to
    press Ready, and nobody presses it in a soak."""
    parts = [
        'wrapup_reason = "wrap-up"',
        "[ami]", 'host = "127.0.0.1"', f"port = {ami_port}", 'username = "intake"', f'secret = "env:{AMI_SECRET_ENV}"',
        "ping_interval = 1.0", "ping_timeout = 2.0", "action_timeout = 3.0", "reconnect_initial = 0.2", "reconnect_max = 1.0",
        "[redis]", f'url = "{redis_url}"', f'key_prefix = "{PREFIX}"',
        "[http]", 'host = "127.0.0.1"', f"port = {http_port}",
        "[routing]", "enabled = true", "pause_after_ring_no_answer = 0",
    ]
    for line, queue in QUEUES.items():
        parts += ["[[lines]]", f'name = "{line}"', f"target_seconds = {12 if line == '999' else 60}", f'queues = ["{queue}"]', "wrapup_seconds = 0"]
    for h in handlers:
        parts += ["[[handlers]]", f'id = "{h["name"]}"', f'name = "Handler {h["name"]}"', f'member = "{h["interface"]}"',
                  f"queues = {json.dumps(h['queues'])}", f'token_sha256 = "{token_digest(token_of(h["name"]))}"']
    parts += ["[[supervisors]]", 'id = "soak"', f'token = "env:{SUPERVISOR_ENV}"', "[dev]", "test_bed = true"]
    return "\n".join(parts) + "\n"


# --- the run ----------------------------------------------------------------------------------------


class Soak:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.seconds = args.minutes * 60
        profile = profiles.load(args.profile)
        self.setup = busy_hour_setup(profile, args.scale)
        (work / "setup.json").write_text(json.dumps(self.setup))
        self.redis = RedisServer(args.redis_port or free_port(), work)
        self.sim = Simulator(args.ami_port or free_port(), work / "setup.json", work / "queue_log", work / "simulator.log", args.seed)
        http_port = args.http_port or free_port()
        (work / "intake.toml").write_text(intake_toml(self.sim.port, self.redis.url, http_port, self.setup["handlers"]))
        self.intake = Intake(work / "intake.toml", work / "intake.log", http_port)
        self.samples = Samples()
        self.desktops = [Desktop(f"ws://127.0.0.1:{http_port}/ws/desktop", token_of(h["name"])) for h in self.setup["handlers"]]
        self.faults: list[dict[str, Any]] = []
        self.outages: list[Outage] = []
        self.stalls: list[asyncio.Task[dict[str, Any]]] = []
        self.t0 = 0.0

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 2)

    async def run(self) -> dict[str, Any]:
        load_before = os.getloadavg()
        async with httpx.AsyncClient() as http:
            self.http = http
            await self.redis.start()
            pbx_up = time.time()
            await self.sim.start()
            await self.intake.start()
            self.t0 = time.monotonic()
            # Calls reach the PBX before intake first looks: for them intake starts mid-day.
            self.outages.append(Outage(pbx_up, await self.intake.healthy(http, RECOVERY_DEADLINE)))
            background = [asyncio.create_task(self.samples.run(self.intake, http, self.t0))]
            background += [asyncio.create_task(d.run()) for d in self.desktops]
            try:
                for fault in schedule(self.seconds):
                    await asyncio.sleep(max(0.0, self.t0 + fault.at - time.monotonic()))  # the schedule, not a proof
                    await self.inject(fault)
                await asyncio.sleep(max(0.0, self.t0 + self.seconds - time.monotonic()))
                stalls = [await s for s in self.stalls]
                ended = await self.end()
            finally:
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
                await self.intake.kill()
                await self.sim.stop()
            records, callbacks = await self.redis.journal(PREFIX), await self.redis.callback_ids(PREFIX)
            await self.redis.kill()
        verdict = judge(QueueLog.read(self.sim.queue_log), records, self.outages, callbacks)
        return self.report(verdict, stalls, ended, load_before)

    async def inject(self, fault: Fault) -> None:
        entry: dict[str, Any] = {"kind": fault.kind, "scheduled_s": round(fault.at, 2), "at_s": self.now(), "epoch": round(time.time(), 3)}
        self.faults.append(entry)
        started = time.monotonic()
        try:
            if fault.kind == "stalled_desktop":
                stalled = StalledDesktop(self.intake.http_port, token_of(self.setup["handlers"][0]["name"]))
                self.stalls.append(asyncio.create_task(self.watch_stall(stalled, entry)))
                return
            if fault.kind == "slow_redis":
                await self.redis.pause(PAUSE_MS)
            elif fault.kind == "redis_kill":
                await self.redis.kill()
                await asyncio.sleep(REDIS_DOWN)  # how long the outage lasts: the fault itself
                await self.redis.start()
            elif fault.kind == "pbx_restart":
                await self.sim.stop()
                await asyncio.sleep(PBX_DOWN)
                await self.sim.start()
            elif fault.kind == "intake_kill":
                await asyncio.gather(*self.stalls)  # its verdict first: a kill closes every socket
                started, killed = time.monotonic(), time.time()
                entry["at_s"], entry["epoch"] = self.now(), round(killed, 3)
                await self.intake.kill()
                await asyncio.sleep(INTAKE_DOWN)
                await self.intake.start()
            healthy = await self.intake.healthy(self.http, RECOVERY_DEADLINE)
            if fault.kind == "intake_kill":
                self.outages.append(Outage(killed, healthy))
                entry["outage_s"] = round(healthy - killed, 2)
            entry["recovered"], entry["recovered_in_s"] = True, round(time.monotonic() - started, 2)
        except SoakError as exc:
            entry["recovered"], entry["error"] = False, str(exc)
            if fault.kind == "intake_kill":  # never healthy again: blind from the kill on
                self.outages.append(Outage(killed, math.inf))

    async def watch_stall(self, stalled: StalledDesktop, entry: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()

        async def dropped() -> bool:
            return stalled.tcp_state() != "ESTABLISHED"

        try:
            await until(dropped, STALL_DEADLINE, "intake letting the stalled desktop go", every=0.5)
            entry["dropped_after_s"] = round(time.monotonic() - started, 1)
            entry["recovered"] = True
        except SoakError as exc:
            entry["recovered"], entry["error"] = False, str(exc)
        finally:
            stalled.close()
        return entry

    async def end(self) -> dict[str, Any]:
        """Stop the PBX (every call ends, on the wire and in queue_log), wait for intake to settle
        them all, then stop intake so that its write-behind empties into Redis."""
        await self.sim.stop()

        async def settled() -> bool:
            r = await self.http.get(self.intake.base + "/api/calls", headers={"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}, timeout=5)
            return r.status_code == 200 and not r.json()["calls"]

        out: dict[str, Any] = {}
        try:
            await until(settled, RECOVERY_DEADLINE, "intake with no call in progress after the PBX stopped", every=0.2)
            out["settled"] = True
        except SoakError as exc:
            out["settled"], out["error"] = False, str(exc)
        crashed = self.intake.proc is not None and self.intake.proc.returncode is not None
        await self.intake.kill(15)  # SIGTERM: a clean stop writes what is queued
        out["intake_exit"] = self.intake.proc.returncode if self.intake.proc else None
        out["crashed_before_end"] = crashed
        return out

    def report(self, verdict: dict[str, Any], stalls: list[dict[str, Any]], ended: dict[str, Any],
               load_before: tuple[float, float, float]) -> dict[str, Any]:
        q = self.seconds / 4
        load = self.samples.machine_load
        rss = quarters(self.samples.rss, q)
        lag = quarters(self.samples.lag, q)
        rss_ratio = ratio(rss["last"]["p50"], rss["first"]["p50"])
        lag_ratios = {k: ratio(lag["last"][k], lag["first"][k]) for k in ("p50", "p99")}
        last_p50 = lag["last"]["p50"]
        lag_flat = last_p50 is not None and (last_p50 <= LAG_FLOOR_S or (lag_ratios["p50"] or math.inf) <= LAG_GROWTH_LIMIT)
        invariants = dict(verdict["invariants"])
        invariants["recovered_after_every_fault"] = {"held": all(f.get("recovered") for f in self.faults),
                                                     "failed": [f for f in self.faults if not f.get("recovered")]}
        invariants["stalled_desktop_let_go"] = {"held": bool(stalls) and all(s.get("recovered") for s in stalls),
                                                "deadline_s": STALL_DEADLINE, "dropped_after_s": [s.get("dropped_after_s") for s in stalls]}
        invariants["intake_never_exited_by_itself"] = {"held": not ended["crashed_before_end"] and ended["settled"], **ended}
        invariants["rss_flat"] = {"held": rss_ratio is not None and rss_ratio <= RSS_GROWTH_LIMIT, "ratio_last_to_first": rss_ratio,
                                  "limit": RSS_GROWTH_LIMIT}
        invariants["loop_lag_flat"] = {"held": lag_flat, "ratios_last_to_first": lag_ratios, "limit": LAG_GROWTH_LIMIT,
                                       "floor_ms": LAG_FLOOR_S * 1000}
        return {
            "command": " ".join(["python3", "scripts/soak.py", *sys.argv[1:]]),
            "settings": {"minutes": self.args.minutes, "seed": self.args.seed, "scale": self.args.scale,
                         "handlers": len(self.setup["handlers"]), "traffic": self.setup["traffic"]},
            "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
                        "load_1min_during": {"mean": round(sum(load) / max(1, len(load)), 2), "max": round(max(load, default=0.0), 2)},
                        "python": sys.version.split()[0]},
            "all_held": all(i["held"] for i in invariants.values()),
            "invariants": invariants,
            "counts": {**verdict["counts"], "pops_received": sum(d.pops for d in self.desktops),
                       "desktop_connects": sum(d.connects for d in self.desktops), "probe_failures": self.samples.probe_failures,
                       "simulator_starts": self.sim.starts, "intake_kills": sum(f["kind"] == "intake_kill" for f in self.faults)},
            "faults": self.faults,
            "intake_log": self.intake.log_summary(),
            "rss_mib": scaled(rss, 1 / 2**20, 1),
            "response_ms": scaled(lag, 1000, 2),
            "work_dir": str(self.work) if self.args.keep else None,
        }


def quarters(samples: list[tuple[float, float]], quarter: float) -> dict[str, dict[str, float | None]]:
    def fig(values: list[float]) -> dict[str, float | None]:
        if not values:
            return {"p50": None, "p99": None, "max": None, "n": 0}
        return {"p50": percentile(values, 0.5), "p99": percentile(values, 0.99), "max": max(values), "n": len(values)}

    return {"first": fig([v for t, v in samples if t < quarter]), "last": fig([v for t, v in samples if t >= 3 * quarter])}


def scaled(figures: dict[str, dict[str, float | None]], factor: float, digits: int) -> dict[str, dict[str, float | None]]:
    """Quarters' figures in a unit for people; the sample count ``n`` as it is."""
    return {q: {k: v if k == "n" or v is None else round(v * factor, digits) for k, v in fig.items()} for q, fig in figures.items()}


def ratio(last: float | None, first: float | None) -> float | None:
    return None if last is None or not first else round(last / first, 3)


def table(result: dict[str, Any]) -> str:
    lines = [f"{'HELD   ' if v['held'] else 'BROKEN '} {k}" for k, v in result["invariants"].items()]
    lines.append(f"counts: {json.dumps(result['counts'])}")
    lines.append(f"RSS MiB first/last quarter: {result['rss_mib']['first']['p50']} / {result['rss_mib']['last']['p50']}; "
                 f"response ms p50 {result['response_ms']['first']['p50']} / {result['response_ms']['last']['p50']}, "
                 f"p99 {result['response_ms']['first']['p99']} / {result['response_ms']['last']['p99']}")
    lines += [f"  {f['at_s']:>7} s  {f['kind']:<16} {'ok' if f.get('recovered') else 'FAILED ' + f.get('error', '')}" for f in result["faults"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=2.0, help="length of the load (the end adds up to a minute)")
    p.add_argument("--seed", type=int, default=7, help="the simulator's traffic (restart n uses seed + n)")
    p.add_argument("--scale", type=float, default=10.0, help="the busy hour this many times faster")
    p.add_argument("--profile", default=str(REPO / "config" / "busy-hour.toml"))
    p.add_argument("--table", action="store_true", help="also print a summary to stderr")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, queue_log, configs)")
    for name in ("redis-port", "ami-port", "http-port"):
        p.add_argument(f"--{name}", type=int, default=0, help="0: a free port")
    args = p.parse_args(argv)
    if args.minutes <= 0 or args.minutes > 24 * 60:
        p.error("--minutes: between 0 and 1440")
    work = Path(tempfile.mkdtemp(prefix="intake-soak-"))
    try:
        result = asyncio.run(Soak(args, work).run())
    except SoakError as exc:  # the run could not go on: its logs are kept for the diagnosis
        print(json.dumps({"error": str(exc), "work_dir": str(work)}), flush=True)
        return 2
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if args.table:
        print(table(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
