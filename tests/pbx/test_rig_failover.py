"""The two-node rig on the real Asterisk: a handler's desktop through HAProxy gets its pop before
the phone is answered; the node holding it is killed (kill -9), HAProxy takes that node out, the
desktop's reconnection lands on the other node, and the next call's pop reaches it there, again
before answer. (The pops a desktop missed while it moved are the streams' part of issue 13.)"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.pbx.harness import Desktop, token_of, wait_until
from tests.support.cluster import Cluster
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.sip.callers import SippRun
from tests.waiting import patience

pytestmark = pytest.mark.pbx


def answered(phone: HandlerPhone, n: int) -> float | None:
    """When the phone answered its ``n``-th call (1-based), once it has."""
    times = [c.answered_at for c in phone.calls if c.answered_at is not None]
    return times[n - 1] if len(times) >= n else None


async def pop_before_answer(desk: Desktop, phone: HandlerPhone, n: int, calls: list[SippRun], caller: str) -> str:
    """The ``n``-th 999 call rings the phone: its pop reaches ``desk`` before the phone answers."""
    seen = {m.get("call_id") for _, m in desk.messages if m.get("type") == "pop"}
    calls.append(sipp_dial("999", callers=[caller], hangup_after=5.0))  # after the dialplan's Answer()
    popped_at, pop = await desk.wait_for(lambda m: m["type"] == "pop" and m["call_id"] not in seen, patience(15), f"pop {n}")
    answered_at = await wait_until(lambda: answered(phone, n), 15, f"call {n} answered")
    assert popped_at < answered_at, f"call {n}: the pop must reach the desktop before the phone is answered"
    assert await asyncio.to_thread(calls[-1].wait, 20) == 0, calls[-1].output()
    return str(pop["call_id"])


async def test_the_desktop_of_a_killed_node_reconnects_through_haproxy_to_the_other_and_pops_before_answer(
        cluster: Cluster) -> None:
    phone = HandlerPhone("handler-1", answer_after=2.0)
    await asyncio.to_thread(phone.start)
    desk = await cluster.desktop("h1")
    again: Desktop | None = None
    calls: list[SippRun] = []
    try:
        async with httpx.AsyncClient(base_url=cluster.base, headers={"Authorization": f"Bearer {token_of('h1')}"}) as http:
            r = await http.post("/api/me/state", json={"state": "ready"})
            assert r.status_code == 200, r.text
        await desk.wait_for(lambda m: m["type"] == "me" and m.get("state") == "ready", patience(5), "h1 ready")
        holder = await cluster.holder()
        live = cluster.other(holder)
        first = await pop_before_answer(desk, phone, 1, calls, "caller-6")

        await cluster.kill(holder)
        await desk.wait_closed(patience(10))
        again = await cluster.desktop("h1")  # at once, as the desktop page does
        assert await cluster.holder() == live
        await cluster.wait_for(f"HAProxy to mark {holder} down", lambda v: v[holder].down)
        second = await pop_before_answer(again, phone, 2, calls, "caller-7")
        assert second != first
    finally:
        for c in calls:
            c.stop()
        await desk.close()
        if again is not None:
            await again.close()
        await asyncio.to_thread(phone.stop)
