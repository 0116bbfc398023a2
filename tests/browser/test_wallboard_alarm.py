"""The wallboard's alarms, in chromium against ``intake demo`` with no traffic of its own: a 999
call past its target turns red and raises the alarm (and the alarm goes when the call does); a
flagged caller is shown first; the overflow panel names the handler it lends, never their id.

The test places its calls over the simulated PBX's AMI (Originate into a queue, Hangup while
waiting) as a script would against Asterisk, so it knows which callers wait (the 999 target is
12 s: the alarm test waits that long for it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_desktop import set_state
from tests.demo_process import demo_process
from tests.simulator.ami_client import AmiTestClient
from tests.waiting import patience_ms

pytestmark = pytest.mark.browser

HANDLERS = ("h1", "h2", "h3", "h4")
LATE, PLAIN, FLAGGED, LENT = "07700900951", "07700900952", "07700900953", "07700900954"  # outside the demo's callers


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with demo_process(tmp_path_factory.mktemp("demo"), "--seed", "7",
                      "--rate", "emergency=0", "--rate", "non-emergency=0") as demo:
        yield demo


async def wallboard(page, demo: dict) -> None:
    await page.set_viewport_size({"width": 1920, "height": 1080})
    await page.goto(demo["base_url"] + "/wallboard")
    await page.fill("#token", demo["supervisors"]["sup1"])
    await page.click("#signin button[type=submit]")
    await page.wait_for_selector("[data-line='999']", timeout=patience_ms(5000))


async def nobody_answers(demo: dict, *but: str) -> None:
    for handler in HANDLERS:
        await set_state(demo, handler, "ready" if handler in but else "logged-out")


async def call(demo: dict, number: str, line: str) -> str:
    """A caller dials ``line`` (Originate Local/<line>@callers); returns their channel once queued."""
    ami = await AmiTestClient.logged_in(demo["ami_port"], demo["ami_username"], demo["ami_secret"])
    try:
        done = await ami.action("Originate", Channel=f"Local/{line}@callers", Application="Wait", Data="300",
                                Async="true", CallerID=f'"Test Caller" <{number}>')
        assert done["Response"] == "Success", done
        return (await ami.wait_event("QueueCallerJoin", 5, CallerIDNum=number))["Channel"]
    finally:
        await ami.close()


async def hang_up(demo: dict, *channels: str, gone_ok: bool = False) -> None:
    """Hang the callers up; ``gone_ok``: a caller who has already gone is no error."""
    ami = await AmiTestClient.logged_in(demo["ami_port"], demo["ami_username"], demo["ami_secret"])
    try:
        for channel in channels:
            hung = await ami.action("Hangup", Channel=channel)
            assert hung["Response"] == "Success" or (gone_ok and hung.get("Message") == "No such channel"), hung
    finally:
        await ami.close()


async def test_a_999_call_waiting_past_its_target_turns_red_and_raises_the_alarm(page, demo: dict):
    await nobody_answers(demo)
    await wallboard(page, demo)
    assert await page.is_hidden("#alarm")
    channel = await call(demo, LATE, "999")
    try:
        await the_alarm(page, LATE)
    finally:
        await hang_up(demo, channel)
    await page.wait_for_selector("#alarm.hidden", state="attached", timeout=patience_ms(10000))
    assert await page.get_attribute("[data-line='999']", "data-alarm") == "false"


async def the_alarm(page, number: str) -> None:
    row = f"#oldest tr[data-number='{number}']"
    await page.wait_for_selector(row, timeout=patience_ms(5000))
    await page.wait_for_selector("#alarm:not(.hidden)", timeout=patience_ms(15000))
    shown = await page.evaluate("""row => ({
        alarm: document.querySelector('#alarm').textContent,
        alarm_role: document.querySelector('#alarm').getAttribute('role'),
        alarm_box: document.querySelector('#alarm').getBoundingClientRect().toJSON(),
        row_class: document.querySelector(row).className,
        waited_class: document.querySelector(row + ' [data-col=waited]').className,
        waited_background: getComputedStyle(document.querySelector(row + ' [data-col=waited]')).backgroundColor,
        card_alarm: document.querySelector("[data-line='999']").dataset.alarm,
        card_border: getComputedStyle(document.querySelector("[data-line='999']")).borderTopColor})""", row)
    assert "999 call waiting" in shown["alarm"] and "past its 12 s target" in shown["alarm"]
    assert shown["alarm_role"] == "alert"
    box = shown["alarm_box"]
    assert box["width"] > 0 and box["height"] > 0 and box["bottom"] <= 1080 and box["right"] <= 1920
    assert "past-target" in shown["row_class"] and "red" in shown["waited_class"]
    assert shown["waited_background"] == "rgb(92, 11, 11)"  # --red-bg
    red = "rgb(255, 77, 77)"  # --red
    assert shown["card_alarm"] == "true" and shown["card_border"] == red
    await page.screenshot(path=str(ARTIFACTS / "wallboard-alarm.png"))


async def test_a_flagged_caller_is_shown_first_with_the_marker(page, demo: dict):
    await nobody_answers(demo)
    async with httpx.AsyncClient(base_url=demo["base_url"], headers={"Authorization": f"Bearer {demo['supervisors']['sup1']}"}) as http:
        filed = await http.post("/api/markers", json={"number": FLAGGED, "kind": "firearms at address", "detail": "Shotgun in the house"})
        assert filed.status_code == 201, filed.text
    await wallboard(page, demo)
    plain = await call(demo, PLAIN, "999")  # the longer wait, on the 999 line ...
    flagged = await call(demo, FLAGGED, "101")  # ... still after the flagged 101 caller
    try:
        first = await page.wait_for_function("""() => {
            const rows = [...document.querySelectorAll('#oldest tbody tr:not(.more)')];
            const marker = rows.length >= 2 && rows[0].querySelector('.marker');
            return marker && { numbers: rows.map(r => r.dataset.number), marker: marker.textContent, detail: marker.title,
                               unflagged: rows.slice(1).map(r => r.querySelectorAll('.marker').length) };
        }""", timeout=patience_ms(10000))
        shown = await first.json_value()
        assert shown["numbers"][0] == FLAGGED and PLAIN in shown["numbers"][1:]
        assert (shown["marker"], shown["detail"]) == ("firearms at address", "Shotgun in the house")
        assert set(shown["unflagged"]) == {0}
    finally:
        await hang_up(demo, plain, flagged)


async def test_the_overflow_panel_names_the_handler_it_lends(page, demo: dict):
    await nobody_answers(demo, "h3")  # h3 works 101 only: the 999 caller can only be answered by a lend
    await wallboard(page, demo)
    channel = await call(demo, LENT, "999")
    try:
        lent = await page.wait_for_function(
            "() => document.querySelector('#overflow').dataset.active === 'true' && document.querySelector('#overflow-state').textContent",
            timeout=patience_ms(15000))
        assert await lent.json_value() == "Active: Carys Jones lent to 999"
    finally:
        await hang_up(demo, channel)


NAMES = {"h1": "Alice Hughes", "h2": "Ben Okafor", "h3": "Carys Jones", "h4": "Dev Patel"}


async def test_handlers_are_named_never_numbered(page, demo: dict):
    """Every handler by the name the configuration gives, on every panel: no id anywhere a person reads."""
    await nobody_answers(demo, "h1", "h3")
    await wallboard(page, demo)
    await page.wait_for_function("() => document.querySelectorAll('#handlers tbody tr:not(.more)').length === 4",
                                 timeout=patience_ms(5000))
    text = await page.evaluate("() => document.body.innerText")
    shown = await page.evaluate("() => [...document.querySelectorAll('#handlers tbody th')].map(th => th.textContent)")
    assert sorted(shown) == sorted(NAMES.values())
    assert not re.search(r"\bh[1-4]\b", text), text


async def test_time_in_state_starts_at_the_change_and_counts_on_with_nothing_happening(page, demo: dict):
    await nobody_answers(demo, "h4")
    await wallboard(page, demo)
    row = "#handlers tr[data-handler=h4]"
    await set_state(demo, "h4", "not-ready", "briefing")
    await page.wait_for_function(f"() => document.querySelector('{row} [data-col=state]').textContent === 'Not ready'",
                                 timeout=patience_ms(5000))
    first = await page.text_content(f"{row} [data-col=for]")
    assert first in ("0:00", "0:01", "0:02")  # just changed (the picture comes within a tick)
    # Nobody calls: no picture is sent, and the page's own clock still counts on.
    await page.wait_for_function(f"() => document.querySelector('{row} [data-col=for]').textContent === '0:04'",
                                 timeout=patience_ms(10000))
    assert await page.text_content(f"{row} [data-col=reason]") == "briefing"
    await set_state(demo, "h4", "ready")
    await page.wait_for_function(f"() => document.querySelector('{row} [data-col=state]').textContent === 'Ready'",
                                 timeout=patience_ms(5000))
    assert (await page.text_content(f"{row} [data-col=for]")) in ("0:00", "0:01", "0:02")


async def test_a_list_longer_than_its_panel_shows_what_fits_and_says_how_many_more(page, demo: dict):
    await nobody_answers(demo)
    await wallboard(page, demo)
    channels = []
    try:
        for n in range(60, 80):  # 20 callers: more rows than the panel holds
            channels.append(await call(demo, f"077009009{n:02d}", "101"))
        more = await page.wait_for_function("""() => {
            const panel = document.querySelector('#waiting-panel');
            const more = document.querySelector('#oldest tr.more');
            const rows = [...document.querySelectorAll('#oldest tbody tr[data-call]')];
            const shown = rows.filter((r) => !r.hidden);
            return more && rows.length >= 15 && { more: more.textContent, rows: rows.length, shown: shown.length,
              cut: panel.scrollHeight > panel.clientHeight + 1,
              last_inside: shown[shown.length - 1].getBoundingClientRect().bottom <= panel.getBoundingClientRect().bottom };
        }""", timeout=patience_ms(15000))
        shown = await more.json_value()
        assert 3 <= shown["shown"] < shown["rows"] and shown["more"] == f"+{shown['rows'] - shown['shown']} more"
        assert not shown["cut"] and shown["last_inside"]
        await page.screenshot(path=str(ARTIFACTS / "wallboard-more.png"))
    finally:
        await hang_up(demo, *channels, gone_ok=True)
