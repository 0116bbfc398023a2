"""The handler's desktop as issue 15 asks for it, in chromium against ``intake demo``: the wait
clock coloured against the line's target, buttons that show the state (and Not ready on a call
meaning "not ready after this call", done by the server when the wrap-up ends), the repeat flag
said once, the outcome form saying what the next call waits for, live regions that never tick.

The pure rules (desktop_state.js) are tested by table, imported into the page as it imports them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_desktop import set_state, sign_in
from tests.waiting import patience_ms

pytestmark = pytest.mark.browser

RULES = "/static/desktop_state.js"
OTHERS = ("h2", "h3", "h4")  # h1 works both lines: with the others out, every call rings h1


@contextlib.asynccontextmanager
async def h1_alone(page, demo: dict) -> AsyncIterator[None]:
    """h1 signed in at the page and alone in the queues (calls wait, then ring h1); the others back after."""
    for other in OTHERS:
        await set_state(demo, other, "logged-out")
    await set_state(demo, "h1", "ready")
    try:
        await sign_in(page, demo, "h1")
        yield
    finally:
        for handler in ("h1", *OTHERS):
            await set_state(demo, handler, "ready")


async def rules(page, demo: dict, call: str, *args: object) -> object:
    """``call`` of desktop_state.js in the page, as the desktop imports it."""
    if not page.url.startswith(demo["base_url"]):
        await page.goto(demo["base_url"] + "/desktop")
    return await page.evaluate("async ([url, name, args]) => (await import(url))[name](...args)", [RULES, call, list(args)])


BUTTONS = [  # state, not ready after this call -> (label, enabled) of Ready, Not ready, Log out of queues
    ("logged-out", None, [("Ready", True), ("Not ready", True), ("Log out of queues", False)]),
    ("ready", None, [("Ready", False), ("Not ready", True), ("Log out of queues", True)]),
    ("ringing", None, [("Ready", False), ("Not ready", True), ("Log out of queues", True)]),
    ("on-call", None, [("Ready", False), ("Not ready after this call", True), ("Log out of queues", True)]),
    ("on-call", "meal", [("Ready after this call", True), ("Not ready after this call", True), ("Log out of queues", True)]),
    ("wrap-up", None, [("Ready now", True), ("Not ready", True), ("Log out of queues", True)]),
    ("not-ready", None, [("Ready", True), ("Not ready", True), ("Log out of queues", True)]),
]


@pytest.mark.parametrize(("state", "after", "expected"), BUTTONS)
async def test_each_state_button_shows_what_pressing_it_would_do_in_each_state(page, demo: dict, state, after, expected):
    view = {"state": state, **({"not_ready_after_call": after} if after else {})}
    shown = await rules(page, demo, "buttonsFor", view)
    assert [(b["label"], b["enabled"]) for b in shown] == expected


@pytest.mark.parametrize(("view", "said"), [
    ({"state": "on-call", "not_ready_after_call": "meal"}, "Not ready after this call (meal)"),
    ({"state": "wrap-up", "not_ready_after_call": "meal"}, "Not ready when wrap-up ends (meal)"),
    ({"state": "on-call"}, ""), ({"state": "wrap-up"}, ""),
    ({"state": "not-ready", "reason": "meal"}, ""),  # said by the state and its reason
])
async def test_not_ready_after_this_call_is_said_on_the_call_and_through_its_wrapup(page, demo: dict, view, said):
    assert await rules(page, demo, "stateAfter", view) == said


@pytest.mark.parametrize(("waited", "target", "level", "words"), [
    (0, 12, "within", ""), (8.9, 12, "within", ""), (9, 12, "near", "near target"),
    (11.99, 12, "near", "near target"), (12, 12, "over", "past target"), (300, 60, "over", "past target"),
    (30, None, "", ""),  # no target known: no colour
])
async def test_the_wait_clock_is_judged_against_the_lines_target(page, demo: dict, waited, target, level, words):
    assert await rules(page, demo, "waitLevel", waited, target) == {"level": level, "words": words}


async def test_a_pops_wait_clock_turns_red_and_says_past_target_once_the_call_has_waited_longer(page, demo: dict):
    async with h1_alone(page, demo):
        # One handler for both lines: calls queue, and the next to ring h1 has waited past its target.
        over = await (await page.wait_for_function("""() => {
            const q = (s) => document.querySelector(s);
            const clock = q('#pop-waited');
            return !q('#pop').classList.contains('hidden') && clock.dataset.level === 'over' && {
                waited: clock.textContent, target: q('#pop-target').textContent, line: q('#pop-line').textContent,
                background: getComputedStyle(clock).backgroundColor};
        }""", timeout=patience_ms(60000))).json_value()
        await page.screenshot(path=str(ARTIFACTS / "desktop-past-target.png"))
    target = {"999": "0:12", "101": "1:00"}[over["line"]]  # the demo's targets
    assert over["target"] == f"of {target} target – past target"
    minutes, seconds = map(int, over["waited"].split(":"))
    assert minutes * 60 + seconds >= {"999": 12, "101": 60}[over["line"]]
    assert over["background"] == "rgb(255, 77, 77)"  # --red


LIVE = "[aria-live], [role=status], [role=alert], [role=log], [role=marquee], [role=timer], output"


async def test_live_regions_hold_no_ticking_text_and_announce_an_arrival_once(page, demo: dict):
    """The pop and call-back card are not live regions: their clocks tick four times a second
    and would interrupt a screen reader each time. An arrival is announced once, in words."""
    await set_state(demo, "h1", "ready")
    await sign_in(page, demo, "h1")
    await page.evaluate("""(live) => {
        window.liveChanges = [];
        window.ticks = 0;
        const watch = (node, record) => new MutationObserver(record).observe(node, { childList: true, characterData: true, subtree: true });
        for (const region of document.querySelectorAll(live)) {
            let was = region.textContent;
            watch(region, () => { window.liveChanges.push([region.id, was, region.textContent]); was = region.textContent; });
        }
        watch(document.querySelector('#pop-waited'), () => { window.ticks += 1; });
    }""", LIVE)
    # A pop that rang after the watch began, and its clock seen moving several times since.
    await page.wait_for_function("""() => !document.querySelector('#pop').classList.contains('hidden')
        && window.liveChanges.some(([id, , now]) => id === 'announce' && now.includes('call ringing from'))
        && window.ticks >= 8""", timeout=patience_ms(60000))
    changes = await page.evaluate("() => window.liveChanges")
    ticking = await page.evaluate("(live) => ['#pop-waited', '#pop-target', '#cb-ago'].filter((s) => document.querySelector(s).closest(live))", LIVE)
    assert ticking == []
    clock = re.compile(r"\d+:\d\d")
    for region, was, now in changes:  # a change that is only a clock moving would be read out four times a second
        assert was == now or clock.sub("", was) != clock.sub("", now), (region, was, now)
    arrivals = [now for region, _, now in changes if region == "announce" and "call ringing from" in now]
    assert arrivals and re.fullmatch(r"(999|101) call ringing from \S+\..* Waited \d+:\d\d\.", arrivals[0])
    assert len(changes) < await page.evaluate("() => window.ticks")  # far fewer than the clock's ticks


RENDERED = """() => {
    // Every state the state bar renders, in order, each once: a transient one (a state shown for a
    // moment at a call's end) would be one more entry. One render is one task (a socket message).
    window.states = [];
    const q = (s) => document.querySelector(s);
    const look = () => {
        const after = q('#state-after');
        const now = [q('#state').dataset.state, q('#state-reason').textContent, after.classList.contains('hidden') ? '' : after.textContent];
        const last = window.states[window.states.length - 1];
        if (!last || last.join('|') !== now.join('|')) window.states.push(now);
    };
    look();
    new MutationObserver(look).observe(q('#state-now'), { attributes: true, childList: true, characterData: true, subtree: true });
}"""


async def test_not_ready_pressed_during_a_call_is_shown_and_done_by_the_server_after_the_wrapup(page, demo: dict):
    async with h1_alone(page, demo):
        await page.evaluate(RENDERED)
        await page.wait_for_function("() => document.querySelector('#state').dataset.state === 'on-call'", timeout=patience_ms(60000))
        assert await page.text_content("#btn-not-ready") == "Not ready after this call"
        await page.select_option("#reason", "meal")
        await page.click("#btn-not-ready")
        after = await (await page.wait_for_function("""() => {
            const q = (s) => document.querySelector(s);
            return !q('#state-after').classList.contains('hidden') && {
                state: q('#state').dataset.state, after: q('#state-after').textContent, ready: q('#btn-ready').textContent,
                ready_enabled: !q('#btn-ready').disabled};
        }""", timeout=patience_ms(10000))).json_value()
        await page.screenshot(path=str(ARTIFACTS / "desktop-not-ready-after-call.png"))
        assert after == {"state": "on-call", "after": "Not ready after this call (meal)", "ready": "Ready after this call",
                         "ready_enabled": True}
        # The call ends, its wrap-up runs, and the server then makes h1 not ready with the reason chosen.
        await page.wait_for_function("""() => document.querySelector('#state').dataset.state === 'not-ready'
            && document.querySelector('#state-reason').textContent === '(meal)'""", timeout=patience_ms(60000))
        states = await page.evaluate("() => window.states")
        on_call = next(i for i, s in enumerate(states) if s[0] == "on-call")
        # Each state rendered once, in order, from the call on: the call's end straight to wrap-up.
        assert states[on_call:] == [["on-call", "", ""], ["on-call", "", "Not ready after this call (meal)"],
                                    ["wrap-up", "", "Not ready when wrap-up ends (meal)"], ["not-ready", "(meal)", ""]], states
        assert await page.is_hidden("#state-after")


async def test_a_repeat_caller_marker_joins_the_repeat_flag_instead_of_saying_it_twice(page, demo: dict):
    sup = {"Authorization": f"Bearer {demo['supervisors']['sup1']}"}
    async with httpx.AsyncClient(base_url=demo["base_url"], headers=sup) as http:
        for number in ("07700900000", "07700900001"):  # the demo's whole caller pool
            r = await http.post("/api/markers", json={"number": number, "kind": "repeat caller", "detail": "calls most nights"})
            assert r.status_code == 201, r.text
    await set_state(demo, "h1", "ready")
    await sign_in(page, demo, "h1")
    pop = await (await page.wait_for_function("""() => {
        const q = (s) => document.querySelector(s);
        return !q('#pop').classList.contains('hidden') && q('#pop-flags').textContent.includes('calls most nights') && {
            flags: [...q('#pop-flags').children].map((li) => li.textContent),
            markers: [...q('#pop-markers').children].map((li) => li.textContent),
            said: (q('#pop').textContent.match(/repeat caller/gi) || []).length};
    }""", timeout=patience_ms(60000))).json_value()
    (flag,) = [f for f in pop["flags"] if f.startswith("Repeat caller")]
    assert flag.endswith("– marker: calls most nights")
    assert not any("repeat caller" in m.lower() for m in pop["markers"])
    assert pop["said"] == 1  # once on the whole pop


async def test_the_outcome_form_says_what_is_required_before_the_next_call(page, demo: dict):
    async with h1_alone(page, demo):
        await page.wait_for_selector("#outcome:not(.hidden)", timeout=patience_ms(60000))
        assert await page.text_content("#outcome-todo") == "Required before your next call: a grading, then save."
        assert await page.evaluate("() => document.querySelector('label[for=grading]').classList.contains('missing')")
        assert "required before your next call" in await page.text_content("label[for=grading]")
        assert await page.get_attribute("#grading", "aria-required") == "true"
        await page.click("#save-outcome")  # nothing chosen: refused in the page, the field marked and focused
        assert "required before your next call" in await page.text_content("#outcome-error")
        assert await page.get_attribute("#grading", "aria-invalid") == "true"
        assert await page.evaluate("() => document.activeElement.id") == "grading"
        await page.select_option("#grading", "resolved")
        assert await page.text_content("#outcome-todo") == "Grading chosen: save the outcome before your next call."
        await page.click("#save-outcome")
        await page.wait_for_selector("#outcome-saved:not(.hidden)", timeout=patience_ms(10000))
        assert await page.text_content("#outcome-todo") == "Outcome saved: nothing left before your next call."
