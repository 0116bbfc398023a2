"""The demo's calls with locations, on the handler's desktop: a pop before answer shows where the
caller's phone says they are, and the incidents the demo imported from its own street-level crime
file within the radius and period of that place (nearest first, those at the caller's door before
them), and none outside the radius or too old; the same in the map's words for a screen reader."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from intake.app.demo_places import caller_home, phone_location
from screenpop.incidents_csv import read_crimes
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_desktop import set_state, sign_in
from tests.demo_process import demo_process
from tests.intake.test_demo_places import metres
from tests.waiting import patience_ms

pytestmark = pytest.mark.browser

SEED, CALLERS = 11, 6  # with this seed the first five phones send a location with the call, the sixth none
LOCATED, UNLOCATED = "07700900000", "07700900005"  # the first also has crimes at the door (demo_places)
RADIUS_M, PERIOD_DAYS, LIMIT, ADDRESS_M = 500.0, 90.0, 20, 25.0  # [incidents]' defaults, which the demo keeps


@pytest.fixture(scope="module")
def located_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with demo_process(tmp_path_factory.mktemp("demo"), "--speed", "2", "--seed", str(SEED), "--callers", str(CALLERS)) as demo:
        yield demo


SHOWN = """(number) => {
    const q = (s) => document.querySelector(s);
    const place = q('#pop-place');
    if (q('#pop').classList.contains('hidden') || q('#pop-phase').textContent !== 'Ringing'
        || place.dataset.state !== 'shown' || (number && q('#pop-number').textContent !== number)) return false;
    return { number: q('#pop-number').textContent, source: place.dataset.source, summary: q('.place-summary').textContent,
             ids: [...place.querySelectorAll('.place-incidents li')].map((li) => li.dataset.id),
             here: [...place.querySelectorAll('.place-incidents li')].map((li) => li.classList.contains('at-address')),
             markers: place.querySelectorAll('.place-incident').length,
             words: q('#place-map-text').textContent };
}"""


async def test_a_pop_shows_the_callers_location_and_the_imported_incidents_near_it_before_answer(page, located_demo: dict):
    demo = located_demo
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    for other in ("h2", "h3", "h4"):  # h1 works both lines: with the others out, every call rings h1
        await set_state(demo, other, "logged-out")
    await set_state(demo, "h1", "ready")
    await sign_in(page, demo, "h1")
    shown = await (await page.wait_for_function(SHOWN, arg=LOCATED, timeout=patience_ms(60000))).json_value()
    await page.screenshot(path=str(ARTIFACTS / "desktop-pop-place.png"), full_page=True)

    number = shown["number"]
    sent = phone_location(SEED)(number)
    assert sent is not None and shown["source"] == "call"
    assert shown["summary"].startswith(f"within {sent.radius_m:.0f} m ({sent.confidence}% confidence) from the call itself")

    # What the demo's own file holds near that caller, worked out here from the file itself.
    home = caller_home(number, SEED)
    now = time.time()
    with open(demo["incidents"]["file"], encoding="utf-8", newline="") as text:
        crimes = read_crimes(text, now=now, keep_seconds=400 * 86400).incidents
    recent = {c.id: metres(home, c.point) for c in crimes if c.at > now - PERIOD_DAYS * 86400}
    near = sorted(d for d in recent.values() if d <= RADIUS_M)
    assert len(shown["ids"]) == min(LIMIT, len(near)) == shown["markers"] > 0
    for listed in shown["ids"]:  # within the radius (Redis's geohash is within a metre), in the period
        assert listed in recent and recent[listed] <= RADIUS_M + 1, listed
    cut = near[min(LIMIT, len(near)) - 1]  # none nearer than the furthest shown was left out
    assert {i for i, d in recent.items() if d < cut - 1} <= set(shown["ids"])
    too_old = [c.id for c in crimes if c.at <= now - PERIOD_DAYS * 86400 and metres(home, c.point) < RADIUS_M]
    assert too_old and not set(too_old) & set(shown["ids"])  # the file has old ones here: none listed

    # This caller has crimes at their door in the file: listed first, marked on the map and in words.
    door = [recent[i] <= ADDRESS_M + 1 for i in shown["ids"]]
    assert shown["here"] == door and door[0] and door == sorted(door, reverse=True)
    assert re.search(r"\d+ incidents nearby, \d+ at the caller's location\.", shown["words"])
    assert await page.locator("#pop-place .place-incident.at-address").count() == sum(door)
    assert refused == []


async def test_a_caller_whose_phone_sends_no_location_is_placed_by_the_location_service_after_the_ring(page, located_demo: dict):
    """The demo's location service places a caller whose phone sent nothing: the pop shows it,
    said to be from the service."""
    demo = located_demo
    assert phone_location(SEED)(UNLOCATED) is None
    for other in ("h2", "h3", "h4"):
        await set_state(demo, other, "logged-out")
    await set_state(demo, "h1", "ready")
    await sign_in(page, demo, "h1")
    shown = await (await page.wait_for_function(SHOWN, arg=UNLOCATED, timeout=patience_ms(60000))).json_value()
    assert shown["source"] == "service"
    assert shown["summary"].startswith("within ") and "from the location service" in shown["summary"]
