"""The pages' sign-in through the real provider's login page (the authorization-code flow with
PKCE), headless: a session in Redis behind an HttpOnly, Secure, SameSite=Lax cookie that any node
accepts; a callback this browser did not start, or one replayed, is refused; sign-out ends the
session and closes the handler's desktop socket; an expired session is refused."""

from __future__ import annotations

import hashlib
import json
import logging
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import websockets

from intake.app.authenticator import SESSION_COOKIE
from intake.app.sessions import Sessions
from screenpop.web import RedactTokens
from tests.intake.oidc.conftest import Signed
from tests.support.oidc import through_login_page


def cookies_set(answer: httpx.Response) -> dict[str, SimpleCookie]:
    jars = {}
    for header in answer.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        jars.update({name: jar for name in jar})
    return jars


async def start(signed: Signed, after: str = "/desktop") -> tuple[str, str]:
    """/auth/login: the provider's URL it sends the browser to, and the sign-in cookie it sets."""
    answer = await signed.http.get("/auth/login", params={"next": after})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"], cookies_set(answer)["signin"]["signin"].value


def at_provider(signed: Signed, url: str, login: str) -> str:
    with httpx.Client(base_url=signed.provider.issuer, timeout=10) as browser:
        return through_login_page(browser, url, login)


async def sign_in(signed: Signed, login: str) -> tuple[str, httpx.Response]:
    """The whole sign-in as a browser does it: the session cookie's value, and the callback's answer."""
    url, state_cookie = await start(signed)
    back = at_provider(signed, url, login)
    answer = await signed.http.get(back, headers={"Cookie": f"signin={state_cookie}"})
    jar = cookies_set(answer)
    return (jar[SESSION_COOKIE][SESSION_COOKIE].value if SESSION_COOKIE in jar else ""), answer


def with_session(session: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={session}"}


async def test_the_sign_in_asks_for_a_code_with_pkce_and_binds_the_state_to_the_browser(signed: Signed) -> None:
    url, state_cookie = await start(signed)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{signed.provider.issuer}/auth?")
    assert (query["response_type"], query["code_challenge_method"], query["client_id"]) == (["code"], ["S256"], ["intake"])
    assert query["state"] == [state_cookie] and query["nonce"][0] and len(query["code_challenge"][0]) == 43


async def test_a_handler_signs_in_through_the_providers_login_page_into_a_session_any_node_accepts(signed: Signed) -> None:
    session, answer = await sign_in(signed, "h1")
    assert (answer.status_code, answer.headers["location"]) == (303, "/desktop")
    cookie = cookies_set(answer)[SESSION_COOKIE][SESSION_COOKIE]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"].lower() == "lax" and cookie["path"] == "/"
    me = await signed.http.get("/api/me", headers=with_session(session))
    assert (me.status_code, me.json()["handler_id"]) == (200, "h1")

    # Redis holds it under a digest of the cookie (not the cookie itself): another node reads the same.
    key = f"intake:session:{hashlib.sha256(session.encode()).hexdigest()}"
    stored = json.loads(await signed.server.redis.get(key))
    assert (stored["id"], stored["role"], stored["subject"]) == ("h1", "handler", "h1")
    another_node = Sessions(signed.server.redis, "intake:", 3600)
    assert (found := await another_node.find(session)) is not None and found.id == "h1"


async def test_a_supervisor_signed_in_opens_the_supervisors_routes_and_not_the_handlers(signed: Signed) -> None:
    session, _ = await sign_in(signed, "sup1")
    assert (await signed.http.get("/api/queues", headers=with_session(session))).status_code == 200
    assert (await signed.http.get("/api/me", headers=with_session(session))).status_code == 403


async def test_someone_intake_does_not_know_is_refused_at_the_callback_by_name(signed: Signed) -> None:
    session, answer = await sign_in(signed, "stranger")
    assert (session, answer.status_code) == ("", 403)
    assert "intake has no handler 'stranger' configured" in answer.text


async def test_a_callback_this_browser_did_not_start_or_a_replayed_one_is_refused(signed: Signed) -> None:
    url, state_cookie = await start(signed)
    back = at_provider(signed, url, "h1")
    elsewhere = await signed.http.get(back)  # no sign-in cookie: another browser (login CSRF)
    assert elsewhere.status_code == 401 and "not started by this browser" in elsewhere.text
    first = await signed.http.get(back, headers={"Cookie": f"signin={state_cookie}"})
    assert first.status_code == 303
    again = await signed.http.get(back, headers={"Cookie": f"signin={state_cookie}"})
    assert again.status_code == 401 and "used already" in again.text


async def test_sign_out_ends_the_session_everywhere_and_closes_the_handlers_desktop(signed: Signed) -> None:
    session, _ = await sign_in(signed, "h2")
    ws_url = str(signed.http.base_url).replace("http", "ws", 1) + "/ws/desktop?last_seq=0"
    async with websockets.connect(ws_url, additional_headers=with_session(session)) as desktop:
        hello = json.loads(await desktop.recv())
        assert hello["type"] == "me" and hello["handler_id"] == "h2"
        answer = await signed.http.post("/auth/logout", params={"next": "/desktop"}, headers=with_session(session))
        end_session = str(signed.provider.discovery()["end_session_endpoint"])  # on to the provider's sign-out
        assert answer.status_code == 303 and answer.headers["location"].startswith(f"{end_session}?")
        assert cookies_set(answer)[SESSION_COOKIE][SESSION_COOKIE]["max-age"] == "0"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await desktop.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    refused = await signed.http.get("/api/me", headers=with_session(session))
    assert refused.status_code == 401 and "sign in again" in refused.json()["detail"]


async def test_a_desktop_with_an_ended_or_made_up_session_is_refused_with_4401(signed: Signed) -> None:
    ws_url = str(signed.http.base_url).replace("http", "ws", 1) + "/ws/desktop"
    async with websockets.connect(ws_url, additional_headers=with_session("made-up")) as desktop:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await desktop.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_a_session_past_its_lifetime_is_refused(signed: Signed) -> None:
    now = [1000.0]
    sessions = Sessions(signed.server.redis, "intake:", 60, now=lambda: now[0])
    session_id, _ = await sessions.open(signed.server.authenticator.claims_principal(
        {"sub": "h1", "preferred_username": "h1", "roles": ["handler"]}))
    assert await sessions.find(session_id) is not None
    now[0] += 60
    assert await sessions.find(session_id) is None


async def test_a_session_that_runs_out_closes_the_handlers_desktop_and_is_refused(signed: Signed) -> None:
    session, _ = await sign_in(signed, "h1")
    sessions = signed.server.authenticator.sessions
    assert sessions is not None
    ws_url = str(signed.http.base_url).replace("http", "ws", 1) + "/ws/desktop"
    async with websockets.connect(ws_url, additional_headers=with_session(session)) as desktop:
        assert json.loads(await desktop.recv())["handler_id"] == "h1"
        assert await sessions.sweep() == 0  # not yet
        lifetime = signed.server.config.oidc.session_seconds  # type: ignore[union-attr]
        real = sessions.clock
        sessions.clock = lambda: real() + lifetime
        assert await sessions.sweep() == 1  # what the node's sweep does every few seconds
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await desktop.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    refused = await signed.http.get("/api/me", headers=with_session(session))
    assert refused.status_code == 401


async def test_a_supervisors_wallboard_signs_in_by_the_session_and_closes_at_sign_out(signed: Signed) -> None:
    session, _ = await sign_in(signed, "sup1")
    ws_url = str(signed.http.base_url).replace("http", "ws", 1) + "/ws/supervisor"
    async with websockets.connect(ws_url, additional_headers=with_session(session)) as wallboard:
        assert json.loads(await wallboard.recv())["type"] == "metrics"
        await signed.http.post("/auth/logout", headers=with_session(session))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await wallboard.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_another_sites_page_cannot_act_on_the_session(signed: Signed) -> None:
    session, _ = await sign_in(signed, "h1")
    body = {"state": "not-ready", "reason": "Break"}
    forged = await signed.http.post("/api/me/state", json=body,
                                    headers=with_session(session) | {"Origin": "http://127.0.0.1:1"})
    assert forged.status_code == 401 and "intake's own pages" in forged.json()["detail"]
    own = await signed.http.post("/api/me/state", json=body,
                                 headers=with_session(session) | {"Origin": str(signed.http.base_url).rstrip("/")})
    assert own.status_code == 200, own.text


async def test_a_sign_in_the_person_cancels_at_the_provider_is_refused_saying_so(signed: Signed) -> None:
    url, state_cookie = await start(signed)
    state = parse_qs(urlsplit(url).query)["state"][0]
    answer = await signed.http.get("/auth/callback", params={"error": "access_denied", "state": state},
                                   headers={"Cookie": f"signin={state_cookie}"})
    assert answer.status_code == 401 and "refused the sign-in: access_denied" in answer.text
    assert SESSION_COOKIE not in cookies_set(answer)


@pytest.mark.parametrize("after", ["https://elsewhere.example/", "//elsewhere.example/", "/\\elsewhere.example"])
async def test_the_page_after_sign_in_is_always_one_of_intakes_own(signed: Signed, after: str) -> None:
    url, state_cookie = await start(signed, after=after)
    back = at_provider(signed, url, "h1")
    answer = await signed.http.get(back, headers={"Cookie": f"signin={state_cookie}"})
    assert (answer.status_code, answer.headers["location"]) == (303, "/desktop")


def test_the_sign_in_code_is_blanked_in_the_access_log_like_a_token() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/auth/callback?code=abc.DEF-123&state=s1", "1.1", 303), None)
    RedactTokens().filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /auth/callback?code=[redacted]&state=s1 HTTP/1.1" 303'
