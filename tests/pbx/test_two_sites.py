"""Two PBX sites in one intake: two real Asterisks on this host (site "a" the session's test bed,
site "b" a second one with its own root, ports and RTP range), one IntakeServer following both.

A call on each site is shown under its site and in the total, and each site's per-queue counts
equal its own PBX's queue_log; one PBX restarted shows its site down, then up again, while the
other site's link, calls and handlers are untouched."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import fakeredis
import pytest

from intake.app.server import IntakeServer
from intake.core.config import parse
from tests.pbx.harness import QueueLogWindow, intake_counts
from tests.serving import running_server
from tests.support.sip import HandlerPhone, SipServer, sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.support.testbed.pbx import PbxTestbed, pbx_up, site_b_env
from tests.waiting import eventually

pytestmark = pytest.mark.pbx


@contextlib.asynccontextmanager
async def two_site_intake(a: PbxTestbed, b: PbxTestbed) -> AsyncIterator[IntakeServer]:
    config = parse({
        "pbx": [{"name": name, "host": bed.ami_host, "port": bed.ami_port, "username": bed.ami_user, "secret": f"env:UNUSED_{name}",
                 "ping_interval": 2, "action_timeout": 3, "reconnect_initial": 0.2, "reconnect_max": 1}
                for name, bed in (("a", a), ("b", b))],
        "redis": {"url": "embedded"},
        "lines": [{"site": site, "name": line, "target_seconds": target, "queues": [queue], "wrapup_seconds": 0}
                  for site in ("a", "b") for line, target, queue in (("999", 12, "emergency"), ("101", 60, "non-emergency"))],
        "handlers": [{"site": site, "id": f"{site}1", "name": f"{site}1", "member": "PJSIP/handler-1", "queues": ["emergency"],
                      "token": f"token-of-handler-{site}1"} for site in ("a", "b")],
        "routing": {"enabled": False},
    })
    secrets = {"pbx[0].secret": a.ami_secret, "pbx[1].secret": b.ami_secret}
    secrets |= {f"handlers[{i}].token": h.token for i, h in enumerate(config.handlers)}
    async with running_server(config, secrets, fakeredis.FakeAsyncRedis()) as server:
        await eventually(lambda: all(site.up for site in server.sites.values()), 20, "both sites' links up")
        yield server


async def test_a_call_on_each_site_is_counted_under_its_site_and_in_the_total_as_each_queue_log_says(
        pbx: PbxTestbed, pbx_b: PbxTestbed, ami: RawAmi, ami_b: RawAmi) -> None:
    windows = {"a": QueueLogWindow(pbx).mark(), "b": QueueLogWindow(pbx_b).mark()}
    phone = HandlerPhone("handler-1", answer_after=1.0)  # on site a
    await asyncio.to_thread(phone.start)
    runs = []
    try:
        added = await ami.action("QueueAdd", Queue="emergency", Interface="PJSIP/handler-1", MemberName="handler-1")
        assert added["Response"] == "Success", added
        async with two_site_intake(pbx, pbx_b) as server:
            runs.append(sipp_dial("999", callers=["caller-1"], hangup_after=3.0))  # site a: answered by handler-1
            # Site b has nobody in its queue: both its callers wait, then hang up (abandoned).
            runs.append(sipp_dial("999", callers=["caller-2", "caller-3"], calls=2, hangup_after=4.0,
                                  server=SipServer(port=int(site_b_env()["INTAKE_SIP_PORT"]))))
            await eventually(lambda: len([c for c in server.live_calls() if c["site"] == "b"]) == 2, 20, "site b's two callers followed")
            for run in runs:
                assert await asyncio.to_thread(run.wait, 60) == 0, run.output()

            def settled() -> dict[str, Any] | None:
                report = server.queue_report()
                return report if report["lines"]["999"]["offered"] == 3 and not report["lines"]["999"]["waiting"] \
                    and report["sites"]["a"]["lines"]["999"]["answered"] == 1 else None

            report = await eventually(settled, 30, "three calls settled")
            for site, window in windows.items():
                logged = window.counts()
                shown = intake_counts(report["sites"][site]["queues"])
                assert {q: shown[q] for q in logged} == logged, (site, shown, logged)
            assert intake_counts(report["sites"]["b"]["queues"])["emergency"] == {"offered": 2, "answered": 0, "abandoned": 2,
                                                                                  "left_other": 0}
            total = report["lines"]["999"]
            assert (total["offered"], total["answered"], total["abandoned"]) == (3, 1, 2)
    finally:
        for run in runs:
            run.stop()
        await asyncio.to_thread(phone.stop)


async def test_a_pbx_restarted_shows_its_site_down_then_up_and_the_other_site_carries_on(
        pbx: PbxTestbed, pbx_b: PbxTestbed, ami: RawAmi, ami_b: RawAmi) -> None:
    added = await ami.action("QueueAdd", Queue="emergency", Interface="PJSIP/handler-1", MemberName="handler-1")
    assert added["Response"] == "Success", added
    waiting = sipp_dial("999", callers=["caller-4"], hangup_after=40.0)  # site a: waits (handler-1's phone is not registered)
    try:
        async with two_site_intake(pbx, pbx_b) as server:
            a, b = server.sites["a"], server.sites["b"]
            await eventually(lambda: a.registry.waiting_calls(), 20, "site a's caller waiting")
            [call_id] = [c.call_id for c in a.registry.waiting_calls()]
            handlers_before = a.handler_views()
            a_links = a.registry.counters.snapshots
            seen: dict[str, set[bool]] = {"a": set(), "b": set()}

            async def watch() -> None:  # what the wallboard would have shown, as the restart runs
                while True:
                    report = server.queue_report()
                    for name, shown in seen.items():
                        shown.add(report["sites"][name]["up"])
                    await asyncio.sleep(0.01)

            watcher = asyncio.create_task(watch())
            try:
                await asyncio.to_thread(pbx_up, restart=True, env=site_b_env())
                await eventually(lambda: False in seen["b"], 20, "site b shown down")
                await eventually(lambda: b.up, 30, "site b back up")
            finally:
                watcher.cancel()
            assert seen["a"] == {True}, "site a was shown down while site b restarted"
            health = await server.health()
            assert health["ok"] and health["sites"]["a"]["connected"] and health["sites"]["b"]["connected"]
            # Site a: the same link (no resync), the same waiting call, the same handlers.
            assert a.registry.counters.snapshots == a_links
            assert [c.call_id for c in a.registry.waiting_calls()] == [call_id]
            assert a.handler_views() == handlers_before
    finally:
        waiting.stop()
