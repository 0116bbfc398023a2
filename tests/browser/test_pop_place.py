"""The pop's map and its words (intake/app/static/pop_place.js), in chromium, under the pages' own
CSP: the caller's point and uncertainty circle at the centre, north up, distance rings and a
scale bar that measure what they say, incidents where their distance and bearing put them and
numbered as the list beside; the same in words for a screen reader; a location that comes after
the ring (pop.place) fills the pop it names and no other; a force's own tiles line up under the
points. The pop card is alone on a harness page here; test_pop_place_demo.py has the desktop."""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterator
from typing import ClassVar

import pytest

from intake.app.web_headers import csp
from tests.browser.conftest import ARTIFACTS
from tests.browser.place_harness import PageHandler, Quiet, serving
from tests.waiting import patience_ms

pytestmark = pytest.mark.browser

PAGE_PORT, TILE_PORT = 9450, 9451  # the map helper's range (TEAM.md)
TILES = f"http://127.0.0.1:{TILE_PORT}/tiles/{{z}}/{{x}}/{{y}}.png"
COMPOSED = 1_780_000_000.0  # the pop's queued_at + waited_seconds: the server's now when it was sent
HOME = {"lat": 51.75202, "lon": -1.25773}  # Carfax, Oxford


def moved(north_m: float, east_m: float) -> dict[str, float]:
    """A point this far from HOME, on the sphere (independent of the page's Web Mercator)."""
    lat = HOME["lat"] + math.degrees(north_m / 6_378_137)
    lon = HOME["lon"] + math.degrees(east_m / (6_378_137 * math.cos(math.radians(HOME["lat"]))))
    return {"lat": lat, "lon": lon}


def incident(id_: str, north_m: float, east_m: float, *, type_: str, days_ago: float, at_address: bool = False,
             grade: str = "", status: str = "") -> dict:
    return {"id": id_, "source": "force" if grade else "police.uk", "type": type_, "grade": grade, "status": status,
            "at": COMPOSED - days_ago * 86400, "point": moved(north_m, east_m),
            "distance_m": math.hypot(north_m, east_m), "at_address": at_address}


INCIDENTS = [
    incident("f-1", 8, -6, type_="Domestic incident", days_ago=3, at_address=True, grade="priority", status="closed"),
    incident("c-2", 300 / math.sqrt(2), 300 / math.sqrt(2), type_="Burglary", days_ago=2),
    incident("c-3", -800, 0, type_="Anti-social behaviour", days_ago=10),
]


def pop(call_id: str, location: dict | None, incidents: list[dict] = ()) -> dict:
    return {"type": "pop", "seq": 0, "call_id": call_id, "line": "999", "queue": "emergency",
            "caller": {"number": "07700900123", "name": ""}, "queued_at": COMPOSED - 4, "waited_seconds": 4,
            "history_status": "ok", "history": None, "flags": [], "repeat": None,
            **({"location": location, "incidents": list(incidents)} if location else {})}


def location(source: str = "call", radius_m: float | None = 40, confidence: int | None = 90, age: float = 150,
             civic: str = "") -> dict:
    return {**HOME, "source": source, "at": COMPOSED - age, "radius_m": radius_m, "confidence": confidence, "civic": civic}


def png(size: int = 256) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x30\x38\x40" * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class TileHandler(Quiet):
    asked: ClassVar[list[tuple[int, int, int]]] = []
    body = png()

    def do_GET(self) -> None:
        _, _, z, x, y = self.path.removesuffix(".png").split("/")
        self.asked.append((int(z), int(x), int(y)))
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.fixture(scope="module")
def harness() -> Iterator[str]:
    handler = type("Pages", (PageHandler,), {"policy": csp(f"http://127.0.0.1:{TILE_PORT}")})
    yield from serving(handler, PAGE_PORT)


@pytest.fixture(scope="module")
def tile_server() -> Iterator[list[tuple[int, int, int]]]:
    for _ in serving(TileHandler, TILE_PORT):
        yield TileHandler.asked


async def open_harness(page, harness: object) -> list[str]:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: refused.append(f"page error: {e}"))
    await page.goto(f"http://127.0.0.1:{PAGE_PORT}/harness/harness.html")
    await page.wait_for_selector("body[data-ready=yes]", timeout=patience_ms(5000))
    return refused


# What the page drew, measured on screen: the map's own scale against its rings and markers.
MEASURE = """() => {
    const q = (s) => document.querySelector(s);
    const map = q('#pop-place svg.place-map');
    const box = map.getBoundingClientRect();
    const centre = { x: box.left + box.width / 2, y: box.top + box.height / 2 };
    const rect = (node) => node.getBoundingClientRect();
    const bar = q('.place-scale');
    return {
        half_m: Number(map.dataset.halfM), width_px: box.width,
        px_per_m_bar: rect(bar).width / Number(bar.dataset.scaleM), scale_label: q('.place-scale-label').textContent,
        rings: [...map.querySelectorAll('.place-ring')].map((r) => ({ m: Number(r.dataset.ringM), px: rect(r).width / 2 })),
        ring_labels: [...map.querySelectorAll('.place-ring-label')].map((t) => t.textContent),
        circle: (() => { const c = q('.place-uncertainty'); const b = rect(c);
                         return { px: b.width / 2, x: b.left + b.width / 2 - centre.x, y: b.top + b.height / 2 - centre.y }; })(),
        north: rect(q('.place-north')).top - centre.y, north_label: q('.place-north-label').textContent,
        markers: [...map.querySelectorAll('.place-incident')].map((g) => { const b = rect(g.querySelector('.place-point'));
            const l = rect(g.querySelector('.place-label'));
            return { id: g.dataset.id, n: g.querySelector('text').textContent, at_address: g.classList.contains('at-address'),
                     east_px: b.left + b.width / 2 - centre.x, south_px: b.top + b.height / 2 - centre.y,
                     label: { x: l.left + l.width / 2 - centre.x, y: l.top + l.height / 2 - centre.y, r: l.width / 2 } }; }),
        list: [...q('.place-incidents').children].map((li) => ({ id: li.dataset.id, text: li.textContent })),
        summary: q('.place-summary').textContent,
        described_by: q(`#${map.getAttribute('aria-describedby')}`).textContent,
        labelled_by: q(`#${map.getAttribute('aria-labelledby')}`).textContent, role: map.getAttribute('role'),
        age_hidden: q('.place-age').getAttribute('aria-hidden'),
    };
}"""


async def test_the_map_puts_the_caller_the_circle_and_the_incidents_where_the_data_says_at_the_scale_it_shows(page, harness) -> None:
    refused = await open_harness(page, harness)
    await page.evaluate("(pop) => place.show(pop)", pop("c-1", location(), INCIDENTS))
    drawn = await page.evaluate(MEASURE)
    await page.locator("#pop").screenshot(path=str(ARTIFACTS / "pop-place-map.png"))

    px_per_m = drawn["px_per_m_bar"]  # the scale bar's own claim, measured on screen
    assert drawn["half_m"] >= 800 * 1.05  # the furthest incident is on the map
    for ring in drawn["rings"]:
        assert ring["px"] / ring["m"] == pytest.approx(px_per_m, rel=0.02)
    assert drawn["ring_labels"] == [f"{r['m']} m" if r["m"] < 1000 else f"{r['m'] / 1000:g} km" for r in drawn["rings"]]
    assert drawn["circle"]["px"] == pytest.approx(40 * px_per_m, rel=0.03)  # 40 m of uncertainty
    assert abs(drawn["circle"]["x"]) < 1 and abs(drawn["circle"]["y"]) < 1  # centred on the caller
    assert drawn["north_label"] == "N" and drawn["north"] < 0  # north is up

    by_id = {m["id"]: m for m in drawn["markers"]}
    assert [m["n"] for m in drawn["markers"]] == ["1", "2", "3"]
    for given in INCIDENTS:  # where the distance and the bearing put it, on the bar's scale
        marker = by_id[given["id"]]
        assert math.hypot(marker["east_px"], marker["south_px"]) / px_per_m == pytest.approx(given["distance_m"], rel=0.02, abs=2)
    assert by_id["c-2"]["east_px"] > 0 and by_id["c-2"]["south_px"] < 0  # north-east: right and up
    assert by_id["c-3"]["south_px"] > 0 and abs(by_id["c-3"]["east_px"]) < 2  # due south: straight down
    assert by_id["f-1"]["at_address"] and not by_id["c-2"]["at_address"]
    # Every number is readable: none covers another or the caller's cross (the one at the door is moved off it).
    labels = [(0.0, 0.0)] + [(m["label"]["x"], m["label"]["y"]) for m in drawn["markers"]]
    r = drawn["markers"][0]["label"]["r"]
    assert all(math.dist(a, b) >= 2 * r for i, a in enumerate(labels) for b in labels[i + 1:])

    assert [item["id"] for item in drawn["list"]] == ["f-1", "c-2", "c-3"]  # the server's order, numbered as the map
    assert drawn["list"][0]["text"] == "At the caller's location: Domestic incident – 3 days ago, 10 m north-west, graded priority (closed)"
    # police.uk dates a crime by its month: the list says the month, not a spurious day
    assert drawn["list"][1]["text"] == "Burglary – in May 2026, 300 m north-east"
    assert drawn["list"][2]["text"] == "Anti-social behaviour – in May 2026, 800 m south"
    assert drawn["summary"] == ("within 40 m (90% confidence) from the call itself (the location the caller's phone "
                                "sent with the call), fixed 2 minutes ago")

    # A screen reader gets the picture in words; the ticking age is not read out as it moves.
    assert drawn["role"] == "img" and "north up" in drawn["labelled_by"]
    assert drawn["described_by"].startswith("The caller is within 40 m (90% confidence), the call, fixed 2 minutes ago. "
                                            "3 incidents nearby, 1 at the caller's location. 1: Domestic incident, 3 days ago, "
                                            "at the caller's location, 10 m north-west, graded priority, closed.")
    assert "2: Burglary, in May 2026, 300 m north-east." in drawn["described_by"]
    assert drawn["age_hidden"] == "true"
    assert await page.evaluate("() => place.said()") == ("Caller's location within 40 m (90% confidence), from the call; "
                                                         "3 incidents nearby, 1 at the caller's location.")
    assert refused == []


async def test_a_location_after_the_ring_fills_the_pop_it_names_and_no_other(page, harness) -> None:
    refused = await open_harness(page, harness)
    await page.evaluate("(pop) => place.show(pop)", pop("c-7", None))
    assert await page.text_content("#pop-place") == "Where the caller isNo location for this caller yet."
    assert await page.locator("#pop-place svg").count() == 0

    later = {"type": "pop.place", "seq": 0, "location": location("service", radius_m=250, confidence=None, age=20,
                                                                   civic="12 High Street, Oxford"), "incidents": INCIDENTS[1:]}
    assert await page.evaluate("(m) => place.update(m)", {**later, "call_id": "c-other"}) is False
    assert await page.evaluate("() => [window.announced, place.said()]") == [[], "No location for the caller yet."]
    assert await page.get_attribute("#pop-place", "data-state") == "none"

    assert await page.evaluate("(m) => place.update(m)", {**later, "call_id": "c-7"}) is True
    # Said once to a screen reader as it arrives (the desktop's live region), not on every tick
    assert await page.evaluate("() => window.announced") == [
        "Location arrived. Caller's location within 250 m, from the location service; 2 incidents nearby."]
    shown = await page.evaluate(MEASURE)
    assert await page.get_attribute("#pop-place", "data-source") == "service"
    assert await page.text_content(".place-late") == "Location arrived after the call rang, the location service."
    assert await page.text_content(".place-civic") == "12 High Street, Oxford"
    assert shown["summary"].startswith("within 250 m from the location service (looked up by the caller's number)")
    assert shown["circle"]["px"] == pytest.approx(250 * shown["px_per_m_bar"], rel=0.03)
    assert [m["id"] for m in shown["markers"]] == ["c-2", "c-3"]
    assert shown["described_by"].startswith("The caller is at 12 High Street, Oxford within 250 m, the location service, "
                                            "fixed under a minute ago. 2 incidents nearby.")

    await page.evaluate("() => place.clear()")
    assert await page.evaluate("(m) => place.update(m)", {**later, "call_id": "c-7"}) is False  # the pop is gone
    assert await page.text_content("#pop-place") == ""
    assert refused == []


async def test_a_caller_from_history_with_no_radius_and_no_incidents_is_said_so(page, harness) -> None:
    refused = await open_harness(page, harness)
    await page.evaluate("(pop) => place.show(pop)", pop("c-9", location("history", radius_m=None, confidence=None,
                                                                          age=5 * 86400, civic="Flat 2, 9 Cowley Road")))
    shown = await page.evaluate("""() => ({ summary: document.querySelector('.place-summary').textContent,
        none: document.querySelector('.place-no-incidents').textContent, circles: document.querySelectorAll('.place-uncertainty').length,
        words: document.querySelector('#place-map-text').textContent })""")
    assert shown["summary"] == ("an address, no radius given from the caller's history (where they were on an earlier call, "
                                "not necessarily now), fixed 5 days ago")
    assert shown["none"] == "No incidents nearby." and shown["circles"] == 0
    assert shown["words"].endswith("No incidents nearby.")
    assert refused == []


async def test_a_long_list_shows_the_first_eight_and_the_rest_a_click_away_while_the_map_numbers_them_all(page, harness) -> None:
    refused = await open_harness(page, harness)
    many = [incident(f"c-{n}", 30 * n, 10, type_="Shoplifting", days_ago=5, grade="priority") for n in range(1, 13)]
    await page.evaluate("(pop) => place.show(pop)", pop("c-12", location(), many))
    shown = await page.evaluate("""() => ({
        markers: [...document.querySelectorAll('.place-incident text')].map((t) => t.textContent),
        first: [...document.querySelectorAll('.place-list > ol > li')].map((li) => li.value),
        rest: [...document.querySelectorAll('.place-more li')].map((li) => li.value),
        summary: document.querySelector('.place-more summary').textContent,
        open: document.querySelector('.place-more').open })""")
    assert shown["markers"] == [str(n) for n in range(1, 13)]
    assert shown["first"] == list(range(1, 9)) and shown["rest"] == [9, 10, 11, 12]  # numbered as the map
    assert shown["summary"] == "4 more, up to 360 m away" and not shown["open"]
    await page.click(".place-more summary")
    assert await page.is_visible(".place-more li[data-id='c-12']")
    assert refused == []


@pytest.mark.parametrize(("call", "words"), [
    ("distanceWords(0)", "0 m"), ("distanceWords(999.4)", "999 m"), ("distanceWords(1250)", "1.3 km"),
    ("distanceWords(12500)", "13 km"), ("distanceWords(2000)", "2 km"), ("ageWords(59)", "under a minute ago"), ("ageWords(61)", "1 minute ago"),
    ("ageWords(3599)", "59 minutes ago"), ("ageWords(3600)", "1 hour ago"), ("ageWords(7500)", "2 hours 5 min ago"),
    ("ageWords(86400 * 3)", "3 days ago"), ("ageWords(-5)", "under a minute ago"),
    ("accuracyWords({radius_m: 12, confidence: 68})", "within 12 m (68% confidence)"),
    ("accuracyWords({radius_m: 1500, confidence: null})", "within 1.5 km"),
    ("accuracyWords({radius_m: null, confidence: null, civic: ''})", "accuracy not given"),
])
async def test_words_for_distance_age_and_accuracy(page, harness, call: str, words: str) -> None:
    await open_harness(page, harness)
    assert await page.evaluate(f"() => placeWords.{call}") == words


async def test_a_forces_own_tiles_are_drawn_under_the_points_and_line_up_with_them(page, harness, tile_server) -> None:
    refused = await open_harness(page, harness)
    tile_server.clear()
    await page.evaluate("(t) => place.useTiles(t)", TILES)
    await page.evaluate("(pop) => place.show(pop)", pop("c-3", location(), INCIDENTS))
    images = await page.evaluate("""() => Promise.all([...document.querySelectorAll('.place-tiles image')].map(async (i) => {
        const probe = new Image(); probe.src = i.getAttribute('href');
        await probe.decode();  // loaded under the CSP (a refusal would throw)
        return { href: i.getAttribute('href'), x: +i.getAttribute('x'), y: +i.getAttribute('y'), size: +i.getAttribute('width') }; }))""")
    await page.locator("#pop").screenshot(path=str(ARTIFACTS / "pop-place-tiles.png"))
    assert images and tile_server
    # The tile that holds the caller, by the slippy-map formulae, is drawn so that the caller's
    # pixel in it falls on the map's centre (150, 150): the tiles line up under the points.
    z = int(images[0]["href"].split("/")[-3])
    world = 256 * 2 ** z
    px = (HOME["lon"] + 180) / 360 * world
    py = (1 - math.asinh(math.tan(math.radians(HOME["lat"]))) / math.pi) / 2 * world
    holding = next(i for i in images if i["href"].endswith(f"/{z}/{int(px // 256)}/{int(py // 256)}.png"))
    units_per_px = holding["size"] / 256
    assert holding["x"] + (px % 256) * units_per_px == pytest.approx(150, abs=0.01)
    assert holding["y"] + (py % 256) * units_per_px == pytest.approx(150, abs=0.01)
    assert 10 <= z <= 19 and (z, int(px // 256), int(py // 256)) in tile_server
    assert refused == []
