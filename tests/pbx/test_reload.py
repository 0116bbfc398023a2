"""End to end: the PBX's queues reloaded under a running intake, and members queues.conf holds.

`module reload app_queue.so` changes queues and members without one member event (Asterisk only
sends Reload): a queue dropped from queues.conf takes its members with it, `member =>` lines come
and go. intake must follow (it asks for the PBX's picture again on Reload) and say what it cannot
manage: a static member on a managed queue, named at start-up and by `check-config --pbx`.
Each test writes a variant of queues.conf into the test PBX's root and puts the shipped one back.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.pbx.harness import (
    REPO,
    Desktop,
    IntakeProcess,
    member_shows,
    token_of,
    wait_until,
)
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import RawAmi

pytestmark = pytest.mark.pbx

H1, H2 = "PJSIP/handler-1", "PJSIP/handler-2"


def pbx_rx(pbx, command: str) -> str:
    proc = subprocess.run(["chroot", str(pbx.root), "/usr/sbin/asterisk", "-rx", command],
                          capture_output=True, text=True, timeout=30)
    return proc.stdout + proc.stderr


def reload_queues(pbx) -> None:
    out = pbx_rx(pbx, "module reload app_queue.so")
    assert "reloaded successfully" in out, out


@contextmanager
def queues_conf(pbx, change) -> Iterator[None]:
    """queues.conf as ``change(shipped text)`` says, reloaded; the shipped one back afterwards."""
    path = Path(pbx.root) / "etc/asterisk/queues.conf"
    shipped = path.read_text()
    path.write_text(change(shipped))
    try:
        reload_queues(pbx)
        yield
    finally:
        path.write_text(shipped)
        reload_queues(pbx)


def queues_of(intake: IntakeProcess, member: str) -> list[str]:
    return intake.handlers()[member]["queues"]  # type: ignore[no-any-return]


def check_pbx(intake: IntakeProcess) -> subprocess.CompletedProcess[str]:
    """`intake check-config --pbx` as an operator runs it, with the server's configuration."""
    return subprocess.run([sys.executable, "-m", "intake.app.cli", "check-config", str(intake.core.config), "--pbx",
                           "--event-wait", "0.5"], cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **intake.env})


async def test_a_queue_reload_that_drops_a_handler_is_followed_and_the_next_999_call_rings_and_pops(intake: IntakeProcess, pbx) -> None:
    intake.start()
    phone = HandlerPhone("handler-1", answer_after=1.0)
    await asyncio.to_thread(phone.start)
    desk = await Desktop.open(intake, "h1")
    run = None
    try:
        intake.set_state("h1", "ready")
        await wait_until(lambda: intake.handlers()[H1]["state"] == "ready" and queues_of(intake, H1) == ["emergency", "non-emergency"],
                         5, "h1 ready in both queues")
        # [emergency] leaves queues.conf and comes back: each reload is silent about members, and
        # the queue that comes back is a new one, without h1.
        with queues_conf(pbx, lambda text: text.replace("[emergency](line)", "[emergency-retired](line)")):
            await wait_until(lambda: queues_of(intake, H1) == ["non-emergency"], 10, "intake follows the reload")
        await wait_until(lambda: queues_of(intake, H1) == ["non-emergency"], 10, "still out of the new emergency queue")
        assert intake.handlers()[H1]["state"] == "ready"  # ready on 101: its phone is registered

        # Ready now does what it says: the handler goes back into the 999 queue.
        assert intake.set_state("h1", "ready")["actions"] == 1
        await wait_until(lambda: queues_of(intake, H1) == ["emergency", "non-emergency"], 5, "h1 back in emergency")
        run = sipp_dial("999", callers=["caller-7"], hangup_after=2.0)
        _, pop = await desk.wait_for(lambda m: m["type"] == "pop", 15, "pop of the 999 call")
        assert pop["line"] == "999" and pop["queue"] == "emergency" and pop["caller"]["number"] == "07700900007"
        rang = await asyncio.to_thread(phone.wait_answered, 15)
        assert rang.caller == "07700900007"
        await desk.wait_for(lambda m: m["type"] == "pop.answered" and m["call_id"] == pop["call_id"], 10, "answered")
        assert await asyncio.to_thread(run.wait, 20) == 0, run.output()
    finally:
        if run is not None:
            run.stop()
        await desk.close()
        await asyncio.to_thread(phone.stop)
    assert any(r.get("event") == "ami resync requested" and "app_queue.so" in r.get("reason", "") for r in intake.log_records())


async def test_a_static_member_on_a_managed_queue_is_named_at_start_up_by_check_config_and_at_the_desk(intake: IntakeProcess, pbx) -> None:
    static = lambda text: text.replace("[emergency](line)\n", f"[emergency](line)\nmember => {H2},0,h2\n")
    with queues_conf(pbx, static):
        intake.start()
        # Named at start-up: by the registry as it learns the member, and by the start-up check.
        def named() -> list[dict]:
            return [r for r in intake.log_records()
                    if (r.get("event") == "static_member" and r.get("member") == H2 and r.get("queue") == "emergency")
                    or (r.get("event") == "pbx_check" and r.get("severity") == "PROBLEM" and f"static member {H2}" in r.get("what", ""))]
        found = await wait_until(lambda: len({r["event"] for r in named()}) == 2 and named(), 15, "static member named in the log")
        assert all(r["level"] == "warning" for r in found), found
        assert intake.handlers()[H2]["static_queues"] == ["emergency"]

        # The desktop's log-out says why it cannot be done, instead of a bare 502.
        r = httpx.post(intake.base + "/api/me/state", headers={"Authorization": f"Bearer {token_of('h2')}"},
                       json={"state": "logged-out", "reason": ""}, timeout=10)
        assert r.status_code == 409, r.text
        assert "static member in queues.conf: intake cannot log it out" in r.json()["detail"]

        checked = await asyncio.to_thread(check_pbx, intake)
        assert checked.returncode == 1, checked.stdout + checked.stderr
        assert (f"PROBLEM: static member {H2} in managed queue 'emergency': intake cannot log it out" in checked.stdout
                and f"remove 'member => {H2}' from [emergency] in queues.conf" in checked.stdout), checked.stdout
        assert "OK: AMI user 'intake' may run QueueStatus, CoreShowChannels, QueueAdd, QueueRemove, QueuePause, Originate" in checked.stdout

    # queues.conf put right and reloaded: the member is gone (silently, at the PBX) and intake follows.
    await wait_until(lambda: queues_of(intake, H2) == [] and intake.handlers()[H2]["static_queues"] == [], 10,
                     "static member gone after the reload")
    checked = await asyncio.to_thread(check_pbx, intake)
    assert checked.returncode == 0 and "PROBLEM" not in checked.stdout, checked.stdout


async def test_a_queue_reload_asterisk_announces_nowhere_heals_at_the_first_action_it_refuses(intake: IntakeProcess, pbx, ami) -> None:
    # AMI's QueueReload (and the CLI's `queue reload all`) reload queues.conf with no Reload event:
    # nothing tells intake. The first action the PBX refuses for it does.
    intake.start()
    intake.set_state("h1", "ready")
    await wait_until(lambda: queues_of(intake, H1) == ["emergency", "non-emergency"], 5, "h1 in both queues")
    path = Path(pbx.root) / "etc/asterisk/queues.conf"
    shipped = path.read_text()
    try:
        path.write_text(shipped.replace("[emergency](line)", "[emergency-retired](line)"))
        assert (await ami.action("QueueReload"))["Response"] == "Success"
        path.write_text(shipped)
        assert (await ami.action("QueueReload"))["Response"] == "Success"  # [emergency] back, new and empty
    finally:
        path.write_text(shipped)
    r = httpx.post(intake.base + "/api/me/state", headers={"Authorization": f"Bearer {token_of('h1')}"},
                   json={"state": "not-ready", "reason": "meal"}, timeout=10)
    assert r.status_code == 502 and "the PBX refused QueuePause" in r.json()["detail"] and "try again" in r.json()["detail"], r.text
    await wait_until(lambda: queues_of(intake, H1) == ["non-emergency"], 10, "intake read the PBX's picture again")
    intake.set_state("h1", "not-ready", "meal")  # the same request now does what it says
    await member_shows(ami, H1, ("emergency", "non-emergency"), paused="1", reason="meal")
    await wait_until(lambda: intake.handlers()[H1]["reason"] == "meal", 5, "h1 not ready (meal) in intake's picture")


async def test_a_break_survives_a_pbx_restart_that_brings_a_static_member_back_ready(intake: IntakeProcess, pbx, ami) -> None:
    # A restart reads queues.conf afresh: a static member comes back unpaused, and a handler on a
    # meal break would ring for 999 calls. intake pauses them again, with their reason.
    with queues_conf(pbx, lambda text: text.replace("[emergency](line)\n", f"[emergency](line)\nmember => {H2},0,h2\n")):
        intake.start()
        intake.set_state("h2", "not-ready", "meal")
        await member_shows(ami, H2, ("emergency", "non-emergency"), paused="1", reason="meal")
        pbx_rx(pbx, "core restart now")
        await wait_until(lambda: any(r.get("event") == "pbx_link_down" for r in intake.log_records()), 30, "link lost")
        await asyncio.to_thread(intake.wait_healthy, 30)
        await wait_until(lambda: (h := intake.handlers()[H2])["reason"] == "meal" and h["queues"] == ["emergency", "non-emergency"],
                         15, "h2 back on their break in both queues")
        fresh = await RawAmi.connect(pbx.ami_host, pbx.ami_port)  # the fixture's session died with the PBX
        try:
            await fresh.login(pbx.ami_user, pbx.ami_secret)
            await member_shows(fresh, H2, ("emergency", "non-emergency"), paused="1", reason="meal")
        finally:
            await fresh.close()
