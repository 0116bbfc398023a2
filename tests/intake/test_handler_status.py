"""A handler's desktop learns its own state from its socket, never by asking: the state as it is
on every connect and resume, then each change the PBX reports.

First the subscriber alone, fed by a real registry and hub; then the whole server against the
simulated PBX over real AMI, Redis and WebSockets on loopback, where every change is made at the
PBX, so the desktop's socket is the only way it could have heard of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from intake.app.handler_status import HandlerStatusPush
from intake.core.config import parse
from intake.core.handlers import HandlerState
from intake.core.registry import Registry
from screenpop.delivery import DesktopHub, Outbox
from telephony import events as ev
from telephony.events import MemberDevice
from tests.intake.timeline import Timeline, member
from tests.routing import test_callback_desk as floors
from tests.routing.test_callback_desk import Desktop, Floor, until
from tests.support.sockets import signed_in

# The call-back tests' floor: the server on the simulated PBX, four handlers in no queue yet.
sim, tokens, floor = floors.sim, floors.tokens, floors.floor

H1, H2 = "PJSIP/handler-1", "PJSIP/handler-2"

CONFIG = parse({
    "ami": {"host": "127.0.0.1", "port": 5038, "username": "intake", "secret": "env:UNUSED"},
    "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]}],
    "handlers": [{"id": "h1", "name": "Alice", "member": H1, "queues": ["emergency"], "token": "env:TOKEN_H1"},
                 {"id": "h2", "name": "Bob", "member": H2, "queues": ["emergency"], "token": "env:TOKEN_H2"}],
    "routing": {"enabled": False},
})


class Wiring:
    """The registry, the hub and the subscriber between them, as the server wires them."""

    def __init__(self) -> None:
        self.registry = Registry({"emergency": ("999", 12.0)}, handlers={H1: ("h1", "Alice"), H2: ("h2", "Bob")},
                                 wrapup_reason=CONFIG.wrapup_reason)
        self.hub = DesktopHub()
        self.push = HandlerStatusPush(CONFIG, self.registry.handlers.get, "no answer", self.hub)

    def apply(self, *events: ev.DomainEvent) -> None:
        for e in events:
            self.push.handle(self.registry.apply(e))


async def shown(outbox: Outbox) -> list[tuple[str, str]]:
    """The (state, reason) of each ``me`` the socket has waiting, oldest first; the rest is dropped."""
    waiting = [json.loads(await outbox.next()) for _ in range(outbox.waiting)]
    return [(m["state"], m["reason"]) for m in waiting if m["type"] == "me"]


def joined(s: float, who: str = H1, **state: Any) -> ev.MemberJoined:
    return ev.MemberJoined(s, member(s, "emergency", who, **state))


def changed(s: float, who: str = H1, **state: Any) -> ev.MemberChanged:
    return ev.MemberChanged(s, member(s, "emergency", who, **state))


STEPS: list[tuple[str, list[ev.DomainEvent], list[tuple[str, str]]]] = [
    ("added to a queue", [joined(1)], [("ready", "")]),
    ("a member event that moves nothing it shows", [changed(2)], []),
    ("another handler changes", [joined(3, H2), changed(4, H2, paused=True, reason="lunch")], []),
    ("paused", [changed(5, paused=True, reason="training")], [("not-ready", "training")]),
    ("paused again, same reason", [changed(6, paused=True, reason="training")], []),
    ("phone offline", [changed(7, device=MemberDevice.UNAVAILABLE)], [("not-ready", "phone offline")]),
    ("back", [changed(8)], [("ready", "")]),
]


async def test_a_desktop_is_sent_each_change_of_what_it_shows_and_nothing_else() -> None:
    floor = Wiring()
    page, stream_only = floor.hub.attach("h1", None, shows_state=True), floor.hub.attach("h1", None)
    assert await shown(page) == [("logged-out", "")]  # on connect, before anything changed
    for what, events, expected in STEPS:
        floor.apply(*events)
        assert await shown(page) == expected, what
    assert await shown(stream_only) == []  # a reader of the pop stream alone is never sent the state


async def test_a_desktop_that_connects_after_changes_nobody_saw_is_sent_the_state_as_it_is() -> None:
    floor = Wiring()
    floor.apply(joined(1), changed(2, paused=True, reason="lunch"))
    page = floor.hub.attach("h1", 0, shows_state=True)
    assert await shown(page) == [("not-ready", "lunch")]
    floor.apply(changed(3))
    assert await shown(page) == [("ready", "")]


def test_the_status_is_get_api_me_s_body() -> None:
    floor = Wiring()
    floor.apply(joined(1))
    assert floor.push.view("h1") == {"handler_id": "h1", "name": "Alice", "state": "ready", "reason": "",
                                     "queues": ["emergency"], "wrapup_reason": CONFIG.wrapup_reason,
                                     "ring_out_reason": "no answer"}
    with pytest.raises(KeyError):
        floor.push.view("nobody")


def me(state: str, reason: str = "") -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "me" and m["state"] == state and m["reason"] == reason


async def told(desk: Desktop, state: str, reason: str = "", after: int = 0) -> int:
    """Wait for the desktop to be told ``state``; the index of the message after it."""
    found = await desk.expect(me(state, reason), after=after)
    return desk.messages.index(found, after) + 1


async def test_the_desktop_is_told_each_state_the_pbx_puts_its_handler_in_without_asking(floor: Floor) -> None:
    h1 = await floor.desktop("h1")
    seen = await told(h1, "logged-out")
    assert h1.messages[0]["type"] == "me"  # first thing on connect, before any pop
    for queue in ("emergency", "non-emergency"):
        floor.sim.add_member(queue, H1, "h1")
    seen = await told(h1, "ready", after=seen)
    floor.sim.pause(H1, "training")
    seen = await told(h1, "not-ready", "training", after=seen)
    floor.sim.unpause(H1)
    seen = await told(h1, "ready", after=seen)
    call_id = floor.sim.place_call("emergency", "07700900123", "Pat Caller")
    seen = await told(h1, "ringing", after=seen)
    assert floor.sim.answer(H1) == call_id
    seen = await told(h1, "on-call", after=seen)

    # What the socket says is what GET /api/me says, field for field.
    pushed = [m for m in h1.messages if m["type"] == "me"][-1]
    asked = (await floor.http.get("/api/me", headers=floor.auth("h1"))).json()
    assert pushed == {"type": "me", **asked}
    assert (pushed["handler_id"], pushed["name"]) == ("h1", asked["name"]) and pushed["queues"]


async def test_a_desktop_that_resumes_is_told_the_state_it_missed_first(floor: Floor) -> None:
    h1 = await floor.desktop("h1")
    floor.sim.add_member("emergency", H1, "h1")
    await told(h1, "ready")
    await h1.close()

    floor.sim.pause(H1, "break")  # while the desktop is away
    await until(lambda: (h := floor.server.registry.handlers.get(H1)) is not None
                and h.state(floor.server.config.wrapup_reason)[0] is HandlerState.NOT_READY)
    base = str(floor.http.base_url).replace("http", "ws", 1)
    back = Desktop(await signed_in(f"{base}/ws/desktop?last_seq=0", floor.tokens["h1"]))
    floor.desktops.append(back)
    await told(back, "not-ready", "break")
    assert back.messages[0]["type"] == "me"


async def test_a_desktop_is_told_only_its_own_handlers_state(floor: Floor) -> None:
    h1, h2 = await floor.desktop("h1"), await floor.desktop("h2")
    await told(h1, "logged-out")
    await told(h2, "logged-out")
    floor.sim.add_member("emergency", "PJSIP/handler-2", "h2")
    await told(h2, "ready")
    floor.sim.add_member("emergency", H1, "h1")  # after h2's change: h1 hears of its own, and only that
    await told(h1, "ready")
    assert {m["handler_id"] for m in h1.messages if m["type"] == "me"} == {"h1"}


async def test_not_ready_pressed_during_a_call_is_shown_as_not_ready_after_this_call() -> None:
    """Paused on a call: the state stays "on call" and the desktop is told the reason it goes
    not ready with after the call's wrap-up, and told it again through the wrap-up; once that
    is over, plain not ready."""
    floor = Wiring()
    then = {"h1": "meal"}  # the wrap-up's timer, as routing.handler_desk keeps it
    floor.push = HandlerStatusPush(CONFIG, floor.registry.handlers.get, "no answer", floor.hub, after_wrapup=then.get)
    page = floor.hub.attach("h1", None, shows_state=True)
    floor.apply(joined(10))
    floor.apply(*Timeline(number="07700900001").arrive(11).join(11).ring(12, H1).answer(13, H1, hold=2).events)
    floor.apply(changed(14, paused=True, reason="meal"))
    floor.apply(*Timeline(number="07700900001").complete(20, H1, talk=6).events)
    floor.apply(changed(20.1, paused=True, reason=CONFIG.wrapup_reason))
    then.clear()
    floor.apply(changed(30, paused=True, reason="meal"))
    told = [json.loads(await page.next()) for _ in range(page.waiting)]
    shows = [(m["state"], m.get("not_ready_after_call")) for m in told if m["type"] == "me"]
    assert ("on-call", None) in shows and shows.index(("on-call", "meal")) > shows.index(("on-call", None))
    assert shows[-2:] == [("wrap-up", "meal"), ("not-ready", None)]
    assert floor.push.view("h1")["reason"] == "meal" and "not_ready_after_call" not in floor.push.view("h1")
