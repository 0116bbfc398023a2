"""A handler signs in at the desktop page through the real OpenID provider's own login page, in
chromium, and receives a pop; signing out ends the session and brings back the sign-in."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import ARTIFACTS
from tests.intake.oidc.conftest import Signed, intake_port, provider, signed  # noqa: F401 - the fixtures
from tests.support.oidc import sign_out_at_provider_page
from tests.waiting import patience_ms

pytestmark = pytest.mark.browser


async def test_a_handler_signs_in_through_the_providers_login_page_and_receives_a_pop(page, signed: Signed) -> None:  # noqa: F811
    base = str(signed.http.base_url).rstrip("/")
    await page.goto(f"{base}/desktop")
    await page.click("#sso:not(.hidden)", timeout=patience_ms(5000))
    # The provider's own login page (oidc-provider's), on its own origin.
    await page.wait_for_url(f"{signed.provider.issuer}/**", timeout=patience_ms(10000))
    await page.fill("input[name=login]", "h1")
    await page.fill("input[name=password]", "any password")
    await page.screenshot(path=str(ARTIFACTS / "sign-in-provider.png"))
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/desktop", timeout=patience_ms(10000))
    await page.wait_for_selector("#connection.up", timeout=patience_ms(10000))
    assert "(h1)" in await page.text_content("#who")
    cookies = {c["name"]: c for c in await page.context.cookies(base)}
    session = cookies["__Host-intake-session"]
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Lax"
    assert await page.evaluate("document.cookie") == ""  # the page's script cannot read it

    # h1 ready (the PBX's own state; the simulator starts everyone out of the queues), a 999 call
    # rings h1: the pop is on the signed-in desktop.
    async with httpx.AsyncClient(base_url=base) as http:
        r = await http.post("/api/me/state", json={"state": "ready", "reason": ""},
                            headers=signed.bearer(signed.provider.tokens_for("h1")["access_token"]))
        assert r.status_code == 200, r.text
    await page.wait_for_function("document.querySelector('#state').dataset.state === 'ready'", timeout=patience_ms(10000))
    call_id = signed.sim.place_call("emergency", "07700900123", "Pat Caller")
    await page.wait_for_function("""id => document.querySelector('#pop').dataset.callId === id
        && document.querySelector('#pop-number').textContent === '07700900123'""", arg=call_id, timeout=patience_ms(15000))
    await page.screenshot(path=str(ARTIFACTS / "sign-in-pop.png"))

    # Sign out: the session is gone (on every node) and the page asks to sign in again.
    await page.click("#sign-out")
    await sign_out_at_provider_page(page, signed.provider.issuer)  # the provider's session ends too
    await page.wait_for_url(f"{base}/desktop", timeout=patience_ms(10000))
    await page.wait_for_selector("#signin:not(.hidden)", timeout=patience_ms(10000))
    await page.wait_for_selector("#sso:not(.hidden)", timeout=patience_ms(5000))
    assert "__Host-intake-session" not in {c["name"] for c in await page.context.cookies(base)}
