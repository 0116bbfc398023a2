"""Issue 14's "done when", as one shift on the real PBX with the real OpenID provider.

Real parts only: Asterisk 22 (scripts/pbx-up), `intake serve` in its own process with ``[oidc]``
naming npm's oidc-provider on loopback (tests/support/oidc.py), two positions whose phones
(desk-1: PJSIP/handler-1, a pyVoIP phone answering after 3 s) belong to no handler, a SIPp
caller, Debian's chromium. A raw AMI session of the test's own (QueueStatus, the PBX's events)
is the referee for the PBX; the audit trail is read from Redis and checked by `intake audit verify`.

The shift: h1 signs in through the provider's login page and sits at desk-1 with the desktop's
picker -> the PBX has desk-1's phone in h1's queues under MemberName h1; h2 (a bearer JWT from the
provider) is refused desk-1, told h1 holds it; a 999 call pops to h1 before the phone answers;
h1 files the outcome; sup1 signs in through the provider, looks at the caller's history giving a
reason, downloads the day's report, and an administrator exports the caller's audit trail with
`intake audit export`; h1 signs out -> the PBX removes desk-1's phone from h1's queues. Then each
of those is in the trail naming who (the provider's subject, role, position), when and why; an
entry edited in Redis, then another deleted, each make `intake audit verify` fail naming it.

Chromium, the provider or the PBX missing is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import redis

from tests.browser.conftest import ARTIFACTS
from tests.pbx.harness import (
    E2E_REDIS_DB,
    IntakeProcess,
    desk_state,
    flush_e2e_db,
    intake_cli,
    intake_process,
    journal,
    member_shows,
    member_status,
    provider_sign_in,
    put_away,
    ringing_pop,
    signing_in_at,
    wait_until,
)
from tests.support.oidc import OidcProvider, oidc_provider, sign_out_at_provider_page
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.support.testbed.pbx import PbxTestbed
from tests.waiting import eventually, patience, patience_ms

pytestmark = [pytest.mark.pbx, pytest.mark.browser]

QUEUES = ("emergency", "non-emergency")
DESK = "PJSIP/handler-1"
HOT_DESKING: dict[str, tuple[str | None, list[str]]] = {"h1": (None, list(QUEUES)), "h2": (None, list(QUEUES))}
POSITIONS = {"desk-1": DESK, "desk-2": "PJSIP/handler-2"}
NUMBER = "07700900006"  # caller-6's
LINKS = "e2e:audit:{trail}:links"
LOOK = "a repeat caller: checking the last contacts"
REPORT = "the shift's figures for the duty inspector"
SUBJECT_ACCESS = "subject access request 2026/114"


@pytest.fixture
def shift(pbx: PbxTestbed, ami: RawAmi, e2e_redis: str, tmp_path: Path) -> Iterator[tuple[IntakeProcess, OidcProvider]]:
    """intake (hot-desking h1, h2; desk-1, desk-2) signing in at the test provider, started."""
    flush_e2e_db(e2e_redis)
    intake = intake_process(tmp_path, pbx, e2e_redis, handlers=HOT_DESKING, positions=POSITIONS)
    try:
        with oidc_provider([f"{intake.base}/auth/callback"]) as provider:
            signing_in_at(intake, provider)
            intake.start()
            yield intake, provider
    finally:
        intake.stop()
        print(f"--- tail of intake serve's log ({intake.log_path}) ---\n{intake.log_tail(60)}")


def trail(redis_url: str) -> list[tuple[bytes, dict[str, Any]]]:
    """The audit trail as stored: each link as Redis holds it, and its entry."""
    with redis.Redis.from_url(f"{redis_url}/{E2E_REDIS_DB}") as client:
        return [(raw, json.loads(raw)["entry"]) for raw in client.lrange(LINKS, 0, -1)]


async def fetched(page: Any, path: str) -> dict[str, Any]:
    """``path`` fetched by the page itself (its session cookie): status and body."""
    return await page.evaluate("""async (path) => {
        const r = await fetch(path);
        return {status: r.status, type: r.headers.get('content-type'), body: await r.text()};
    }""", path)  # type: ignore[no-any-return]


async def test_a_signed_in_handler_works_a_shift_at_a_position_and_the_trail_holds_it(
        shift: tuple[IntakeProcess, OidcProvider], ami: RawAmi, e2e_redis: str, browser: Any) -> None:
    intake, provider = shift
    began = time.time()
    phone = HandlerPhone("handler-1", answer_after=3.0)
    await asyncio.to_thread(phone.start)
    handler_ctx = await browser.new_context(viewport={"width": 1280, "height": 1100})
    supervisor_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    desk, board = await handler_ctx.new_page(), await supervisor_ctx.new_page()
    caller = None
    try:
        # --- h1 signs in through the provider's own login page, then sits at desk-1 (the picker).
        await desk.goto(intake.base + "/desktop")
        await provider_sign_in(desk, provider, "h1", intake.base + "/desktop")
        await desk.wait_for_selector("#connection.up", timeout=patience_ms(10000))
        await desk.wait_for_selector("#position-bar:not(.hidden)", timeout=patience_ms(10000))
        await desk.wait_for_function("() => !document.querySelector('#btn-take-position').disabled",
                                     timeout=patience_ms(10000))
        await desk.select_option("#position-pick", "desk-1")
        await desk.click("#btn-take-position")
        await desk.wait_for_function("() => document.querySelector('#position-now').textContent === 'desk-1'",
                                     timeout=patience_ms(10000))
        # The PBX has desk-1's phone in h1's queues, ready, under h1's id (the queue_log's agent).
        await member_shows(ami, DESK, QUEUES, "0")
        assert {q: (s["Name"], s["Membership"]) for q, s in (await member_status(ami, DESK)).items()} == \
            {q: ("h1", "dynamic") for q in QUEUES}
        await desk_state(desk, "ready", timeout=patience_ms(10000))

        # --- h2, with the provider's bearer JWT, is refused desk-1, told who holds it; the PBX unchanged.
        h2 = (await asyncio.to_thread(provider.tokens_for, "h2"))["access_token"]
        async with httpx.AsyncClient(base_url=intake.base, headers={"Authorization": f"Bearer {h2}"}) as http:
            r = await http.post("/api/me/position", json={"position": "desk-1"})
            assert (r.status_code, r.json()) == (409, {"error": "position-taken", "field": "position",
                                                       "detail": "position desk-1 is taken by h1"}), r.text
            picker = (await http.get("/api/me/positions")).json()
        assert {p["id"]: p["holder"] for p in picker["positions"]} == {"desk-1": "h1", "desk-2": None}
        assert {s["Name"] for s in (await member_status(ami, DESK)).values()} == {"h1"}

        # --- A 999 call pops to h1 while desk-1's phone rings; h1 answers and files the outcome.
        caller = sipp_dial("999", callers=["caller-6"], hangup_after=10.0)
        ringing = await ringing_pop(desk)
        assert not any(c.answered_at for c in phone.calls), "the pop must be on screen before the phone is answered"
        assert (ringing["number"], ringing["line"]) == (NUMBER, "999"), ringing
        call_id = ringing["call_id"]
        await asyncio.to_thread(phone.wait_answered, patience(10))
        await desk.wait_for_selector("#outcome:not(.hidden)", timeout=patience_ms(10000))
        await desk.select_option("#grading", "priority")
        await desk.fill("#notes", "caller safe; unit advised")
        await desk.click("#save-outcome")
        await desk.wait_for_selector("#outcome-saved:not(.hidden)", timeout=patience_ms(10000))
        assert await asyncio.to_thread(caller.wait, patience(30)) == 0, caller.output()
        record = await wait_until(lambda: journal(e2e_redis).get(call_id), 10, "the call journalled")
        assert (record["settled"], record["handler_id"], record["position"]) == ("answered", "h1", "desk-1")
        await desk.screenshot(path=str(ARTIFACTS / "shift-signed-in-desktop.png"))

        # --- sup1 signs in through the provider: the caller's history with a reason, the day's report.
        await board.goto(intake.base + "/wallboard")
        await provider_sign_in(board, provider, "sup1", intake.base + "/wallboard")
        await board.wait_for_selector("[data-line='999']", timeout=patience_ms(10000))
        look = await fetched(board, f"/api/history/{NUMBER}?{urlencode({'reason': LOOK})}")
        assert look["status"] == 200, look
        assert [(c["call_id"], (c["outcome"] or {}).get("grading")) for c in json.loads(look["body"])["recent"]] == \
            [(call_id, "priority")]
        day = date.today().isoformat()
        report = await fetched(board, f"/api/reports/{day}/csv?{urlencode({'reason': REPORT})}")
        assert (report["status"], report["type"].split(";")[0]) == (200, "text/csv"), report
        # A supervisor is no auditor: the trail itself is not theirs to export.
        assert (await fetched(board, f"/api/audit/{NUMBER}?reason=curious"))["status"] == 403
        exported = intake_cli(intake, "audit", "export", "--number", NUMBER, "--reason", SUBJECT_ACCESS)
        assert exported.returncode == 0, exported.stderr

        # --- h1 signs out: the PBX takes desk-1's phone out of h1's queues; desk-1 is free again.
        start = len(ami.frames)
        await desk.click("#sign-out")
        await sign_out_at_provider_page(desk, provider.issuer)  # the provider's session ends too
        await desk.wait_for_selector("#signin:not(.hidden)", timeout=patience_ms(10000))
        for queue in QUEUES:
            await ami.wait_event("QueueMemberRemoved", patience(15), start, {"Queue": queue, "Interface": DESK})
        assert await member_status(ami, DESK) == {}
        async with httpx.AsyncClient(base_url=intake.base, headers={"Authorization": f"Bearer {h2}"}) as http:
            picker = (await http.get("/api/me/positions")).json()
        assert {p["id"]: p["holder"] for p in picker["positions"]} == {"desk-1": None, "desk-2": None}
    finally:
        if caller is not None:
            caller.stop()
        await put_away(phone, handler_ctx, supervisor_ctx)

    # --- Every pop, look, outcome and export of the shift is in the trail: who, when, why.
    wanted = {
        ("consulted", "history", "h1", "handler", "desk-1", f"call {call_id}"),  # the pop, with the history
        ("altered", "outcome", "h1", "handler", "desk-1", f"call {call_id}"),  # the outcome (over the socket)
        ("consulted", "history", "sup1", "supervisor", None, f"reason: {LOOK}"),
        ("disclosed", "report", "sup1", "supervisor", None, f"reason: {REPORT}"),
        ("disclosed", "audit", None, "admin", None, f"reason: {SUBJECT_ACCESS}"),  # the CLI's operator
    }

    def shown(entry: dict[str, Any]) -> tuple[Any, ...]:
        return (entry["action"], entry["kind"], entry["who_subject"] if entry["role"] != "admin" else None,
                entry["role"], entry["position"], entry["why"])

    links = await eventually(lambda: (found := trail(e2e_redis)) and wanted <= {shown(e) for _, e in found} and found,
                             10, "the shift's entries in the audit trail", in_thread=True)
    ours = {shown(e): e for _, e in links if shown(e) in wanted}
    ended = time.time()
    # The subject is the provider's (a static token would say token:h1), and the id intake's.
    assert {(e["who_subject"], e["who_id"]) for e in ours.values() if e["role"] != "admin"} == \
        {("h1", "h1"), ("sup1", "sup1")}
    assert all(began <= e["at"] <= ended and e["node"] for e in ours.values()), ours
    assert {e["number"] for e in ours.values() if e["kind"] != "report"} == {NUMBER}

    # --- Tampering: an entry edited in Redis, then another deleted, each named by `intake audit verify`.
    verified = intake_cli(intake, "audit", "verify")
    assert verified.returncode == 0 and "audit trail intact" in verified.stdout, (verified.stdout, verified.stderr)
    links = trail(e2e_redis)  # with the export's own entry
    outcome_at = next(i for i, (_, e) in enumerate(links) if (e["action"], e["kind"]) == ("altered", "outcome"))
    pop_at = next(i for i, (_, e) in enumerate(links) if (e["action"], e["who_id"]) == ("consulted", "h1"))
    with redis.Redis.from_url(f"{e2e_redis}/{E2E_REDIS_DB}") as client:
        original, _ = links[outcome_at]
        edited = json.loads(original)
        edited["entry"]["why"] = "call someone-elses"
        client.lset(LINKS, outcome_at, json.dumps(edited))
        broken = intake_cli(intake, "audit", "verify")
        assert broken.returncode == 1, (broken.stdout, broken.stderr)
        assert f"entry {json.loads(original)['seq']} altered (at position {outcome_at})" in broken.stderr, broken.stderr
        client.lset(LINKS, outcome_at, original)
        assert intake_cli(intake, "audit", "verify").returncode == 0

        removed, _ = links[pop_at]
        client.lrem(LINKS, 1, removed)
        broken = intake_cli(intake, "audit", "verify")
        assert broken.returncode == 1, (broken.stdout, broken.stderr)
        assert f"entry {json.loads(removed)['seq']} removed" in broken.stderr, broken.stderr
