"""A supervisor's wallboard over two PBX sites, in chromium: each site's queues in their own rows,
and a site whose PBX goes away shown down while the other site's figures carry on."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.intake.two_sites import two_sites
from tests.waiting import eventually, patience_ms

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
        await page.wait_for_function(f"() => document.querySelector(\"{north_waiting}\").textContent === '1'",
                                     timeout=patience_ms(10000))
        await rig.sims["south"].shut_down(restart=False)
        await page.wait_for_selector("[data-site=south][data-up=false]", timeout=patience_ms(10000))
        assert "DOWN" in (await page.text_content("[data-site=south]") or "")
        await page.wait_for_selector("[data-handler=s1] [data-col=state]:has-text('(site down)')", timeout=patience_ms(5000))
        assert "(site down)" not in (await page.text_content("[data-handler=n2] [data-col=state]") or "")
        assert await page.get_attribute("[data-site=north]", "data-up") == "true"
        assert await page.text_content(north_waiting) == "1"  # north carries on
        assert "all sites" in (await page.text_content("[data-line='999'] h2") or "")
        await page.screenshot(path=str(ARTIFACTS / "wallboard-sites.png"), full_page=True)


async def test_the_reports_page_reports_every_site_or_one(page: Any, redis_client: Any):
    async with two_sites(redis_client) as rig:
        for site, calls in (("north", 1), ("south", 2)):
            for n in range(calls):
                call = rig.sims[site].place_call("emergency", f"0770090070{n}", "Caller")
                await eventually(lambda s=site, c=call: c in rig.server.sites[s].registry.calls, 10)
                rig.sims[site].hangup_caller(call)
        await eventually(lambda: len(rig.server.callback_views()) == 3, 10, "three abandoned calls settled")
        await rig.server.writes.flush()
        await page.goto(rig.base_url + "/reports")
        await page.fill("#token", rig.supervisor_token)
        await page.click("#query button[type=submit]")
        await page.wait_for_selector("#site-choice:not(.hidden)", timeout=patience_ms(5000))
        await page.wait_for_function("() => document.querySelector('#summary').textContent.startsWith('3 offered')",
                                     timeout=patience_ms(10000))
        await page.select_option("#site", "south")
        await page.click("#query button[type=submit]")
        await page.wait_for_function("() => document.querySelector('#summary').textContent.startsWith('2 offered')",
                                     timeout=patience_ms(10000))
        assert "site south" in (await page.text_content("#title") or "")
