"""``/docs`` in chromium with the network cut at the machine's edge: every request that is not to
127.0.0.1 is refused (a control room's network has no internet). Swagger UI still renders every
operation of ``/openapi.json``, under the pages' Content-Security-Policy with no violation, offers
the Authorize button, and a supervisor's token entered there gets a real answer from "Try it out".
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import expect

from tests.demo_process import demo_process
from tests.waiting import patience_ms

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with demo_process(tmp_path_factory.mktemp("demo"), "--seed", "3") as demo:
        yield demo


async def test_docs_render_every_operation_with_no_request_leaving_the_machine(page, demo: dict):
    asked: list[str] = []
    refused: list[str] = []

    async def only_loopback(route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            asked.append(url)
            await route.continue_()
        else:
            refused.append(url)
            await route.abort("internetdisconnected")

    await page.context.route("**/*", only_loopback)
    spec = httpx.get(demo["base_url"] + "/openapi.json").json()
    operations = [(method, path) for path, ops in spec["paths"].items() for method in ops]

    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    answer = await page.goto(demo["base_url"] + "/docs")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    await expect(page.locator(".opblock")).to_have_count(len(operations), timeout=patience_ms(10_000))
    await expect(page.locator(".opblock-summary-path", has_text="/api/outcomes")).to_be_visible()

    # The bearer scheme the schema declares is Swagger UI's Authorize button; a token given there
    # is sent with "Try it out".
    await page.get_by_role("button", name="Authorize").first.click()
    await page.locator(".modal-ux input").fill(demo["supervisors"]["sup1"])
    await page.locator(".modal-ux button.modal-btn.authorize").click()
    await page.locator(".modal-ux button.btn-done").click()
    queues = page.locator(".opblock", has=page.locator(".opblock-summary-path", has_text="/api/queues"))
    await queues.locator(".opblock-summary").click()
    await queues.get_by_role("button", name="Try it out").click()
    await queues.get_by_role("button", name="Execute").click()
    await expect(queues.locator(".live-responses-table tr.response .response-col_status").first).to_have_text(
        "200", timeout=patience_ms(5_000))

    assert refused == [], "requests that would have left the machine"
    assert violations == []
    assert any("/docs/assets/swagger-ui-bundle.js" in url for url in asked), asked
