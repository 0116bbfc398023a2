"""`intake demo` as a person runs it: a separate process, real sockets, the simulated PBX's traffic.

Desktops with handlers' tokens get pops with the caller's history before the call is answered;
each desktop sees only its own handler's calls; the supervisor's figures move.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.demo_process import demo_process
from tests.support.sockets import signed_in

POOL = [f"07700900{i:03d}" for i in range(40)]  # the simulator's caller pool


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with demo_process(tmp_path_factory.mktemp("demo"), "--speed", "4", "--seed", "7") as demo:
        yield demo


def test_demo_prints_a_base_url_and_a_token_per_handler_and_supervisor(demo: dict):
    assert demo["base_url"].startswith("http://127.0.0.1:")
    assert set(demo["handlers"]) == {"h1", "h2", "h3", "h4"}
    assert len(set(demo["handlers"].values())) == 4 and "sup1" in demo["supervisors"]
    health = httpx.get(demo["base_url"] + "/healthz").json()
    assert health["ok"] and health["ami"]["connected"] and health["redis"]["reachable"]


async def collect(url: str, token: str, seconds: float) -> list[tuple[float, dict]]:
    got: list[tuple[float, dict]] = []
    async with await signed_in(url, token) as ws:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                raw = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                break
            got.append((time.monotonic(), json.loads(raw)))
    return got


async def test_desktops_get_their_own_pops_with_history_before_answer_and_figures_move(demo: dict):
    base, sup = demo["base_url"], demo["supervisors"]["sup1"]
    auth = {"Authorization": f"Bearer {sup}"}
    async with httpx.AsyncClient(base_url=base, headers=auth) as http:
        for number in POOL:  # every caller now has a warning marker: every pop must show it
            r = await http.post("/api/markers", json={"number": number, "kind": "repeat caller", "detail": "test"})
            assert r.status_code == 201, r.text
        before = (await http.get("/api/queues")).json()["lines"]
        ws = base.replace("http", "ws", 1)
        streams = await asyncio.gather(*(collect(f"{ws}/ws/desktop", t, 12) for t in demo["handlers"].values()))
        after = (await http.get("/api/queues")).json()["lines"]
        lent_metrics = (await http.get("/metrics")).text
    by_handler = dict(zip(demo["handlers"], streams))
    pops = {h: [m for _, m in s if m["type"] == "pop"] for h, s in by_handler.items()}
    assert sum(map(len, pops.values())) >= 3, by_handler
    # Desktops see only their handler's calls: h2 works only 999 and h3 only 101, unless the
    # routing policy lent h3 to 999 (its target at risk: likelier on a busy machine).
    assert all(p["line"] == "999" for p in pops["h2"])
    if any(p["line"] != "101" for p in pops["h3"]):
        assert 'intake_routing_decisions_total{action="lend"' in lent_metrics, "h3 rang for 999 without a lend"
    answered_after_pop = 0
    for handler, stream in by_handler.items():
        seqs = [m["seq"] for _, m in stream if m["type"] != "snapshot" and "seq" in m]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), f"{handler}: sequence numbers out of order"
        for p in pops[handler]:
            assert p["history_status"] == "ok"
            assert "repeat caller" in [m["kind"] for m in p["history"]["markers"]]
            answers = [m for _, m in stream if m["type"] == "pop.answered" and m["call_id"] == p["call_id"]]
            if answers:
                assert answers[0]["seq"] > p["seq"] and answers[0]["handler_id"] == handler
                answered_after_pop += 1
        # Another handler's desktop never hears of this handler's answer.
        for _, m in stream:
            if m["type"] == "pop.answered":
                assert m["handler_id"] == handler
    assert answered_after_pop >= 1
    assert after["999"]["offered"] + after["101"]["offered"] > before["999"]["offered"] + before["101"]["offered"]


def test_supervisor_endpoints_refuse_a_handler_token_and_no_token(demo: dict):
    base, h1 = demo["base_url"], demo["handlers"]["h1"]
    assert httpx.get(base + "/api/queues").status_code == 401
    assert httpx.get(base + "/api/queues", headers={"Authorization": f"Bearer {h1}"}).status_code == 403
    assert httpx.get(base + "/openapi.json").json()["info"]["title"] == "intake"
