"""The handler's desktop with a pop, and the reports page, as PNGs for the docs: ``intake demo``
with its simulated traffic four times faster than life and a small caller pool (so numbers ring
again and have history), a marker filed on each of them, every handler but h1 out of the queues
(so calls ring h1 having waited), the pages in Debian's chromium.

    PYTHONPATH=$PWD python3 scripts/desktop_screenshot.py [--out-dir docs/images]

The desktop is taken once a pop shows markers, a repeat-caller flag and earlier contacts; the
reports page once its day, its month's return and its forecast are drawn. Prints one JSON line: where the PNGs went, what the pop
showed, and how long each page took to get there.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import time
from pathlib import Path

import httpx
from wallboard_screenshot import (  # this script's neighbour: the same demo and browser
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    demo,
)

CALLERS = 3  # the demo's pool: 07700900000 ... 07700900002
MARKERS = [("vulnerable adult", "lives alone, hard of hearing"), ("domestic abuse", "ex-partner has a non-molestation order"),
           ("firearms at address", "shotgun certificate holder")]
POP_READY = """() => {
  const q = (s) => document.querySelector(s);
  return !q('#pop').classList.contains('hidden') && q('#pop-phase').textContent === 'Ringing'
    && q('#pop-markers').children.length >= 1 && !q('#pop-flags').classList.contains('hidden')
    && q('#pop-recent tbody').children.length >= 2;
}"""
POP_SHOWN = """() => ({ line: document.querySelector('#pop-line').textContent,
  waited: document.querySelector('#pop-waited').textContent, level: document.querySelector('#pop-waited').dataset.level,
  flags: [...document.querySelectorAll('#pop-flags li')].map((li) => li.textContent),
  markers: document.querySelectorAll('#pop-markers li').length,
  recent: document.querySelectorAll('#pop-recent tbody tr').length })"""


async def prepare(d: dict) -> None:
    """A marker on each number of the pool; every handler but h1 out of the queues."""
    async with httpx.AsyncClient(base_url=d["base_url"]) as http:
        sup = {"Authorization": f"Bearer {d['supervisors']['sup1']}"}
        for i, (kind, detail) in enumerate(MARKERS[:CALLERS]):
            r = await http.post("/api/markers", json={"number": f"0770090000{i}", "kind": kind, "detail": detail}, headers=sup)
            r.raise_for_status()
        for handler, token in d["handlers"].items():
            state = {"state": "ready"} if handler == "h1" else {"state": "logged-out"}
            r = await http.post("/api/me/state", json=state, headers={"Authorization": f"Bearer {token}"})
            r.raise_for_status()


async def shoot(out_dir: Path, seed: int, patience: float) -> dict:
    from playwright.async_api import async_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    desktop_png, reports_png = out_dir / "desktop.png", out_dir / "reports.png"
    with demo("--speed", "4", "--seed", str(seed), "--callers", str(CALLERS)) as d:
        await prepare(d)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1600, "height": 1000})
                await page.goto(d["base_url"] + "/desktop")
                await page.fill("#token", d["handlers"]["h1"])
                await page.click("#signin button[type=submit]")
                started = time.monotonic()
                await page.wait_for_function(POP_READY, timeout=patience * 1000)
                await page.screenshot(path=str(desktop_png))
                pop = await page.evaluate(POP_SHOWN)
                pop_seconds = time.monotonic() - started

                reports = await browser.new_page(viewport={"width": 1600, "height": 1000})
                await reports.goto(d["base_url"] + "/reports")
                await reports.fill("#token", d["supervisors"]["sup1"])
                day = reports.locator("#day")
                if await day.count():
                    await day.fill(datetime.date.today().isoformat())
                started = time.monotonic()
                await reports.click("#query button[type=submit]")
                await reports.wait_for_selector("main svg", timeout=patience * 1000)
                for form, shown in (("#return-query", "#return:not(.hidden)"), ("#forecast-query", "#forecast:not(.hidden)")):
                    await reports.click(f"{form} button[type=submit]")
                    await reports.wait_for_selector(shown, timeout=patience * 1000)
                await reports.screenshot(path=str(reports_png), full_page=True)
                reports_seconds = time.monotonic() - started
            finally:
                await browser.close()
    return {"desktop_png": str(desktop_png), "reports_png": str(reports_png), "pop": pop,
            "waited_for_pop_seconds": round(pop_seconds, 1), "waited_for_reports_seconds": round(reports_seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--patience", type=float, default=240.0, help="seconds to wait for each page")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(shoot(args.out_dir, args.seed, args.patience))))


if __name__ == "__main__":
    main()
