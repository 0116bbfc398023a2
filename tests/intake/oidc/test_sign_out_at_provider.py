"""Signing out signs out at the provider too (OpenID Connect RP-initiated logout): /auth/logout ends
intake's session and sends the browser to the provider's end_session_endpoint with the id token
as id_token_hint and a state; the provider's own sign-out sends it back to /auth/logged-out, then
on to where the sign-out was to go. After it, a new sign-in asks for credentials again (while the
provider's session lasted, it went straight through). Against the real provider, headless."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from intake.app.authenticator import SESSION_COOKIE
from tests.intake.oidc.conftest import Signed
from tests.intake.oidc.test_sign_in import cookies_set, start, with_session
from tests.support.oidc import through_login_page


def at_provider(browser: httpx.Client, url: str) -> str | httpx.Response:
    """Follow ``url`` at the provider as a browser would: the URL it sends the browser back to, or
    the page it stops at (a login form)."""
    answer = browser.get(url)
    while answer.is_redirect:
        location = urljoin(str(answer.url), answer.headers["location"])
        if urlsplit(location).netloc != browser.base_url.netloc.decode():
            return location
        answer = browser.get(location)
    return answer


def asks_for_credentials(page: str | httpx.Response) -> bool:
    return isinstance(page, httpx.Response) and 'name="prompt" value="login"' in page.text


async def signed_in(signed: Signed, browser: httpx.Client, login: str) -> str:
    """A sign-in through the provider's login page in ``browser`` (which keeps the provider's
    cookies): intake's session cookie."""
    url, state_cookie = await start(signed)
    answer = await signed.http.get(through_login_page(browser, url, login), headers={"Cookie": f"signin={state_cookie}"})
    assert answer.status_code == 303, answer.text
    return cookies_set(answer)[SESSION_COOKIE][SESSION_COOKIE].value


def claims(jwt: str) -> dict[str, object]:
    payload = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


async def test_signing_out_ends_the_providers_session_too_so_the_next_sign_in_asks_for_credentials(signed: Signed) -> None:
    base = str(signed.http.base_url).rstrip("/")
    with httpx.Client(base_url=signed.provider.issuer, timeout=10) as browser:
        session = await signed_in(signed, browser, "h1")
        url, _ = await start(signed)
        again = at_provider(browser, url)
        assert isinstance(again, str) and "code=" in again  # the provider's session signs h1 straight in

        answer = await signed.http.post("/auth/logout", params={"next": "/desktop"},
                                        headers=with_session(session) | {"Origin": base})
        assert answer.status_code == 303
        assert cookies_set(answer)[SESSION_COOKIE][SESSION_COOKIE]["max-age"] == "0"
        end_session = str(signed.provider.discovery()["end_session_endpoint"])
        to_provider = answer.headers["location"]
        assert to_provider.startswith(f"{end_session}?")
        query = parse_qs(urlsplit(to_provider).query)
        assert query["post_logout_redirect_uri"] == [f"{base}/auth/logged-out"] and query["client_id"] == ["intake"]
        assert claims(query["id_token_hint"][0])["sub"] == "h1" and query["state"][0]
        assert (await signed.http.get("/api/me", headers=with_session(session))).status_code == 401

        # The provider asks whether to sign out (its own page): yes.
        page = browser.get(to_provider)
        action = re.search(r'<form id="op.logoutForm" method="post" action="([^"]+)"', page.text)
        xsrf = re.search(r'name="xsrf" value="([^"]+)"', page.text)
        assert action is not None and xsrf is not None, page.text[:2000]
        confirmed = browser.post(urljoin(str(page.url), action.group(1)), data={"xsrf": xsrf.group(1), "logout": "yes"})
        assert confirmed.is_redirect, confirmed.text[:2000]
        back = confirmed.headers["location"]
        assert back.startswith(f"{base}/auth/logged-out?")
        assert parse_qs(urlsplit(back).query)["state"] == query["state"]
        landed = await signed.http.get(back)
        assert (landed.status_code, landed.headers["location"]) == (303, "/desktop")
        assert (await signed.http.get(back)).headers["location"] == "/desktop"  # a state used already: the desktop

        url, _ = await start(signed)
        assert asks_for_credentials(at_provider(browser, url))


async def test_sign_out_from_another_sites_page_is_refused_and_the_session_lasts(signed: Signed) -> None:
    with httpx.Client(base_url=signed.provider.issuer, timeout=10) as browser:
        session = await signed_in(signed, browser, "h2")
    base = str(signed.http.base_url).rstrip("/")
    for forged in ({"Origin": "https://elsewhere.example"},
                   {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a form on another site's page
                   {"Origin": base, "Sec-Fetch-Site": "same-site"}):  # a sibling host's page
        answer = await signed.http.post("/auth/logout", headers=with_session(session) | forged)
        assert answer.status_code == 403 and "own pages" in answer.text, forged
    assert (await signed.http.get("/api/me", headers=with_session(session))).status_code == 200
    # The desktop's own form: the browser says Origin null (the pages' Referrer-Policy), and same-origin.
    own = await signed.http.post("/auth/logout", headers=with_session(session) | {"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 303
    assert (await signed.http.get("/api/me", headers=with_session(session))).status_code == 401


async def test_with_sign_out_at_provider_off_only_intakes_session_ends(signed: Signed) -> None:
    sign_in = signed.server.sign_in
    assert sign_in is not None and sign_in.oidc.sign_out_at_provider  # the default
    sign_in.oidc = sign_in.oidc.model_copy(update={"sign_out_at_provider": False})
    with httpx.Client(base_url=signed.provider.issuer, timeout=10) as browser:
        session = await signed_in(signed, browser, "h1")
        answer = await signed.http.post("/auth/logout", params={"next": "/wallboard"}, headers=with_session(session))
        assert (answer.status_code, answer.headers["location"]) == (303, "/wallboard")
        assert (await signed.http.get("/api/me", headers=with_session(session))).status_code == 401
        url, _ = await start(signed)
        assert not asks_for_credentials(at_provider(browser, url))  # the provider still knows h1
