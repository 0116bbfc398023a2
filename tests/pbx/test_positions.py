"""Positions (hot-desking) against the real PBX: a handler with no phone of their own signs in at a
position on the desktop; the PBX shows that position's phone in their queues under their id; a
999 call rings it and pops to their desktop; the journal names them and the position; another
handler cannot take it (refused, naming the holder); leaving takes the phone out of the queues,
and then someone else may sit there.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.pbx.harness import (
    SUPERVISOR_TOKEN,
    Desktop,
    IntakeProcess,
    flush_e2e_db,
    intake_process,
    journal,
    member_status,
    token_of,
    wait_until,
)
from tests.support.cluster import running_cluster
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.support.testbed.pbx import PbxTestbed

pytestmark = pytest.mark.pbx

QUEUES = ["emergency", "non-emergency"]
DESK = "PJSIP/handler-1"
HOT_DESKING = {"h1": (None, QUEUES), "h2": (None, QUEUES), "h3": ("PJSIP/handler-3", QUEUES)}
POSITIONS = {"desk-1": DESK, "desk-2": "PJSIP/handler-2"}


@pytest.fixture
def hot_desks(pbx: PbxTestbed, ami: RawAmi, e2e_redis: str, tmp_path: Path) -> Any:
    flush_e2e_db(e2e_redis)
    proc = intake_process(tmp_path, pbx, e2e_redis, handlers=HOT_DESKING, positions=POSITIONS)
    try:
        yield proc
    finally:
        proc.stop()
        print(f"--- tail of intake serve's log ({proc.log_path}) ---\n{proc.log_tail(60)}")


def as_handler(intake: IntakeProcess, method: str, path: str, handler_id: str, **body: Any) -> httpx.Response:
    return httpx.request(method, intake.base + path, headers={"Authorization": f"Bearer {token_of(handler_id)}"},
                         json=body or None, timeout=10)


async def test_a_handler_signs_in_at_a_position_takes_its_call_and_leaves_it(hot_desks: IntakeProcess, ami: RawAmi,
                                                                             e2e_redis: str) -> None:
    intake = hot_desks.start()
    phone = HandlerPhone("handler-1", answer_after=1.0)
    await asyncio.to_thread(phone.start)
    desk = await Desktop.open(intake, "h1")
    call = None
    try:
        picker = as_handler(intake, "GET", "/api/me/positions", "h1").json()
        assert {p["id"]: p["holder"] for p in picker["positions"]} == {"desk-1": None, "desk-2": None}
        assert picker["mine"] is None
        # Before a position there is no phone to make ready: refused, nothing sent.
        r = as_handler(intake, "POST", "/api/me/state", "h1", state="ready")
        assert (r.status_code, r.json()["error"]) == (409, "no-position"), r.text

        r = as_handler(intake, "POST", "/api/me/position", "h1", position="desk-1")
        assert r.status_code == 200, r.text
        assert r.json() == {"position": "desk-1", "status": "signed-in"}

        # The PBX itself has the position's phone in h1's queues, under h1's name, ready.
        status = await member_status(ami, DESK)
        assert sorted(status) == QUEUES
        assert {q: (s["Name"], s["Paused"], s["Membership"]) for q, s in status.items()} == \
            {q: ("h1", "0", "dynamic") for q in QUEUES}
        # intake learnt who sits there from the PBX's events: the supervisors' view and h1's own.
        await wait_until(lambda: intake.handlers().get(DESK, {}).get("handler_id") == "h1", 5, "h1 seen at desk-1")
        seen = intake.handlers()[DESK]
        assert (seen["position"], seen["state"], seen["name"]) == ("desk-1", "ready", "Handler h1")
        me = as_handler(intake, "GET", "/api/me", "h1").json()
        assert (me["state"], me["position"]) == ("ready", "desk-1")
        assert as_handler(intake, "GET", "/api/me/positions", "h1").json()["mine"] == "desk-1"

        # Another handler cannot take it: refused, naming who holds it; the PBX unchanged.
        r = as_handler(intake, "POST", "/api/me/position", "h2", position="desk-1")
        assert r.status_code == 409, r.text
        assert r.json() == {"error": "position-taken", "field": "position", "detail": "position desk-1 is taken by h1"}
        assert {s["Name"] for s in (await member_status(ami, DESK)).values()} == {"h1"}
        # Nor one with a fixed phone, nor h1 a second one.
        assert as_handler(intake, "POST", "/api/me/position", "h3", position="desk-2").json()["error"] == "fixed-phone"
        r = as_handler(intake, "POST", "/api/me/position", "h1", position="desk-2")
        assert (r.status_code, r.json()["error"]) == (409, "already-at-a-position"), r.text

        # A 999 call rings the position's phone and pops to h1's desktop.
        call = sipp_dial("999", callers=["caller-5"], hangup_after=8.0)
        _, pop = await desk.wait_for(lambda m: m["type"] == "pop", 15, "pop")
        assert pop["line"] == "999"
        await asyncio.to_thread(phone.wait_answered, 15)
        _, answered = await desk.wait_for(lambda m: m["type"] == "pop.answered" and m["call_id"] == pop["call_id"], 10,
                                          "pop.answered")
        assert answered["handler_id"] == "h1"
        assert await asyncio.to_thread(call.wait, 20) == 0, call.output()
        record = await wait_until(lambda: journal(e2e_redis).get(pop["call_id"]), 10, "the call journalled")
        assert (record["settled"], record["handler_id"], record["position"]) == ("answered", "h1", "desk-1")

        # Leaving: the PBX no longer has the phone in any queue, and h1 is at none.
        r = as_handler(intake, "DELETE", "/api/me/position", "h1")
        assert r.status_code == 200, r.text
        assert r.json() == {"position": "desk-1", "status": "left"}
        assert await member_status(ami, DESK) == {}
        _, me_msg = await desk.wait_for(lambda m: m["type"] == "me" and m["state"] == "logged-out", 5, "h1 logged out")
        assert me_msg.get("position") is None
        await wait_until(lambda: (DESK not in intake.handlers()) or intake.handlers()[DESK]["handler_id"] is None, 5,
                         "desk-1 nobody's")

        # Now h2 may sit there, and the PBX names h2.
        r = as_handler(intake, "POST", "/api/me/position", "h2", position="desk-1", ready=False)
        assert r.status_code == 200, r.text
        status = await member_status(ami, DESK)
        assert {q: (s["Name"], s["Paused"]) for q, s in status.items()} == {q: ("h2", "1") for q in QUEUES}
        await wait_until(lambda: intake.handlers().get(DESK, {}).get("handler_id") == "h2", 5, "h2 seen at desk-1")
        # Logging out at a position leaves it too.
        r = as_handler(intake, "POST", "/api/me/state", "h2", state="logged-out")
        assert r.status_code == 200 and r.json()["actions"] == 2, r.text
        assert await member_status(ami, DESK) == {}
        picker = as_handler(intake, "GET", "/api/me/positions", "h2").json()
        assert (picker["mine"], {p["id"]: p["holder"] for p in picker["positions"]}) == (None, {"desk-1": None, "desk-2": None})
    finally:
        if call is not None:
            call.stop()
        await desk.close()
        await asyncio.to_thread(phone.stop)


@pytest.mark.browser
async def test_the_desktop_picker_signs_in_at_a_free_position_and_shows_the_taken_one(hot_desks: IntakeProcess, ami: RawAmi,
                                                                                     browser: Any) -> None:
    intake = hot_desks.start()
    r = as_handler(intake, "POST", "/api/me/position", "h2", position="desk-2", ready=False)
    assert r.status_code == 200, r.text
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        await page.goto(intake.base + "/desktop")
        await page.fill("#token", token_of("h1"))
        await page.click("#signin button[type=submit]")
        await page.wait_for_selector("#position-bar:not(.hidden)", timeout=10_000)
        options = await page.eval_on_selector_all("#position-pick option",
                                                  "os => os.map(o => [o.value, o.textContent, o.disabled])")
        assert options == [["desk-1", "Desk desk-1", False], ["desk-2", "Desk desk-2 (taken by h2)", True]]
        assert await page.text_content("#position-now") == "none"

        await page.select_option("#position-pick", "desk-1")
        await page.click("#btn-take-position")
        # The page learns it from the socket once the PBX has the phone in h1's queues (no phone
        # registered there in this test: "not ready, phone offline", but in the queues).
        await page.wait_for_function("() => document.querySelector('#position-now').textContent === 'desk-1'"
                                     " && document.querySelector('#state').dataset.state === 'not-ready'", timeout=10_000)
        assert await page.text_content("#state-reason") == "(phone offline)"
        assert {q: s["Name"] for q, s in (await member_status(ami, DESK)).items()} == {q: "h1" for q in QUEUES}
        # The picker reads the list again once told: taking is off, leaving on.
        await page.wait_for_function("() => document.querySelector('#btn-take-position').disabled"
                                     " && !document.querySelector('#btn-leave-position').disabled", timeout=10_000)

        await page.click("#btn-leave-position")
        await page.wait_for_function("() => document.querySelector('#position-now').textContent === 'none'"
                                     " && document.querySelector('#state').dataset.state === 'logged-out'", timeout=10_000)
        assert await member_status(ami, DESK) == {}
    finally:
        await context.close()
        as_handler(intake, "DELETE", "/api/me/position", "h2")


async def test_two_nodes_one_position_one_winner_and_both_follow_the_pbx(pbx: PbxTestbed, ami: RawAmi, e2e_redis: str,
                                                                           tmp_path: Path) -> None:
    """Two handlers ask two nodes for one position at once: one gets it, the other is told who has
    it. Each node learns who sits there from the PBX, so the winner's desktop on the *other*
    node pops, and leaving there takes the phone out of the queues."""
    phone = HandlerPhone("handler-1", answer_after=1.0)
    await asyncio.to_thread(phone.start)
    call = None
    async with running_cluster(tmp_path, pbx, e2e_redis, handlers=HOT_DESKING, positions=POSITIONS,
                               lease_seconds=1.5) as rig:
        first, second = rig.nodes["node1"], rig.nodes["node2"]
        try:
            replies = await asyncio.gather(
                asyncio.to_thread(as_handler, first, "POST", "/api/me/position", "h1", position="desk-1"),
                asyncio.to_thread(as_handler, second, "POST", "/api/me/position", "h2", position="desk-1"))
            assert sorted(r.status_code for r in replies) == [200, 409], [r.text for r in replies]
            winner, loser = ("h1", replies[1]) if replies[0].status_code == 200 else ("h2", replies[0])
            elsewhere = second if winner == "h1" else first  # the node that did not sign the winner in
            assert loser.json()["error"] == "position-taken" and loser.json()["detail"].endswith(f"taken by {winner}")
            assert {s["Name"] for s in (await member_status(ami, DESK)).values()} == {winner}
            for node in (first, second):
                await wait_until(lambda n=node: n.handlers().get(DESK, {}).get("handler_id") == winner, 5,  # type: ignore[misc]
                                 f"{winner} seen at desk-1 by {node.log_path.parent.name}")

            desk = await Desktop.open(elsewhere, winner)
            try:
                call = sipp_dial("999", callers=["caller-6"], hangup_after=8.0)
                _, pop = await desk.wait_for(lambda m: m["type"] == "pop", 15, "pop on the other node")
                _, answered = await desk.wait_for(lambda m: m["type"] == "pop.answered" and m["call_id"] == pop["call_id"],
                                                  15, "pop.answered")
                assert answered["handler_id"] == winner
                assert await asyncio.to_thread(call.wait, 20) == 0, call.output()
            finally:
                await desk.close()

            r = as_handler(elsewhere, "DELETE", "/api/me/position", winner)
            assert r.json() == {"position": "desk-1", "status": "left"}, r.text
            assert await member_status(ami, DESK) == {}
            for node in (first, second):
                await wait_until(lambda n=node: n.handlers().get(DESK, {}).get("handler_id") is None, 5,  # type: ignore[misc]
                                 "desk-1 free on every node")
        finally:
            if call is not None:
                call.stop()
            await asyncio.to_thread(phone.stop)


async def test_a_pbx_restart_puts_the_handler_back_at_their_position_under_their_id(hot_desks: IntakeProcess,
                                                                                   pbx: PbxTestbed) -> None:
    intake = hot_desks.start()
    r = as_handler(intake, "POST", "/api/me/position", "h1", position="desk-1", ready=False)
    assert r.status_code == 200, r.text
    await wait_until(lambda: intake.handlers().get(DESK, {}).get("handler_id") == "h1", 5, "h1 seen at desk-1")

    # Asterisk forgets every dynamic member.
    await asyncio.to_thread(subprocess.run, ["chroot", str(pbx.root), "/usr/sbin/asterisk", "-rx", "core restart now"],
                            capture_output=True, text=True, timeout=30)
    await wait_until(lambda: any(r.get("event") == "memberships_restored" and r.get("handler_id") == "h1"
                                 for r in intake.log_records()), 30, "h1's memberships restored")
    fresh = await RawAmi.connect(pbx.ami_host, pbx.ami_port)
    try:
        await fresh.login(pbx.ami_user, pbx.ami_secret)
        status = await member_status(fresh, DESK)
        assert {q: (s["Name"], s["Paused"], s.get("PausedReason")) for q, s in status.items()} == \
            {q: ("h1", "1", "signing in") for q in QUEUES}
    finally:
        await fresh.close()
    await wait_until(lambda: intake.handlers().get(DESK, {}).get("handler_id") == "h1", 5, "h1 seen at desk-1 again")
    assert as_handler(intake, "GET", "/api/me/positions", "h1").json()["mine"] == "desk-1"

    # h1 goes home without leaving: a supervisor sees who holds what, and frees desk-1.
    every = intake.get("/api/positions")
    assert {p["id"]: (p["holder"], p["site"]) for p in every["positions"]} == {"desk-1": ("h1", "default"),
                                                                             "desk-2": (None, "default")}
    r = httpx.delete(intake.base + "/api/positions/desk-1", headers={"Authorization": f"Bearer {SUPERVISOR_TOKEN}"},
                     timeout=10)
    assert r.json() == {"position": "desk-1", "holder": "h1"}, r.text
    assert as_handler(intake, "DELETE", "/api/positions/desk-2", "h2").status_code == 403  # supervisors only
    fresh = await RawAmi.connect(pbx.ami_host, pbx.ami_port)
    try:
        await fresh.login(pbx.ami_user, pbx.ami_secret)
        assert await member_status(fresh, DESK) == {}
    finally:
        await fresh.close()
    assert as_handler(intake, "GET", "/api/me/positions", "h1").json()["mine"] is None
