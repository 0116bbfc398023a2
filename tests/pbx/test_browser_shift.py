"""A handler works a shift in the browser against the real PBX test bed (issue 4's "done when").

Real parts only: Asterisk 22 (scripts/pbx-up), `intake serve` in its own process, a pyVoIP
HandlerPhone for handler-1 (answering after 3 s, so the pop is on screen before the answer), a
SIPp caller dialling 999, and Debian's chromium driven by Playwright: one context for the
handler's /desktop, another for a supervisor's /wallboard. A raw AMI session (not intake's)
checks the PBX's own view of the member after every button (QueueStatus: present, Paused,
PausedReason) and timestamps the PBX events the wallboard must follow within a second.

The shift: sign in (a wrong token first: refused), Ready, a 999 call pops while the phone
rings, the handler answers, bad outcomes are refused (form and socket) and store nothing, the
outcome is saved, the caller hangs up, intake's wrap-up pause runs and ends, the handler goes
not ready for a break (a forged reason first: refused, the PBX untouched). Screenshots of both
pages at each step land in test-artifacts/shift-*.png.

Chromium or the PBX missing is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
import json
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.browser.conftest import ARTIFACTS
from tests.pbx.harness import (
    SUPERVISOR_TOKEN,
    IntakeProcess,
    QueueLogWindow,
    assert_agrees_with_queue_log,
    desk_state,
    intake_cli,
    member_shows,
    put_away,
    token_of,
    write_config,
)  # fmt: skip
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import Frame, RawAmi
from tests.waiting import eventually, patience_ms

pytestmark = [pytest.mark.pbx, pytest.mark.browser]

MEMBER = "PJSIP/handler-1"
QUEUES = ("emergency", "non-emergency")
CALLER = "caller-6"
NUMBER = "07700900006"
WRAPUP_SECONDS = 3
BOARD_BOUND = 1.0  # the wallboard follows a PBX event within this many seconds

# The wallboard as a supervisor reads it: per line, the figures and the handler-state counts.
READ_BOARD = """() => Object.fromEntries([...document.querySelectorAll('[data-line]')].map(s => [s.dataset.line, {
    waiting: s.querySelector('[data-figure=waiting] .value').textContent,
    answered: s.querySelector('[data-figure=answered] .value').textContent,
    abandoned: s.querySelector('[data-figure=abandoned] .value').textContent,
    states: Object.fromEntries([...s.querySelectorAll('.handlers [data-state]')].map(e => [e.dataset.state, e.textContent])),
    handlers: Object.fromEntries([...document.querySelectorAll('#handlers tbody tr')].map(r => [r.dataset.handler, {
        state: r.querySelector('[data-col=state]').textContent, reason: r.querySelector('[data-col=reason]').textContent}])),
}]))"""


class Shot:
    """Numbered screenshots of both pages: test-artifacts/shift-NN-step-{desktop,wallboard}.png."""

    def __init__(self, desk: Any, board: Any) -> None:
        self.desk, self.board, self.n = desk, board, 0

    async def __call__(self, step: str) -> None:
        self.n += 1
        for name, page in (("desktop", self.desk), ("wallboard", self.board)):
            await page.screenshot(path=str(ARTIFACTS / f"shift-{self.n:02d}-{step}-{name}.png"), full_page=True)


def stamped(ami: RawAmi, name: str, **fields: str) -> asyncio.Task[tuple[float, Frame]]:
    """Start waiting for a PBX event now (before the action that causes it), so its arrival
    time is exact: the task returns (monotonic arrival, frame)."""
    start = len(ami.frames)

    async def wait() -> tuple[float, Frame]:
        frame = await ami.wait_event(name, 20, start, fields)
        return time.monotonic(), frame

    return asyncio.create_task(wait())


async def pbx_shows(ami: RawAmi, paused: str | None, reason: str = "") -> dict[str, Frame]:
    """handler-1 as the PBX shows it (QueueStatus): see :func:`tests.pbx.harness.member_shows`."""
    return await member_shows(ami, MEMBER, QUEUES, paused, reason)


async def board_follows(board: Any, since: float, what: str, check: Callable[[dict[str, Any]], bool]) -> float:
    """Poll the wallboard page until ``check`` holds; it must within BOARD_BOUND of ``since`` (the
    PBX event's arrival). Returns the delay after the PBX event."""
    shown: dict[str, Any] = {}
    while True:
        shown = await board.evaluate(READ_BOARD)
        if shown and check(shown):
            return time.monotonic() - since
        if time.monotonic() - since > BOARD_BOUND:
            raise AssertionError(f"wallboard did not show {what} within {BOARD_BOUND} s of the PBX event: {shown}")
        await asyncio.sleep(0.03)


def line999(shown: dict[str, Any]) -> dict[str, Any]:
    return shown["999"]


def counts(shown: dict[str, Any], **want: int) -> bool:
    labels = {"ready": "Ready", "ringing": "Ringing", "on_call": "On call", "wrap_up": "Wrap-up", "not_ready": "Not ready"}
    states = line999(shown)["states"]
    return all(states.get(k.replace("_", "-")) == f"{labels[k]}: {n}" for k, n in want.items())


def h1_shown(shown: dict[str, Any], state: str, reason: str = "") -> bool:
    row = line999(shown)["handlers"].get("h1")
    return row is not None and row["state"] == state and row["reason"] == reason


async def history(intake: IntakeProcess) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=intake.base, headers={"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}) as http:
        r = await http.get(f"/api/history/{NUMBER}", params={"reason": "the test checks the shift"})
        r.raise_for_status()
        return r.json()["recent"]  # type: ignore[no-any-return]


async def test_a_handler_works_a_shift_in_the_browser_and_the_wallboard_follows(
        intake: IntakeProcess, pbx: Any, ami: RawAmi, e2e_redis: str, browser: Any, tmp_path: Path) -> None:
    write_config(intake.config, pbx, e2e_redis, intake.http_port, wrapup_seconds=WRAPUP_SECONDS)
    window = QueueLogWindow(pbx).mark()
    intake.start()
    phone = HandlerPhone("handler-1", answer_after=3.0)
    await asyncio.to_thread(phone.start)
    handler_ctx = await browser.new_context(viewport={"width": 1280, "height": 1100})
    supervisor_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    desk, board = await handler_ctx.new_page(), await supervisor_ctx.new_page()
    shot = Shot(desk, board)
    delays: dict[str, float] = {}
    caller = None
    try:
        # --- the supervisor's wallboard: a handler's token is refused, the supervisor's is not.
        await board.goto(intake.base + "/wallboard")
        await board.fill("#token", token_of("h1"))
        await board.click("#signin button[type=submit]")
        await board.wait_for_selector("#signin-error:not(.hidden)", timeout=patience_ms(5000))
        assert "a supervisor token is required" in await board.text_content("#signin-error")
        await board.fill("#token", SUPERVISOR_TOKEN)
        await board.click("#signin button[type=submit]")
        await board.wait_for_selector("[data-line='999']", timeout=patience_ms(5000))
        await board.wait_for_function("() => document.querySelector('#connection').textContent === 'Live'", timeout=patience_ms(5000))

        # --- the handler signs in: a wrong token is refused with a message, then their own.
        await desk.goto(intake.base + "/desktop")
        await desk.fill("#token", "not-a-token-of-anyone-0123456789")
        await desk.click("#signin button[type=submit]")
        await desk.wait_for_selector("#signin-error:not(.hidden)", timeout=patience_ms(5000))
        assert "That token was not accepted" in await desk.text_content("#signin-error")
        await desk.fill("#token", token_of("h1"))
        await desk.click("#signin button[type=submit]")
        await desk.wait_for_selector("#connection.up", timeout=patience_ms(5000))
        await desk_state(desk, "logged-out")
        await pbx_shows(ami, None)
        await shot("signed-in")

        # --- Ready: QueueAdd on both queues; the wallboard shows h1 ready.
        added = stamped(ami, "QueueMemberAdded", Interface=MEMBER, Queue="non-emergency")
        await desk.click("#btn-ready")
        at, _ = await added
        delays["ready"] = await board_follows(board, at, "h1 ready", lambda s: counts(s, ready=1) and h1_shown(s, "Ready"))
        await pbx_shows(ami, "0")
        await desk_state(desk, "ready")
        await shot("ready")

        # --- A 999 call: waiting on the wallboard, the pop on the desktop while the phone rings.
        joined = stamped(ami, "QueueCallerJoin", Queue="emergency")
        called = stamped(ami, "AgentCalled", Queue="emergency", Interface=MEMBER)
        # hangup_after counts from the PBX answering the caller (at once): ~1 s queued, 3 s ringing, ~6 s talking.
        caller = sipp_dial("999", callers=[CALLER], hangup_after=10.0)
        at, _ = await joined
        delays["call waiting"] = await board_follows(board, at, "a 999 call waiting", lambda s: line999(s)["waiting"] == "1")
        at, _ = await called
        delays["ringing"] = await board_follows(board, at, "h1 ringing", lambda s: counts(s, ringing=1) and h1_shown(s, "Ringing"))
        ringing = await (await desk.wait_for_function("""() => {
            const q = (s) => document.querySelector(s);
            return !q('#pop').classList.contains('hidden') && q('#pop-phase').textContent === 'Ringing' && {
                number: q('#pop-number').textContent, line: q('#pop-line').textContent, call_id: q('#pop').dataset.callId,
                form_hidden: q('#outcome').classList.contains('hidden')};
        }""", timeout=patience_ms(10000))).json_value()
        popped_at = time.monotonic()
        # (The pop may even beat pyVoIP's ringing callback: it must only beat the answer.)
        assert not any(c.answered_at for c in phone.calls), "the pop must be on screen before the phone is answered"
        assert ringing["number"] == NUMBER and ringing["line"] == "999" and ringing["form_hidden"], ringing
        call_id = ringing["call_id"]
        await shot("pop-before-answer")

        # --- The phone answers: answered 1/1 and h1 on call on the wallboard, the form on the desktop.
        connected = stamped(ami, "AgentConnect", Queue="emergency", Interface=MEMBER)
        answered = await asyncio.to_thread(phone.wait_answered, 10)
        assert popped_at < answered.answered_at
        at, _ = await connected
        delays["answered"] = await board_follows(board, at, "answered 1/1, nobody waiting, h1 on call", lambda s: (
            line999(s)["answered"] == "1/1" and line999(s)["waiting"] == "0" and counts(s, on_call=1) and h1_shown(s, "On call")))
        await desk.wait_for_selector("#outcome:not(.hidden)", timeout=patience_ms(5000))
        assert await desk.text_content("#pop-phase") == "On call"
        await desk_state(desk, "on-call")
        await shot("answered")

        # Watch for intake's wrap-up pause (and its end) from now: the caller may hang up any time.
        wrap = stamped(ami, "QueueMemberPause", Interface=MEMBER, Queue="non-emergency", Paused="1")
        unwrap = stamped(ami, "QueueMemberPause", Interface=MEMBER, Queue="non-emergency", Paused="0")

        # --- Bad outcomes are refused with a message and store nothing.
        await desk.click("#save-outcome")  # no grading chosen: the browser's own validation stops it
        grading_says = await desk.evaluate("document.querySelector('#grading').validationMessage")
        assert grading_says and await desk.is_hidden("#outcome-saved"), grading_says
        await desk.select_option("#grading", "priority")
        await desk.fill("#notes", "x" * 4001)  # over the limit: the server refuses it
        await desk.click("#save-outcome")
        await desk.wait_for_function("() => document.querySelector('#outcome-error').textContent.includes('notes: longer than 4000 characters')",
                                     timeout=patience_ms(3000))
        assert await desk.is_hidden("#outcome-saved")
        await shot("outcome-refused")
        for message, shown in [({"type": "outcome", "call_id": call_id, "grading": "urgent"}, "grading: 'urgent' is not one of"),
                               ({"type": "outcome", "call_id": "no-such-call", "grading": "priority"}, "no call 'no-such-call' is known"),
                               ({"type": "launch"}, "is not one of 'outcome', 'ack' or 'pong'")]:
            await desk.evaluate("m => window.intakeDesktop.send(m)", message)
            await desk.wait_for_function("t => document.querySelector('#outcome-error').textContent.includes(t)"
                                         " || document.querySelector('#desk-error').textContent.includes(t)", arg=shown, timeout=patience_ms(3000))
        assert all(c["outcome"] is None for c in await history(intake)), "a refused outcome was stored"

        # --- The outcome, filed in the form, is saved.
        note = "shift test: caller safe, unit advised"
        await desk.fill("#notes", note)
        await desk.fill("#t-risk", "medium")
        await desk.click("#save-outcome")
        await desk.wait_for_selector("#outcome-saved:not(.hidden)", timeout=patience_ms(5000))
        await shot("outcome-saved")

        # --- The caller hangs up: intake pauses h1 for wrap-up, then makes them ready again.
        assert await asyncio.to_thread(caller.wait, 20) == 0, caller.output()
        at, frame = await wrap
        assert frame.get("PausedReason") == "wrap-up", frame
        delays["wrap-up"] = await board_follows(board, at, "h1 in wrap-up", lambda s: counts(s, wrap_up=1) and h1_shown(s, "Wrap-up"))
        await pbx_shows(ami, "1", "wrap-up")
        await desk_state(desk, "wrap-up")
        await shot("wrap-up")
        at, _ = await unwrap
        delays["ready after wrap-up"] = await board_follows(board, at, "h1 ready after wrap-up",
                                                            lambda s: counts(s, ready=1, wrap_up=0) and h1_shown(s, "Ready"))
        await pbx_shows(ami, "0")
        await desk_state(desk, "ready")

        # --- A break: a forged reason is refused and leaves the PBX as it was; then "break".
        await desk.evaluate("""() => { const o = document.querySelector('#reason option[value=admin]');
                                        o.value = 'x\\r\\nAction: Hangup'; o.selected = true; }""")
        await desk.click("#btn-not-ready")
        await desk.wait_for_selector("#state-error:not(.hidden)", timeout=patience_ms(3000))
        refused = await desk.text_content("#state-error")
        assert refused.startswith("Could not change state:") and "reason" in refused, refused
        await pbx_shows(ami, "0")
        await shot("break-refused")
        await desk.select_option("#reason", "break")
        paused = stamped(ami, "QueueMemberPause", Interface=MEMBER, Queue="non-emergency", Paused="1")
        await desk.click("#btn-not-ready")
        at, frame = await paused
        assert frame.get("PausedReason") == "break", frame
        delays["break"] = await board_follows(board, at, "h1 not ready (break)",
                                              lambda s: counts(s, not_ready=1, ready=0) and h1_shown(s, "Not ready", "break"))
        await pbx_shows(ami, "1", "break")
        await desk_state(desk, "not-ready")
        assert await desk.text_content("#state-reason") == "(break)"
        assert await desk.is_hidden("#state-error")
        await shot("break")
    finally:
        if caller is not None:
            caller.stop()
        await put_away(phone, handler_ctx, supervisor_ctx)
        print("wallboard delay after the PBX event, per step:", {k: round(v, 3) for k, v in delays.items()})

    # What was stored: exactly the one outcome filed in the form; the PBX's record agrees.
    recent = await eventually(lambda: history(intake), 5, "the call in the caller's history")
    assert [(c["call_id"], c["disposition"], (c["outcome"] or {}).get("grading")) for c in recent] == [(call_id, "answered", "priority")]
    assert recent[0]["outcome"]["notes"] == note and recent[0]["outcome"]["handler_id"] == "h1"
    assert recent[0]["outcome"]["thrive"]["risk"] == "medium"
    filed = [r for r in intake.log_records() if r.get("event") == "outcome_filed"]
    assert [(r["call_id"], r["grading"]) for r in filed] == [(call_id, "priority")], "only the good outcome reaches the store"
    logged = assert_agrees_with_queue_log(intake, window, e2e_redis)
    assert logged["emergency"]["offered"] == logged["emergency"]["answered"] == 1
    await the_shift_is_in_the_audit_trail(intake, call_id)


async def the_shift_is_in_the_audit_trail(intake: IntakeProcess, call_id: str) -> None:
    """Issue 14's "done when": the pop, the outcome and the history views of the shift are in the
    trail with who, when and why; deleting one entry in Redis makes `intake audit verify` name it."""
    def exported() -> list[dict[str, Any]]:
        done = intake_cli(intake, "audit", "export", "--number", NUMBER, "--reason", "the shift test")
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    def of_the_shift(entries: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
        return {(e["action"], e["kind"], e["who_id"], e["why"]) for e in entries}

    wanted = {("consulted", "history", "h1", f"call {call_id}"),  # the pop, with the caller's history
              ("altered", "outcome", "h1", f"call {call_id}"),  # the outcome filed in the form
              ("consulted", "history", "sup1", "reason: the test checks the shift")}  # the supervisor's look
    entries = await eventually(lambda: (found := exported()) and wanted <= of_the_shift(found) and found, 10,
                               "the shift's entries in the audit trail")
    assert all(e["number"] == NUMBER and e["node"] and e["at"] > time.time() - 600 for e in entries)
    verified = intake_cli(intake, "audit", "verify")
    assert verified.returncode == 0 and "audit trail intact" in verified.stdout, verified.stderr
    with redis.Redis.from_url(intake_redis_url(intake)) as client:
        client.lrem("e2e:audit:{trail}:links", 1, client.lindex("e2e:audit:{trail}:links", 1))
    broken = intake_cli(intake, "audit", "verify")
    assert broken.returncode == 1 and "entry 2 removed" in broken.stderr, (broken.stdout, broken.stderr)


def intake_redis_url(intake: IntakeProcess) -> str:
    return str(tomllib.loads(intake.config.read_text())["redis"]["url"])
