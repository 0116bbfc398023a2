"""Call-backs in chromium against ``intake demo``: an abandoned 999 caller appears on a ready 999
handler's desktop as a card of its own, is called back and closed by the outcome, which the
caller's next pop shows in its history; a busy phone's
refusal and a bad outcome are shown as messages; the supervisors' wallboard lists the open tasks,
whom each is offered to, and the escalated ones in red.

The demo runs without random 999 traffic (``--rate emergency=0``); the test places its 999 calls
over the simulated PBX's AMI (Originate into the 999 queue, Hangup while waiting) as a script
would against Asterisk, so it knows exactly which callers abandoned.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_desktop import eventually, set_state, sign_in
from tests.demo_process import demo_process
from tests.simulator.ami_client import AmiTestClient
from tests.waiting import patience_ms

pytestmark = pytest.mark.browser

FIRST, SECOND = "07700900901", "07700900902"  # outside the demo's caller pool
HANDLERS = ("h1", "h2", "h3", "h4")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with demo_process(tmp_path_factory.mktemp("demo"), "--seed", "5", "--rate", "emergency=0",
                      "--escalate-callbacks", "20") as demo:
        yield demo


async def pbx(demo: dict) -> AmiTestClient:
    """A short AMI session with the demo's simulated PBX (one per step: nobody reads it between)."""
    return await AmiTestClient.logged_in(demo["ami_port"], demo["ami_username"], demo["ami_secret"])


async def call_999(demo: dict, number: str, *, give_up: bool = False) -> None:
    """A caller dials 999 (Originate Local/999@callers, as a script would on Asterisk) and, with
    ``give_up``, hangs up while still waiting in the queue."""
    ami = await pbx(demo)
    try:
        done = await ami.action("Originate", Channel="Local/999@callers", Application="Wait", Data="120", Async="true",
                                CallerID=f'"Test Caller" <{number}>')
        assert done["Response"] == "Success", done
        joined = await ami.wait_event("QueueCallerJoin", 5, CallerIDNum=number)
        if give_up:
            hung = await ami.action("Hangup", Channel=joined["Channel"])
            assert hung["Response"] == "Success", hung
    finally:
        await ami.close()


async def test_a_call_back_on_the_desktop_from_offer_to_outcome_and_on_the_wallboard(page, demo: dict):
    sup = {"Authorization": f"Bearer {demo['supervisors']['sup1']}"}
    for handler in HANDLERS:  # nobody answers 999 while the test's callers give up
        await set_state(demo, handler, "logged-out")
    http = httpx.AsyncClient(base_url=demo["base_url"], headers=sup)
    try:
        for number in (FIRST, SECOND):
            await call_999(demo, number, give_up=True)

        async def open_tasks() -> list[dict] | None:
            tasks = (await http.get("/api/callbacks")).json()["callbacks"]
            return tasks if {t["number"] for t in tasks} == {FIRST, SECOND} else None

        first, second = await eventually(open_tasks, timeout=10)
        assert (first["number"], first["offered_to"], second["offered_to"]) == (FIRST, None, None)

        wallboard = await page.context.new_page()
        await wallboard.goto(demo["base_url"] + "/wallboard")
        await wallboard.fill("#token", demo["supervisors"]["sup1"])
        await wallboard.click("#signin button[type=submit]")
        await wallboard.wait_for_selector(f"#callback-tasks tr[data-task='{first['id']}']", timeout=patience_ms(5000))
        row = await wallboard.text_content(f"#callback-tasks tr[data-task='{first['id']}']")
        assert FIRST in row and "Waiting for a ready 999 handler" in row

        # h2 (999 only) signs in and goes ready: the oldest task comes up as a call-back card.
        await sign_in(page, demo, "h2")
        await page.click("#btn-ready")
        await page.wait_for_selector("#callback:not(.hidden)", timeout=patience_ms(10000))
        card = await page.evaluate("""() => ({
            title: document.querySelector('#cb-title').textContent, number: document.querySelector('#cb-number').textContent,
            task: document.querySelector('#callback').dataset.taskId, facts: document.querySelector('.cb-facts').textContent,
            history: document.querySelector('#cb-history').textContent,
            pop_hidden: document.querySelector('#pop').classList.contains('hidden'),
            form_hidden: document.querySelector('#cb-outcome').classList.contains('hidden')})""")
        assert "Call back — abandoned 999" in card["title"] and card["number"] == FIRST and card["task"] == first["id"]
        assert "after waiting" in card["facts"] and "in emergency" in card["facts"]
        assert "offered to h2" in card["history"] and "abandoned after" in card["history"]
        assert card["pop_hidden"] and card["form_hidden"]  # not a ringing call; no outcome before calling
        await wallboard.wait_for_function(
            "id => document.querySelector(`#callback-tasks tr[data-task='${id}'] [data-col=offered]`).textContent === 'Ben Okafor'",
            arg=first["id"], timeout=patience_ms(5000))
        await page.screenshot(path=str(ARTIFACTS / "desktop-callback-offer.png"))

        ami = await pbx(demo)
        try:
            await page.click("#cb-start")
            await page.wait_for_selector("#cb-outcome:not(.hidden)", timeout=patience_ms(5000))
            assert await page.text_content("#cb-phase") == "Calling back"
            # The PBX rang h2's phone, to dial the caller's number once answered.
            originated = await ami.wait_for(lambda f: f.event == "OriginateResponse" and f["Response"] == "Success", 5)
            assert originated["Channel"].startswith("PJSIP/handler-2-") and originated["Exten"] == FIRST
        finally:
            await ami.close()

        # A caller reached must be graded: refused with the server's message, the task still open.
        await page.select_option("#cb-contact", "reached")
        await page.fill("#cb-notes", "pocket dial")
        await page.click("#cb-save")
        await page.wait_for_selector("#cb-error:not(.hidden)", timeout=patience_ms(5000))
        assert "grading: required when the caller was reached" in await page.text_content("#cb-error")
        still = [t for t in (await http.get("/api/callbacks")).json()["callbacks"] if t["id"] == first["id"]]
        assert still and still[0]["outcome"] is None and still[0]["status"] == "calling"
        await page.screenshot(path=str(ARTIFACTS / "desktop-callback-refused.png"))

        await page.select_option("#cb-grading", "resolved")
        await page.click("#cb-save")
        # The card goes; the next open task (the second caller) comes up for h2.
        await page.wait_for_function("id => document.querySelector('#callback').dataset.taskId === id", arg=second["id"], timeout=patience_ms(10000))
        assert await page.text_content("#cb-number") == SECOND
        assert await page.is_hidden("#cb-outcome") and await page.is_hidden("#cb-error")
        closed = await wallboard.wait_for_function(
            "id => !document.querySelector(`#callback-tasks tr[data-task='${id}']`)", arg=first["id"], timeout=patience_ms(5000))
        assert closed

        # The first caller rings 999 again and h2's phone takes it: the pop's history shows our
        # call-back, set apart from the calls, with who made it and what came of it.
        await call_999(demo, FIRST)
        await page.wait_for_function("() => document.querySelector('#state').dataset.state === 'on-call'", timeout=patience_ms(15000))
        await page.wait_for_selector("#pop-recent tr.called-back", timeout=patience_ms(5000))
        assert await page.text_content("#pop-number") == FIRST
        called_back = await page.text_content("#pop-recent tr.called-back")
        assert "Called back by Ben Okafor" in called_back and "reached, graded resolved: pocket dial" in called_back
        rows = await page.eval_on_selector_all("#pop-recent tbody tr", "rows => rows.map(r => r.className)")
        assert rows == ["called-back", ""]  # above the abandoned call it followed up
        assert "Finished calls from this number: 1 in the last 24 h" in await page.text_content("#pop-counts")
        assert await page.is_hidden("#pop-flags")  # our call-back does not make them a repeat caller
        await page.screenshot(path=str(ARTIFACTS / "desktop-pop-called-back.png"), full_page=True)

        # h2's phone on that 999 call: the PBX answers the call-back busy, and the card says so.
        await page.click("#cb-start")
        await page.wait_for_selector("#cb-problem:not(.hidden)", timeout=patience_ms(5000))
        assert "The call-back did not start: your phone is busy" in await page.text_content("#cb-problem")
        assert await page.is_enabled("#cb-start") and await page.is_hidden("#cb-outcome")  # theirs to try again
        assert await page.is_visible("#pop")  # the ringing/answered call and the call-back, side by side
        await page.screenshot(path=str(ARTIFACTS / "desktop-callback-busy.png"), full_page=True)

        # Left open, the second task is escalated: red on the wallboard, flagged on the card.
        await wallboard.wait_for_selector(f"#callback-tasks tr.escalated[data-task='{second['id']}']", timeout=patience_ms(30000))
        row = await wallboard.text_content(f"#callback-tasks tr[data-task='{second['id']}']")
        assert "Escalated" in row and "Ben Okafor" in row and "h2" not in row and SECOND in row
        await page.wait_for_selector("#cb-escalated:not(.hidden)", timeout=patience_ms(5000))
        await wallboard.screenshot(path=str(ARTIFACTS / "wallboard-callbacks.png"), full_page=True)

        r = await http.post(f"/api/callbacks/{second['id']}/outcome", json={"contact": "no-answer"},
                            headers={"Authorization": f"Bearer {demo['handlers']['h2']}"})
        assert r.status_code == 200, r.text
        await page.wait_for_selector("#callback.hidden", state="attached", timeout=patience_ms(5000))
        await wallboard.wait_for_selector("#no-callbacks:not(.hidden)", timeout=patience_ms(5000))
    finally:
        await http.aclose()
        for handler in HANDLERS:
            await set_state(demo, handler, "ready")


async def test_the_card_leaves_a_desktop_whose_handler_goes_not_ready_and_the_caller_calling_again_closes_it(page, demo: dict):
    for handler in HANDLERS:
        await set_state(demo, handler, "logged-out")
    number = "07700900904"
    try:
        await call_999(demo, number, give_up=True)
        await sign_in(page, demo, "h2")
        await page.click("#btn-ready")
        await page.wait_for_function("n => document.querySelector('#cb-number').textContent === n"
                                     " && !document.querySelector('#callback').classList.contains('hidden')", arg=number, timeout=patience_ms(10000))
        await page.select_option("#reason", "break")
        await page.click("#btn-not-ready")
        await page.wait_for_selector("#callback.hidden", state="attached", timeout=patience_ms(5000))
        assert "passed to another handler" in await page.text_content("#cb-note")

        await page.click("#btn-ready")
        await page.wait_for_function("n => document.querySelector('#cb-number').textContent === n"
                                     " && !document.querySelector('#callback').classList.contains('hidden')", arg=number, timeout=patience_ms(10000))
        await call_999(demo, number)  # the caller tries again: the call-back is no longer needed
        await page.wait_for_function("() => document.querySelector('#cb-note').textContent.includes('the caller called again')",
                                     timeout=patience_ms(10000))
        assert await page.is_hidden("#callback")
    finally:
        for handler in HANDLERS:
            await set_state(demo, handler, "ready")


async def test_a_withheld_callers_card_offers_no_call_back_but_takes_the_outcome(page, demo: dict):
    """Issue 11: a number the PBX cannot dial is followed up all the same; the card says why there
    is no "Call back now" and takes what the handler did instead; the wallboard says so too."""
    sup = {"Authorization": f"Bearer {demo['supervisors']['sup1']}"}
    for handler in HANDLERS:
        await set_state(demo, handler, "logged-out")
    try:
        await call_999(demo, "anonymous", give_up=True)
        wallboard = await page.context.new_page()
        await wallboard.goto(demo["base_url"] + "/wallboard")
        await wallboard.fill("#token", demo["supervisors"]["sup1"])
        await wallboard.click("#signin button[type=submit]")
        await wallboard.wait_for_function(
            "() => [...document.querySelectorAll('#callback-tasks [data-col=state]')].some(c => c.textContent.startsWith('Number cannot be dialled'))",
            timeout=patience_ms(10000))

        await sign_in(page, demo, "h2")
        await page.click("#btn-ready")
        await page.wait_for_function("() => document.querySelector('#cb-number').textContent === 'anonymous'"
                                     " && !document.querySelector('#callback').classList.contains('hidden')", timeout=patience_ms(10000))
        assert await page.text_content("#cb-phase") == "Cannot be dialled"
        assert "This number cannot be dialled (it is not a dialable number" in await page.text_content("#cb-problem")
        assert await page.is_hidden("#cb-start") and await page.is_visible("#cb-outcome")
        await page.screenshot(path=str(ARTIFACTS / "desktop-callback-undialable.png"))

        await page.select_option("#cb-contact", "unobtainable")
        await page.fill("#cb-notes", "withheld: network operator asked for the caller's details")
        await page.click("#cb-save")
        await page.wait_for_selector("#callback.hidden", state="attached", timeout=patience_ms(5000))
        async with httpx.AsyncClient(base_url=demo["base_url"], headers=sup) as http:
            assert [t for t in (await http.get("/api/callbacks")).json()["callbacks"] if t["number"] == "anonymous"] == []
    finally:
        for handler in HANDLERS:
            await set_state(demo, handler, "ready")
