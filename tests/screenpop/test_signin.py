"""How a socket signs in (screenpop.signin), through a desktop session over an in-memory socket:
the session cookie of the handshake, else the first message; never a token in the URL."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from screenpop.delivery import DesktopHub, HubConfig
from screenpop.errors import BadToken
from screenpop.session import CloseCode, DesktopSession, SessionConfig
from screenpop.signin import Credentials, auth_message
from tests.screenpop.doubles import MemoryDesktop, Outcomes

SESSIONS = {"sess-ana-51c0": "ana"}  # what the app's session store would say
TOKENS = {"tok-bo-91c2": "bo"}
CONFIG = SessionConfig(heartbeat_seconds=60, auth_timeout_seconds=5)


class Authenticator:
    """The app's check, as intake supplies it: a session cookie, or a bearer token; remembers what it was offered."""

    def __init__(self) -> None:
        self.offered: list[Credentials] = []

    async def __call__(self, offered: Credentials) -> str:
        self.offered.append(offered)
        who = SESSIONS.get(offered.cookies.get("intake_session", "")) if offered.bearer is None else TOKENS.get(offered.bearer)
        if who is None:
            raise BadToken("no one signed in")
        return who


async def run(desktop: MemoryDesktop, handshake: Credentials, query: dict[str, str] | None = None,
              authenticate: Authenticator | None = None) -> tuple[DesktopHub, asyncio.Task[CloseCode]]:
    hub = DesktopHub(HubConfig(outbox_size=8))
    session = DesktopSession(desktop, hub, authenticate or Authenticator(), Outcomes(), CONFIG)
    return hub, asyncio.create_task(session.run(handshake, query or {}))


async def test_the_session_cookie_signs_the_desktop_in_without_a_message() -> None:
    desktop = MemoryDesktop()
    hub, task = await run(desktop, Credentials(cookies={"intake_session": "sess-ana-51c0"}))
    assert (await desktop.next())["type"] == "snapshot"
    assert hub.sockets("ana") == 1
    desktop.leave()
    assert await asyncio.wait_for(task, 1) == CloseCode.NORMAL


async def test_without_a_cookie_the_first_message_signs_in() -> None:
    desktop = MemoryDesktop()
    desktop.say(auth_message("tok-bo-91c2"))
    hub, task = await run(desktop, Credentials(client="10.0.0.7"))
    assert (await desktop.next())["type"] == "snapshot"
    assert hub.sockets("bo") == 1
    task.cancel()


async def test_a_stale_cookie_still_lets_the_first_message_sign_in_and_the_app_sees_the_client() -> None:
    desktop, check = MemoryDesktop(), Authenticator()
    desktop.say(auth_message("tok-bo-91c2"))
    _, task = await run(desktop, Credentials(cookies={"intake_session": "expired"}, client="10.0.0.7"), authenticate=check)
    assert (await desktop.next())["type"] == "snapshot"
    assert [(o.bearer is None, o.client) for o in check.offered] == [(True, "10.0.0.7"), (False, "10.0.0.7")]
    task.cancel()


async def test_an_auth_message_after_the_cookie_signed_in_is_taken_in_stride() -> None:
    desktop = MemoryDesktop()
    hub, task = await run(desktop, Credentials(cookies={"intake_session": "sess-ana-51c0"}))
    assert (await desktop.next())["type"] == "snapshot"
    desktop.say(auth_message("tok-bo-91c2"))  # a page cannot tell whether its cookie did
    desktop.say({"type": "outcome", "call_id": "c9", "grading": "priority"})
    assert (await desktop.next())["code"] == "unknown-call"  # answered as ana's; the auth changed nothing
    assert hub.sockets("ana") == 1 and hub.sockets("bo") == 0
    task.cancel()


@pytest.mark.parametrize("parameter", ["token", "access_token"])
async def test_a_token_in_the_url_is_refused_at_once_without_a_look(parameter: str) -> None:
    desktop, check = MemoryDesktop(), Authenticator()
    desktop.say(auth_message("tok-bo-91c2"))  # even with a good first message
    hub, task = await run(desktop, Credentials(), {parameter: "tok-bo-91c2", "last_seq": "0"}, authenticate=check)
    assert await asyncio.wait_for(task, 1) == CloseCode.BAD_TOKEN
    assert desktop.closed is not None and desktop.closed[0] == 4401
    assert f"a token in the URL ({parameter}=) is refused" in desktop.closed[1]
    assert check.offered == [] and hub.sockets("bo") == 0


@pytest.mark.parametrize("first", [
    '{"type": "pong"}', "not json", '{"type": "auth"}', '{"type": "auth", "token": 7}',
    '{"type": "auth", "token": "tok-bo-91c2", "as": "admin"}',
])
async def test_a_first_message_that_is_not_a_sign_in_is_refused_with_4401(first: str) -> None:
    desktop = MemoryDesktop()
    desktop.say(first)
    _, task = await run(desktop, Credentials())
    assert await asyncio.wait_for(task, 1) == CloseCode.BAD_TOKEN
    assert desktop.closed == (4401, 'the first message must be {"type": "auth", "token": "..."}')


async def test_a_wrong_token_in_the_first_message_is_refused_and_never_logged() -> None:
    desktop = MemoryDesktop()
    desktop.say(auth_message("tok-guess-0000"))
    with capture_logs() as logs:
        _, task = await run(desktop, Credentials())
        assert await asyncio.wait_for(task, 1) == CloseCode.BAD_TOKEN
    assert "tok-guess" not in repr(logs) and logs
    assert "tok-guess" not in repr(Credentials(bearer="tok-guess-0000", cookies={"intake_session": "s"}))
