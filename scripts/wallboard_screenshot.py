"""The wallboard under load, as a 1920x1080 PNG for the docs: ``intake demo`` with its simulated
traffic four times faster than life (calls queue, ring out, are abandoned and called back), the
page in Debian's chromium, and the picture taken once the board shows waiting calls, a flagged
caller and an open call-back.

    PYTHONPATH=$PWD python3 scripts/wallboard_screenshot.py [--out docs/images/wallboard.png]

Prints one JSON line: where the PNG went, what the board showed when it was taken, the size of
the pictures the page was sent (and of the trend in them), and how long the page takes to draw
one (the last, drawn again 20 times).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
LOADED = """() => document.querySelectorAll('#oldest tbody tr').length >= 4
  && document.querySelector('#oldest .marker') !== null
  && document.querySelectorAll('#callback-tasks tbody tr[data-task]').length >= 1"""
SHOWN = """() => ({ waiting: document.querySelectorAll('#oldest tbody tr[data-call]').length,
  flagged: document.querySelectorAll('#oldest tr.flagged').length,
  callbacks: document.querySelectorAll('#callback-tasks tbody tr[data-task]').length,
  alarm: !document.querySelector('#alarm').classList.contains('hidden'),
  fits: document.documentElement.scrollHeight <= innerHeight && document.documentElement.scrollWidth <= innerWidth })"""
DRAW_TIME = """async (picture) => {
  const { render } = await import('/static/wallboard_board.js');
  const times = [];
  for (let i = 0; i < 20; i += 1) { const t = performance.now(); render(picture); times.push(performance.now() - t); }
  times.sort((a, b) => a - b);
  return { median_ms: times[10], max_ms: times[19] };
}"""


@contextlib.contextmanager
def demo(*args: str) -> Iterator[dict]:
    """`intake demo --port 0 --json ARGS...` (also scripts/desktop_screenshot.py's): its JSON line."""
    proc = subprocess.Popen([sys.executable, "-m", "intake.app.cli", "demo", "--port", "0", "--json", *args],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise SystemExit("intake demo printed nothing")
        yield json.loads(line)
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]


async def shoot(out: Path, seed: int, patience: float) -> dict:
    from playwright.async_api import async_playwright

    with demo("--speed", "4", "--seed", str(seed), "--escalate-callbacks", "40") as d:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1920, "height": 1080})
                sizes: list[int] = []
                last: list[str] = []

                def heard(payload: str | bytes) -> None:
                    sizes.append(len(payload))
                    last[:] = [payload if isinstance(payload, str) else payload.decode()]

                page.on("websocket", lambda ws: ws.on("framereceived", heard))
                await page.goto(d["base_url"] + "/wallboard")
                await page.fill("#token", d["supervisors"]["sup1"])
                await page.click("#signin button[type=submit]")
                started = time.monotonic()
                await page.wait_for_function(LOADED, timeout=patience * 1000)
                shown = await page.evaluate(SHOWN)
                out.parent.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(out))
                picture = json.loads(last[0])
                drawn = await page.evaluate(DRAW_TIME, picture)
            finally:
                await browser.close()
    return {"png": str(out), "waited_for_load_seconds": round(time.monotonic() - started, 1), **shown,
            "pictures": len(sizes), "picture_bytes": {"mean": round(sum(sizes) / len(sizes)), "max": max(sizes)},
            "trend_bytes": {line: len(json.dumps(f["trend"])) for line, f in picture["lines"].items()},
            "draw_ms": {k: round(v, 2) for k, v in drawn.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "wallboard.png")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--patience", type=float, default=240.0, help="seconds to wait for the board to fill")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(shoot(args.out, args.seed, args.patience))))


if __name__ == "__main__":
    main()
