"""Issue 13's acceptance in the whole duplex layout, every part real and on loopback: two Asterisks
(site a, the session's test bed; site b, a second one), a Redis primary, its replica and three
Sentinels, two `intake serve` nodes that each follow both sites (``[[pbx]]``), find Redis through
Sentinel and elect one leader per site (``[cluster]``), and HAProxy in front, which the handlers'
desktops and REST calls go through.

Each test breaks one part (kill -9 a site's leader, the Redis primary, restart a PBX) and asserts
what a control room would notice: who leads, pops before answer, wrap-ups, per-queue counts
against each PBX's queue_log, each call journalled once. Failover times are printed as JSON,
never asserted (a busy CI machine is not a stopwatch).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.pbx.harness import (
    HANDLERS,
    IntakeProcess,
    QueueLogWindow,
    assert_agrees_with_queue_log,
    journal_rows,
    token_of,
    wait_until,
)
from tests.support.cluster import Cluster, Screen, running_cluster
from tests.support.redis_ha import RedisHA
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.sip.callers import SippRun
from tests.support.testbed.ami import RawAmi
from tests.support.testbed.pbx import PbxTestbed

pytestmark = pytest.mark.pbx

LEASE_SECONDS = 1.5
WRAPUP_SECONDS = 1.0
SITES = ("a", "b")


@dataclass
class Duplex:
    """The layout: the two nodes behind HAProxy (``cluster``), the Redis set, each site's PBX."""

    cluster: Cluster
    redis: RedisHA
    beds: dict[str, PbxTestbed]

    def live(self) -> dict[str, IntakeProcess]:
        return {name: node for name, node in self.cluster.nodes.items() if node.process is not None}

    async def leader(self, site: str) -> str:
        """The node leading ``site``, once every live node names it and it says it leads."""
        def agreed() -> str | None:
            views = {name: node.leadership(site) for name, node in self.live().items()}
            named = {view["leader"] for view in views.values()}
            leader = named.pop() if len(named) == 1 else None
            return leader if leader in views and views[leader]["role"] == "leading" else None

        return await wait_until(agreed, 20, f"the live nodes to agree on site {site}'s leader")  # type: ignore[no-any-return]

    def primary_url(self) -> str:
        port = self.redis.primary_port()
        assert port is not None, "the Sentinels do not agree on a primary"
        return f"redis://127.0.0.1:{port}"

    async def ready(self, handler_ids: list[str]) -> None:
        """Each handler says Ready through HAProxy; returns once every live node shows them ready."""
        async with httpx.AsyncClient(base_url=self.cluster.base, timeout=10) as http:
            for hid in handler_ids:
                r = await http.post("/api/me/state", json={"state": "ready"}, headers={"Authorization": f"Bearer {token_of(hid)}"})
                assert r.status_code == 200, r.text
        await wait_until(lambda: all(node.states()[hid] == "ready" for node in self.live().values() for hid in handler_ids),
                         10, "every handler ready on every node")


@pytest.fixture
async def duplex(pbx: PbxTestbed, pbx_b: PbxTestbed, ami: RawAmi, ami_b: RawAmi, redis_ha: RedisHA,
                 tmp_path: Any) -> AsyncIterator[Duplex]:
    beds = {"a": pbx, "b": pbx_b}
    async with running_cluster(tmp_path, beds, redis_ha.config(), lease_seconds=LEASE_SECONDS,
                               wrapup_seconds=WRAPUP_SECONDS) as rig:
        layout = Duplex(rig, redis_ha, beds)
        for site in SITES:
            await layout.leader(site)
        yield layout


def wrapups(ami: RawAmi, start: int, paused: str) -> list[dict[str, str]]:
    """The PBX's QueueMemberPause events since frame ``start``: wrap-ups begun ("1") or ended ("0")."""
    return [dict(f) for f in ami.frames[start:] if f.get("Event") == "QueueMemberPause" and f.get("Paused") == paused
            and (paused == "0" or f.get("PausedReason") == "wrap-up")]


FIRST_WAVE, SECOND_WAVE = 4, 4  # as many first callers as handlers: the second wave waits, then rings


async def test_the_leader_of_site_a_killed_during_a_999_burst_the_other_node_leads_and_no_pop_or_record_is_lost(
        duplex: Duplex, ami: RawAmi) -> None:
    rig = duplex.cluster
    windows = {site: QueueLogWindow(bed).mark() for site, bed in duplex.beds.items()}
    phones = {f"h{n}": HandlerPhone(f"handler-{n}", answer_after=2.0 + n / 2) for n in range(1, 5)}
    await asyncio.gather(*(asyncio.to_thread(p.start) for p in phones.values()))
    screens = {hid: await Screen.open(rig, hid) for hid in HANDLERS}
    runs: list[SippRun] = []
    try:
        await duplex.ready(list(HANDLERS))
        leader = await duplex.leader("a")
        follower = rig.other(leader)
        token = rig.nodes[leader].leadership("a")["token"]
        survivor = rig.nodes[follower]

        # The first wave is answered at once and hangs up after 5 s; the second waits for them.
        runs.append(sipp_dial("999", callers=[f"caller-{n}" for n in range(1, FIRST_WAVE + 1)], calls=FIRST_WAVE,
                              rate_per_s=100, hangup_after=5.0))
        await wait_until(lambda: survivor.queues("a")["emergency"]["offered"] == FIRST_WAVE, 10, "the first wave queued")
        runs.append(sipp_dial("999", callers=[f"caller-{n}" for n in range(FIRST_WAVE + 1, FIRST_WAVE + SECOND_WAVE + 1)],
                              calls=SECOND_WAVE, rate_per_s=100, hangup_after=16.0))
        await wait_until(lambda: survivor.queues("a")["emergency"]["waiting"] >= SECOND_WAVE, 10, "the second wave waiting")

        mark = len(ami.frames)
        await rig.kill(leader)
        killed = time.monotonic()
        now = await wait_until(lambda: (view := survivor.leadership("a"))["role"] == "leading" and view, 10,
                               f"{follower} leads site a")
        print(json.dumps({"takeover_seconds": round(time.monotonic() - killed, 3), "lease_seconds": LEASE_SECONDS}))
        assert now["leader"] == follower and now["token"] > token, (now, token)
        assert survivor.leadership("b")["leader"] == follower  # site b's leader, whichever it was, is the live node

        for run in runs:
            assert await asyncio.to_thread(run.wait, 90) == 0, run.output()
        await wait_until(lambda: not survivor.calls(), 10, "every call settled")
        await wait_until(lambda: all(survivor.states()[hid] == "ready" for hid in HANDLERS), 20, "every wrap-up ended")

        # Every call that rang a phone after the kill popped on its handler's screen before the answer,
        # the screens the killed node held included (they reconnected through HAProxy).
        assert any(len(screen.sockets) > 1 for screen in screens.values()), "no desktop was on the killed node"
        rang_after = [(hid, c) for hid, phone in phones.items() for c in phone.calls if c.rang_at > killed and c.answered_at]
        assert len(rang_after) >= SECOND_WAVE, [(hid, c.caller) for hid, c in rang_after]
        late = {(hid, c.caller): (screens[hid].popped_at(c.caller), c.answered_at) for hid, c in rang_after
                if (screens[hid].popped_at(c.caller) or float("inf")) >= (c.answered_at or 0)}
        assert not late, f"pops missing or after the answer (popped at, answered at): {late}"
        # Wrap-ups went on under the new leader: each call answered after the kill was wrapped up.
        begun = {f["Interface"] for f in wrapups(ami, mark, "1")}
        assert {f"PJSIP/handler-{hid[1:]}" for hid, _ in rang_after} <= begun, begun
        assert wrapups(ami, mark, "0"), "no wrap-up ended after the kill"

        # Per-queue counts equal each PBX's queue_log; each call journalled once on the primary.
        calls = FIRST_WAVE + SECOND_WAVE
        primary = duplex.primary_url()
        await wait_until(lambda: len(journal_rows(primary, "a")) >= calls, 10, "every call journalled")
        ids = [r["call_id"] for r in journal_rows(primary, "a")]
        assert len(ids) == len(set(ids)) == calls
        for site, window in windows.items():
            logged = assert_agrees_with_queue_log(survivor, window, primary, site)
            assert logged.get("emergency", {}).get("offered", 0) == (calls if site == "a" else 0)
    finally:
        for run in runs:
            run.stop()
        for screen in screens.values():
            await screen.close()
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in phones.values()))
