"""The pages work under their Content-Security-Policy, in chromium against ``intake demo``: each
signs in and goes live with no violation reported, and the policy is really enforced (a script
injected into the page does not run)."""

from __future__ import annotations

import pytest

from tests.waiting import patience_ms

pytestmark = pytest.mark.browser


def violations(page) -> list[str]:
    said: list[str] = []
    page.on("console", lambda message: said.append(message.text) if "Content Security Policy" in message.text else None)
    return said


async def test_the_desktop_and_the_wallboard_go_live_under_the_csp_with_no_violation(page, demo: dict) -> None:
    refused = violations(page)
    for path, token, live in (("/desktop", demo["handlers"]["h1"], "#connection.up"),
                              ("/wallboard", demo["supervisors"]["sup1"], "#connection.up")):
        answer = await page.goto(demo["base_url"] + path)
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["referrer-policy"] == "no-referrer"
        await page.fill("#token", token)
        await page.click("#signin button[type=submit]")
        await page.wait_for_selector(live, timeout=patience_ms(5000))  # the socket signed in by its first message
    await page.wait_for_function("() => Number(document.body.dataset.seq) >= 1", timeout=patience_ms(5000))  # a picture drawn
    await page.goto(demo["base_url"] + "/reports")
    await page.fill("#token", demo["supervisors"]["sup1"])
    await page.click("#query button[type=submit]")
    await page.wait_for_selector("#result:not(.hidden) svg", timeout=patience_ms(5000))  # the chart, drawn by script
    async with page.expect_download(timeout=patience_ms(5000)) as csv:  # fetched with the token, saved from a blob:
        await page.click("#csv")
    assert (await csv.value).suggested_filename.endswith(".csv")
    assert refused == []


async def test_a_script_injected_into_a_page_does_not_run(page, demo: dict) -> None:
    await page.goto(demo["base_url"] + "/desktop")
    async with page.expect_console_message(lambda m: "Content Security Policy" in m.text,
                                           timeout=patience_ms(5000)) as refusal:
        await page.evaluate("""() => { const s = document.createElement('script');
            s.textContent = 'window.injected = true'; document.body.append(s); }""")  # an inline script runs as it is added
    assert "script-src 'self'" in (await refusal.value).text
    assert await page.evaluate("() => window.injected === undefined")
