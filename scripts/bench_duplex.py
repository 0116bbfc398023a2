"""The benchmark's two-node phase (issue 13): the load of the single-node phase, served by two
intake nodes behind HAProxy running the shipped config/haproxy/intake.cfg, desktops spread
through it (leastconn); against a floor measured in the same layout (two bare relays behind the
same HAProxy, the same desktops through it). Then failover: one node is killed (kill -9) while
the load goes on; its desktops reconnect through HAProxy at once, with the last ``seq`` they saw,
as the desktop page does.

Figures: pop p50/p99 against the floor (the goal stays p99 <= 1.5x); the time from the kill to
each moved desktop's resumption (its new socket open and its first message read: the node it
landed on has taken it on); pops lost (a call that rang a handler during the failover and whose
pop reached none of the handler's desktops; the goal is 0); and the time from the leader's kill
to the next side effect (:func:`leader_phase`: two nodes with one leader for the site, a
wrap-up after each call; the leader killed -9 under load, timed to the first wrap-up action the
PBX receives from the other node).

Layout: as the single-node phases (bench.py), this process is the PBX and hosts every desktop
client; each node (``--role server``) and each relay (``--role relay``) is a child process of
its own; HAProxy is Debian's, run in the foreground (tests/support/haproxy.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import bench

from telephony.simulator.actions import Action
from telephony.simulator.server import Session
from tests.support.haproxy import NODES, Haproxy, ServerView

UP_WITHIN = 30.0  # seconds for HAProxy to see both nodes up: a net for a broken run, not a measurement
LEASE_SECONDS = 1.5  # the leader phase's lease, as the real-PBX duplex tests'
WRAPUP_SECONDS = 0.5  # a wrap-up after every call: the side effect timed after the leader's kill


class MovingDesktops(bench.Desktops):
    """Desktops that reconnect at once (to the same URL: the load balancer) when their socket
    is closed, resuming from the last ``seq`` they saw, and note when each came back."""

    def __init__(self) -> None:
        super().__init__()
        self.resumed: list[float] = []  # perf_counter: a moved desktop's first message on its new socket
        self.reconnect_failures = 0
        self._keep_moving = True
        self._last_seq: dict[Any, int] = {}  # socket -> the last seq it brought
        self._fresh: set[Any] = set()  # reconnected sockets that have said nothing yet

    async def received(self, ws: Any, message: dict[str, Any], at: float) -> None:
        if ws in self._fresh:
            self._fresh.discard(ws)
            self.resumed.append(at)
        self._last_seq[ws] = max(self._last_seq.get(ws, 0), int(message.get("seq") or 0))
        await super().received(ws, message, at)

    async def follow(self, url: str, ws: Any, token: str | None = None) -> None:
        while True:
            await self.read(ws)
            if not self._keep_moving:
                return
            last_seq = self._last_seq.pop(ws, 0)
            ws = None
            deadline = time.monotonic() + 30  # a net for a broken run, not a measurement
            while ws is None and self._keep_moving and time.monotonic() < deadline:
                ws = await self.open(f"{url}?last_seq={last_seq}", token)
                if ws is None:
                    await asyncio.sleep(0.05)
            if ws is None:
                self.reconnect_failures += self._keep_moving
                return
            self._last_seq[ws] = last_seq
            self._fresh.add(ws)
            self.sockets.append(ws)

    async def close(self, keep: int = 0) -> None:
        self._keep_moving = False
        await super().close(keep)


async def haproxy_in_front(workdir: Path, ports: list[int]) -> Haproxy:
    """HAProxy on the shipped config with ``ports`` as node1 and node2; returns once it has
    marked both up."""
    proxy = Haproxy(workdir, dict(zip(NODES, ports, strict=True)))
    proxy.start()
    deadline = time.monotonic() + UP_WITHIN
    while not all(s.up for s in (await asyncio.to_thread(proxy.servers)).values() or [ServerView("DOWN", 0)]):
        if time.monotonic() > deadline:
            proxy.stop()
            raise RuntimeError(f"HAProxy did not mark both nodes up:\n{proxy.log_tail()}")
        await asyncio.sleep(0.1)
    return proxy


async def floor_phase(sizes: bench.Sizes, loop: str) -> dict[str, Any]:
    """Two bare relays behind HAProxy: the floor of the two-node layout."""
    load = bench.Load(sizes)
    await load.ami.start()
    relays = [await bench.Child.start("--role", "relay", "--loop", loop, "--ami-port", str(load.ami.port)) for _ in NODES]
    desktops = bench.Desktops()
    with tempfile.TemporaryDirectory(prefix="intake-bench-lb-") as tmp:
        proxy = await haproxy_in_front(Path(tmp), [hello["port"] for _, hello in relays])
        try:
            await desktops.connect([f"ws://127.0.0.1:{proxy.port}/?member={quote(bench.member(i))}" for i in range(sizes.desktops)])
            await load.run(sizes.warmup, seed=1)
            desktops.written = load.ami.written = {}
            with bench.QuietInstrument():
                await load.run(sizes.seconds, seed=2)
            await asyncio.sleep(0.5)
            spread = await asyncio.to_thread(proxy.servers)
            return {**desktops.figures(), "desktops": len(desktops.sockets), "connect_failures": desktops.failed,
                    "desktops_per_node": {n: s.sessions for n, s in spread.items()}}
        finally:
            await desktops.close()
            proxy.stop()
            for relay, _ in relays:
                await relay.stop()
            await load.ami.stop()


async def nodes_phase(sizes: bench.Sizes, config_path: Path, tmp: Path, loop: str) -> dict[str, Any]:
    """Two intake nodes (one Redis) behind HAProxy: pop latency, then one node killed."""
    load = bench.Load(sizes)
    await load.ami.start()
    raw = json.loads(config_path.read_text())
    raw["ami"]["port"] = load.ami.port
    config_path.write_text(json.dumps(raw))
    nodes = [await bench.Child.start("--role", "server", "--loop", loop, "--config", str(config_path),
                                     "--log", str(tmp / f"{name}.log")) for name in NODES]
    desktops = MovingDesktops()
    proxy: Haproxy | None = None
    try:
        for node, _ in nodes:
            deadline = time.monotonic() + UP_WITHIN
            while not (await node.ask())["ami"]:
                if time.monotonic() > deadline:
                    raise RuntimeError("a node did not log in to the AMI generator")
                await asyncio.sleep(0.1)
        (tmp / "haproxy").mkdir()
        proxy = await haproxy_in_front(tmp / "haproxy", [hello["port"] for _, hello in nodes])
        await load.run(sizes.warmup, seed=1)
        await desktops.connect([f"ws://127.0.0.1:{proxy.port}/ws/desktop"] * sizes.desktops,
                               [bench.token(i) for i in range(sizes.desktops)])
        await asyncio.sleep(1.0)
        desktops.written = load.ami.written = {}
        desktops.decoded = {}
        with bench.QuietInstrument():
            await load.run(sizes.seconds, seed=2)
        await asyncio.sleep(0.5)
        latency = {**desktops.figures(), "desktops": len(desktops.sockets), "connect_failures": desktops.failed,
                   "desktops_per_node": {n: s.sessions for n, s in (await asyncio.to_thread(proxy.servers)).items()}}
        failover = await kill_one(sizes, load, desktops, proxy, nodes)
        return {"latency": latency, "failover": failover}
    finally:
        await desktops.close()
        if proxy is not None:
            proxy.stop()
        for node, _ in nodes:
            await node.stop()
        await load.ami.stop()


async def kill_one(sizes: bench.Sizes, load: bench.Load, desktops: MovingDesktops, proxy: Haproxy,
                   nodes: list[tuple[bench.Child, dict[str, Any]]]) -> dict[str, Any]:
    """Under load, kill -9 node1: how soon its desktops resume on node2, and which pops are lost."""
    before = await asyncio.to_thread(proxy.servers)
    moving = before[NODES[0]].sessions
    desktops.written = load.ami.written = {}
    desktops.latency, desktops.decoded, desktops.resumed = {}, {}, []
    running = asyncio.create_task(load.run(sizes.seconds, seed=3))
    await asyncio.sleep(sizes.seconds / 3)
    killed_at = time.perf_counter()
    nodes[0][0].proc.kill()
    await nodes[0][0].proc.wait()
    placed = await running
    grace = time.monotonic() + 10  # the moved desktops' last reconnections: a net, not a measurement
    while len(desktops.resumed) < moving and time.monotonic() < grace:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    after = await asyncio.to_thread(proxy.servers)
    rung_after_kill = {c for c, at in load.ami.written.items() if at >= killed_at}
    lost = sorted(c for c in rung_after_kill if c not in desktops.latency)
    resumption = [(at - killed_at) * 1000 for at in desktops.resumed]
    return {
        "killed": NODES[0], "desktops_on_killed_node": moving, "desktops_resumed": len(resumption),
        "reconnect_failures": desktops.reconnect_failures,
        "resumption_ms": {"p50": round(bench.percentile(resumption, 0.5), 1), "p99": round(bench.percentile(resumption, 0.99), 1),
                          "max": round(max(resumption, default=float("nan")), 1)},
        "calls_placed": placed, "rung_after_kill": len(rung_after_kill), "pops_lost": len(lost),
        "pops_lost_call_ids": lost[:20],
        "haproxy_after": {n: {"status": s.status, "desktops": s.sessions} for n, s in after.items()},
    }


class SideEffectWatch(bench.StampingAmiServer):
    """The load's PBX, also noting every action only a site's leader sends in the bench (the
    load's handlers make no requests of their own): ``QueuePause``, a wrap-up begun or ended,
    with when it arrived and the AMI session (so the node) it came on."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.side_effects: list[tuple[float, Session]] = []

    def _on_action(self, s: Session, a: Action) -> None:
        if a.name == "queuepause":
            self.side_effects.append((time.perf_counter(), s))
        super()._on_action(s, a)

    def first_since(self, since: float, not_on: Session | None = None) -> tuple[float, Session] | None:
        return next(((at, s) for at, s in self.side_effects if at >= since and s is not not_on), None)


async def leader_phase(sizes: bench.Sizes, config_path: Path, tmp: Path, loop: str) -> dict[str, Any]:
    """Two nodes with ``[cluster]`` on (one leader for the site, a lease of LEASE_SECONDS) and a
    wrap-up on each line, under the load: kill -9 the leader, and time from the kill to the next
    side effect the PBX receives (a wrap-up's ``QueuePause``, from the other node). The goal:
    the other node leads within 2 s, so its first side effect follows within about that."""
    load = bench.Load(sizes)
    load.ami = watch = SideEffectWatch(load.pbx, bench.AMI_USER, bench.AMI_SECRET)
    await watch.start()
    raw = json.loads(config_path.read_text())
    raw["ami"]["port"] = watch.port
    for line in raw["lines"]:
        line["wrapup_seconds"] = WRAPUP_SECONDS
    nodes: dict[str, bench.Child] = {}
    try:
        for name in NODES:
            path = tmp / f"leader-{name}.json"
            path.write_text(json.dumps({**raw, "cluster": {"enabled": True, "node_id": name, "lease_seconds": LEASE_SECONDS}}))
            nodes[name], _ = await bench.Child.start("--role", "server", "--loop", loop, "--config", str(path),
                                                     "--log", str(tmp / f"leader-{name}.log"))
        deadline = time.monotonic() + UP_WITHIN
        while not all([(await node.ask())["ami"] for node in nodes.values()]):
            if time.monotonic() > deadline:
                raise RuntimeError("a node did not log in to the AMI generator")
            await asyncio.sleep(0.1)
        running = asyncio.create_task(load.run(max(sizes.seconds, 6.0), seed=4))
        # Under load: the leader's wrap-ups are going (a pause seen), then the leader is killed.
        leading: list[str] = []
        while (seen := watch.first_since(0.0)) is None or len(leading := [n for n, c in nodes.items() if (await c.ask())["leads"]]) != 1:
            if running.done():
                raise RuntimeError("no leader's side effect under load")
            await asyncio.sleep(0.1)
        [leader] = leading
        killed_at = time.perf_counter()
        nodes[leader].proc.kill()
        await nodes[leader].proc.wait()
        after: tuple[float, Session] | None = None
        net = time.monotonic() + 15  # a net for a broken run, not a measurement
        while (after := watch.first_since(killed_at, not_on=seen[1])) is None and time.monotonic() < net:
            await asyncio.sleep(0.01)
        successor = next(n for n in nodes if n != leader)
        leads = (await nodes[successor].ask())["leads"]
        await running
        return {"killed": leader, "successor": successor, "successor_leads": leads, "lease_seconds": LEASE_SECONDS,
                "wrapup_seconds": WRAPUP_SECONDS, "side_effects_before_kill": sum(at < killed_at for at, _ in watch.side_effects),
                "seconds_to_next_side_effect": None if after is None else round(after[0] - killed_at, 3),
                "measured": after is not None}
    finally:
        for node in nodes.values():
            await node.stop()
        await watch.stop()


def figures(floor: dict[str, Any], ours: dict[str, Any], leader: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two-node section of the result, and its goals."""
    lat, failover = ours["latency"], {**ours["failover"], "leader": leader}
    ratio_p50 = round(lat["p50_ms"] / floor["p50_ms"], 2) if floor["p50_ms"] else None
    ratio_p99 = round(lat["p99_ms"] / floor["p99_ms"], 2) if floor["p99_ms"] else None
    section = {"pop_latency": {"ours": lat, "floor": floor, "ratio_p50": ratio_p50, "ratio_p99": ratio_p99},
               "failover": failover}
    resumed = failover["desktops_resumed"] == failover["desktops_on_killed_node"]
    goals = {
        "two_node_pop_p99_within_1.5x_floor": {"target": "<= 1.5", "value": ratio_p99,
                                               "met": ratio_p99 is not None and ratio_p99 <= 1.5},
        "node_kill_every_desktop_resumes": {"target": "all of the killed node's desktops, on the other node",
                                            "value": f"{failover['desktops_resumed']}/{failover['desktops_on_killed_node']}",
                                            "met": resumed},
        "node_kill_pops_lost": {"target": "0", "value": failover["pops_lost"], "met": failover["pops_lost"] == 0},
        **leader_goal(leader),
    }
    return section, goals


def leader_goal(leader: dict[str, Any]) -> dict[str, Any]:
    took = leader["seconds_to_next_side_effect"]
    return {"leader_kill_next_side_effect_within_2s": {"target": "<= 2 s", "value": took,
                                                       "met": took is not None and took <= 2.0}}


async def leader_only(args: argparse.Namespace) -> dict[str, Any]:
    """The leader phase on its own (``python3 scripts/bench_duplex.py``), for a quick figure."""
    sizes = replace(bench.QUICK if args.quick else bench.Sizes(), seconds=args.seconds)
    bench.raise_fd_limit()
    prefix = f"bench-leader{os.getpid()}:"
    with tempfile.TemporaryDirectory(prefix="intake-bench-leader-") as tmp:
        config_path = Path(tmp) / "intake.json"
        config_path.write_text(json.dumps(bench.intake_config(sizes, 5038, args.redis_url, prefix)))
        try:
            leader = await leader_phase(sizes, config_path, Path(tmp), args.loop)
        finally:
            await bench.delete_prefix(args.redis_url, prefix)
    return {"command": " ".join(["python3", "scripts/bench_duplex.py", *sys.argv[1:]]),
            "sizes": asdict(sizes), "leader": leader, "goals": leader_goal(leader)}


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description="The two-node bench's leader failover alone: kill -9 the leader under load.")
    cli.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    cli.add_argument("--loop", default="auto")
    cli.add_argument("--quick", action="store_true")
    cli.add_argument("--seconds", type=float, default=10.0, help="seconds of load (the kill comes once a wrap-up is seen)")
    print(json.dumps(asyncio.run(leader_only(cli.parse_args())), indent=2))
