"""A supervisor's wallboard over two PBX sites, in chromium: each site's queues in their own rows,
and a site whose PBX goes away shown down while the other site's figures carry on."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.intake.two_sites import two_sites
from tests.waiting import patience_ms

pytestmark = pytest.mark.browser


async def test_the_wallboard_shows_each_site_and_a_site_down(page: Any, redis_client: Any):
    async with two_sites(redis_client) as rig:
        await page.goto(rig.base_url + "/wallboard")
        await page.fill("#token", rig.supervisor_token)
        await page.click("#signin button[type=submit]")
        await page.wait_for_selector("[data-queue='south/emergency']", timeout=patience_ms(5000))
        assert await page.get_attribute("[data-site=north][data-up]", "data-up") == "true"

        rig.sims["north"].place_call("emergency", "07700900601", "North Caller")
        north_waiting = "[data-queue='north/emergency'] [data-col=waiting]"
        await page.wait_for_function(f"document.querySelector(\"{north_waiting}\").textContent === '1'",
                                     timeout=patience_ms(10000))
        await rig.sims["south"].shut_down(restart=False)
        await page.wait_for_selector("[data-site=south][data-up=false]", timeout=patience_ms(10000))
        assert "DOWN" in (await page.text_content("[data-site=south]") or "")
        assert await page.get_attribute("[data-site=north]", "data-up") == "true"
        assert await page.text_content(north_waiting) == "1"  # north carries on
        assert "all sites" in (await page.text_content("[data-line='999'] h2") or "")
        await page.screenshot(path=str(ARTIFACTS / "wallboard-sites.png"), full_page=True)
