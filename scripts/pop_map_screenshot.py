"""The pop's map for the docs, and what drawing it costs: a demo caller (seed 12, the first number)
with the incidents the demo's own crime file puts near them, on the pop card alone
(tests/browser/place/harness.html, under the pages' CSP) in Debian's chromium.

    PYTHONPATH=$PWD python3 scripts/pop_map_screenshot.py [--out docs/images/pop-map.png]

Prints one JSON line: where the PNG went, how many incidents the pop had (and at the door), the
time to draw the place (map, list and words; the median and the slowest of 50 draws), and how
many requests the page made to any other origin while drawing (0: the map comes from the data).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from intake.app.demo_places import caller_home, phone_location, sample_crimes
from screenpop.incidents_csv import read_crimes
from telephony.geolocation import distance_m
from tests.browser.place_harness import PageHandler, serving

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
PORT = 9452  # the map helper's range
SEED, NUMBER = 12, "07700900000"
RADIUS_M, PERIOD_S, LIMIT, ADDRESS_M = 500.0, 90 * 86400.0, 20, 25.0  # [incidents]' defaults
DRAW = """async (pop) => {
  const times = [];
  for (let i = 0; i < 50; i += 1) { const t = performance.now(); place.show(pop); times.push(performance.now() - t); }
  return times;
}"""


def demo_pop(now: float) -> dict:
    """The pop the demo sends for NUMBER: its phone's location and the incidents near it, chosen
    and ordered as the incident store does (at the door, nearest, newest; the nearest LIMIT)."""
    sent = phone_location(SEED)(NUMBER)
    assert sent is not None and sent.lat is not None and sent.lon is not None
    home = caller_home(NUMBER, SEED)
    crimes = read_crimes(sample_crimes(SEED, now, [f"07700900{i:03d}" for i in range(4)]).splitlines(keepends=True),
                         now=now, keep_seconds=400 * 86400).incidents
    near = sorted(((distance_m(home.lat, home.lon, c.point.lat, c.point.lon), c) for c in crimes if c.at > now - PERIOD_S),
                  key=lambda dc: dc[0])
    shown = [{"id": c.id, "source": c.source, "type": c.type, "grade": c.grade, "status": c.status, "at": c.at,
              "point": c.point.model_dump(), "distance_m": round(d, 1), "at_address": d <= ADDRESS_M}
             for d, c in near if d <= RADIUS_M][:LIMIT]
    shown.sort(key=lambda i: (not i["at_address"], i["distance_m"], -i["at"]))
    location = {"lat": sent.lat, "lon": sent.lon, "source": "call", "at": now - 40, "radius_m": sent.radius_m,
                "confidence": sent.confidence, "civic": ""}
    return {"type": "pop", "seq": 0, "call_id": "demo-1", "line": "999", "queue": "emergency",
            "caller": {"number": NUMBER, "name": ""}, "queued_at": now - 6, "waited_seconds": 6.0,
            "history_status": "ok", "history": None, "flags": [], "repeat": None, "location": location, "incidents": shown}


async def main(out: Path) -> dict:
    from playwright.async_api import async_playwright

    pop = demo_pop(time.time())
    elsewhere: list[str] = []
    for _ in serving(PageHandler, PORT):
        with tempfile.TemporaryDirectory(prefix="intake-chromium-") as profile:
            async with async_playwright() as pw:
                context = await pw.chromium.launch_persistent_context(
                    profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, viewport={"width": 1200, "height": 700})
                page = context.pages[0] if context.pages else await context.new_page()
                page.on("request", lambda r: elsewhere.append(r.url) if urlsplit(r.url).port != PORT else None)
                await page.goto(f"http://127.0.0.1:{PORT}/harness/harness.html")
                await page.wait_for_selector("body[data-ready=yes]")
                times = await page.evaluate(DRAW, pop)
                out.parent.mkdir(parents=True, exist_ok=True)
                await page.locator("#pop").screenshot(path=str(out))
                await context.close()
    return {"png": str(out), "incidents": len(pop["incidents"]), "at_the_door": sum(i["at_address"] for i in pop["incidents"]),
            "draw_ms_median": round(statistics.median(times), 2), "draw_ms_max": round(max(times), 2),
            "draws": len(times), "requests_elsewhere": len(elsewhere)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "pop-map.png")
    print(json.dumps(asyncio.run(main(parser.parse_args().out))), flush=True)
