"""The handler's desktop with the keyboard alone, in chromium against ``intake demo``: sign in,
change state, make a call-back and file its outcome, take a 999 call and file its outcome, sign
out — every step by Tab, typing and Enter/Space, each control showing where the focus is. And
"Call back now" is not offered while the handler's phone rings for a call.

As in test_callbacks, the demo makes no 999 calls of its own: the test places them over the
simulated PBX's AMI, and h2 (999 only) is the handler, so nothing rings h2 unasked.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_callbacks import HANDLERS, call_999
from tests.browser.test_desktop import set_state
from tests.demo_process import demo_process
from tests.waiting import eventually, patience_ms

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with demo_process(tmp_path_factory.mktemp("demo"), "--seed", "7", "--rate", "emergency=0") as demo:
        yield demo


async def tab_to(page, selector: str, *, limit: int = 60) -> None:
    """Press Tab until ``selector`` has the focus (failing if it never does), and check that the
    focus can be seen there."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            outline = await page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"{selector} has the focus but does not show it"
            return
    raise AssertionError(f"Tab never reached {selector}")


async def state_is(page, state: str, reason: str = "") -> None:
    await page.wait_for_function("""([state, reason]) => document.querySelector('#state').dataset.state === state
        && document.querySelector('#state-reason').textContent === reason""", arg=[state, reason], timeout=patience_ms(15000))


async def test_the_whole_desktop_works_from_the_keyboard_alone(page, demo: dict):
    sup = {"Authorization": f"Bearer {demo['supervisors']['sup1']}"}
    for handler in HANDLERS:
        await set_state(demo, handler, "logged-out")
    number, caller = "07700900931", "07700900932"
    try:
        await page.goto(demo["base_url"] + "/desktop")
        await tab_to(page, "#token")
        await page.keyboard.type(demo["handlers"]["h2"])
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#connection.up", timeout=patience_ms(5000))
        await state_is(page, "logged-out")

        await tab_to(page, "#reason")
        await page.keyboard.press("t")  # the select's type-ahead: Training
        await tab_to(page, "#btn-not-ready")
        await page.keyboard.press("Enter")
        await state_is(page, "not-ready", "(training)")
        await tab_to(page, "#btn-ready")
        await page.keyboard.press("Space")
        await state_is(page, "ready")
        # Ready is no longer offered: the focus stays in the state bar, not back at the page's top.
        assert await page.evaluate("() => document.activeElement.id") == "state-now"

        # A 999 caller gave up: the call-back card, started and closed from the keyboard.
        await call_999(demo, number, give_up=True)
        await page.wait_for_function("n => document.querySelector('#cb-number').textContent === n", arg=number,
                                     timeout=patience_ms(10000))
        await tab_to(page, "#cb-start")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#cb-outcome:not(.hidden)", timeout=patience_ms(10000))
        # The button pressed is disabled now: the focus goes on to the outcome's first field.
        await page.wait_for_function("() => document.activeElement.id === 'cb-contact'", timeout=patience_ms(5000))
        await page.keyboard.press("n")  # No answer
        await tab_to(page, "#cb-notes")
        await page.keyboard.type("rang out, will try again by text")
        await tab_to(page, "#cb-save")
        await page.keyboard.press("Enter")
        await page.wait_for_function("() => document.querySelector('#cb-note').textContent.includes('outcome saved')",
                                     timeout=patience_ms(10000))

        # A 999 call rings h2 and is answered: the focus goes to the grading, the rest by Tab.
        await call_999(demo, caller)
        await page.wait_for_function("() => document.activeElement.id === 'grading'", timeout=patience_ms(20000))
        call_id = await page.evaluate("() => document.querySelector('#pop').dataset.callId")
        await page.keyboard.press("p")  # Priority
        await tab_to(page, "#t-risk")
        await page.keyboard.type("low")
        await tab_to(page, "#notes")
        await page.keyboard.type("keyboard only")
        await tab_to(page, "#save-outcome")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#outcome-saved:not(.hidden)", timeout=patience_ms(10000))
        await page.screenshot(path=str(ARTIFACTS / "desktop-keyboard.png"))

        async with httpx.AsyncClient(base_url=demo["base_url"], headers=sup) as http:
            async def filed() -> dict | None:
                recent = (await http.get(f"/api/history/{caller}", params={"call": call_id})).json()["recent"]
                return next((c["outcome"] for c in recent if c["call_id"] == call_id and c["outcome"]), None)

            outcome = await eventually(filed)
            tasks = (await http.get("/api/callbacks")).json()["callbacks"]
        assert (outcome["grading"], outcome["notes"], outcome["thrive"]["risk"]) == ("priority", "keyboard only", "low")
        assert not [t for t in tasks if t["number"] == number]  # closed by its outcome

        await tab_to(page, "#sign-out")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#signin:not(.hidden)", timeout=patience_ms(5000))
    finally:
        for handler in HANDLERS:
            await set_state(demo, handler, "ready")


async def test_call_back_now_is_not_offered_while_the_handlers_phone_rings_for_a_call(page, demo: dict):
    for handler in HANDLERS:
        await set_state(demo, handler, "logged-out")
    try:
        await call_999(demo, "07700900941", give_up=True)
        await set_state(demo, "h2", "ready")
        await page.goto(demo["base_url"] + "/desktop")
        await page.fill("#token", demo["handlers"]["h2"])
        await page.click("#signin button[type=submit]")
        await page.wait_for_function("() => document.querySelector('#cb-number').textContent === '07700900941'",
                                     timeout=patience_ms(10000))
        assert await page.is_enabled("#cb-start") and await page.is_hidden("#cb-busy")
        await call_999(demo, "07700900942")
        ringing = await (await page.wait_for_function("""() => {
            const q = (s) => document.querySelector(s);
            return q('#state').dataset.state === 'ringing' && {
                start_disabled: q('#cb-start').disabled, busy: !q('#cb-busy').classList.contains('hidden'),
                hint_hidden: q('#cb-hint').classList.contains('hidden'), busy_text: q('#cb-busy').textContent};
        }""", timeout=patience_ms(15000))).json_value()
        await page.screenshot(path=str(ARTIFACTS / "desktop-callback-while-ringing.png"))
        assert ringing == {"start_disabled": True, "busy": True, "hint_hidden": True,
                           "busy_text": "Your phone is ringing for a call: take it first, then call back."}
        await page.wait_for_function("() => document.querySelector('#state').dataset.state !== 'ringing'"
                                     " && !document.querySelector('#cb-start').disabled", timeout=patience_ms(15000))
    finally:
        for handler in HANDLERS:
            await set_state(demo, handler, "ready")
