"""A supervisor at the wallboard and reports pages, in chromium, against ``intake demo``."""

from __future__ import annotations

import asyncio
import time
from datetime import date

import httpx
import pytest

from tests.browser.conftest import ARTIFACTS
from tests.waiting import patience_ms

pytestmark = pytest.mark.browser

READ_BOARD = """() => Object.fromEntries([...document.querySelectorAll('[data-line]')].map(s => [s.dataset.line, {
    waiting: s.querySelector('[data-figure=waiting] .value').textContent,
    abandoned: s.querySelector('[data-figure=abandoned] .value').textContent,
    answered: s.querySelector('[data-figure=answered] .value').textContent,
    longest_class: s.querySelector('[data-figure=longest]').className}]))"""


def expected(line: dict) -> dict:
    return {"waiting": str(line["waiting"]), "abandoned": str(line["abandoned"]),
            "answered": f"{line['answered']}/{line['offered']}"}


async def test_wallboard_shows_the_same_figures_as_the_api(page, demo: dict):
    sup = demo["supervisors"]["sup1"]
    await page.goto(demo["base_url"] + "/wallboard")
    await page.fill("#token", sup)
    await page.click("#signin button[type=submit]")
    await page.wait_for_selector("[data-line='999']", timeout=patience_ms(5000))
    assert await page.text_content("#connection") == "Live"
    async with httpx.AsyncClient(base_url=demo["base_url"], headers={"Authorization": f"Bearer {sup}"}) as http:
        # Figures move while calls flow: look for a moment when the page and the API agree.
        matched, deadline = None, time.monotonic() + 20
        while matched is None and time.monotonic() < deadline:
            shown = await page.evaluate(READ_BOARD)
            lines = (await http.get("/api/queues")).json()["lines"]
            if all({k: shown[name][k] for k in ("waiting", "abandoned", "answered")} == expected(f) for name, f in lines.items()):
                matched = shown
            await asyncio.sleep(0.2)
    assert matched is not None, f"page {shown} never matched API {lines}"
    assert set(matched) == {"999", "101"}
    await page.screenshot(path=str(ARTIFACTS / "wallboard.png"), full_page=True)


async def test_wallboard_refuses_a_handler_token_with_a_message(page, demo: dict):
    await page.goto(demo["base_url"] + "/wallboard")
    await page.fill("#token", demo["handlers"]["h1"])
    await page.click("#signin button[type=submit]")
    await page.wait_for_selector("#signin-error:not(.hidden)", timeout=patience_ms(5000))
    assert "supervisor token is required" in await page.text_content("#signin-error")


async def test_reports_page_draws_todays_calls_from_the_journal(page, demo: dict):
    sup = demo["supervisors"]["sup1"]
    async with httpx.AsyncClient(base_url=demo["base_url"], headers={"Authorization": f"Bearer {sup}"}) as http:
        async def offered() -> int:
            hours = (await http.get(f"/api/reports/{date.today().isoformat()}")).json()["hours"]
            return sum(h["offered"] for h in hours)

        deadline = time.monotonic() + 20
        while await offered() == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        assert await offered() > 0
        bad = await http.get("/api/reports/yesterday")
        assert bad.status_code == 422 and "is not a day" in bad.json()["detail"]
    await page.goto(demo["base_url"] + "/reports")
    await page.fill("#token", sup)
    await page.click("#query button[type=submit]")
    await page.wait_for_selector("#chart svg rect", timeout=patience_ms(5000))
    assert "answered within target" in await page.text_content("#summary")
    assert await page.locator("#hours tbody tr").count() >= 1
    async with page.expect_download() as download:
        await page.click("#csv")
    assert (await download.value).suggested_filename == f"intake-{date.today().isoformat()}.csv"
    csv = httpx.get(f"{demo['base_url']}/api/reports/{date.today().isoformat()}/csv", headers={"Authorization": f"Bearer {sup}"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.startswith("hour,offered,answered,answered_within_target") and len(csv.text.splitlines()) == 25
    await page.screenshot(path=str(ARTIFACTS / "reports.png"), full_page=True)
