"""A handler's desktop goes from on-call straight to wrap-up when the call ends: never "ready", nor
the reason chosen during the call, for the moment between the call's end and the wrap-up pause
intake sends in return (intake.core.handlers.WrapUpDue).

Each case is a sequence of events as the PBX (and intake's own desk) gives them, and the exact
sequence of states a desktop would be shown (each change once, as HandlerStatusPush sends it):
a transient state would be one more entry in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from intake.app.handler_status import HandlerStatusPush
from intake.core.calls import Call
from intake.core.config import parse
from intake.core.handlers import WRAPUP_PAUSE_WAIT, WrapUpCalledOff
from intake.core.registry import Fed, Registry
from routing.handler_desk import HandlerDesk, Wanted
from screenpop.delivery import DesktopHub, Outbox
from telephony import events as ev
from telephony.actions import Action, Response
from telephony.errors import ActionFailed
from telephony.events import MemberDevice
from telephony.frames import Frame
from tests.intake.timeline import T0, Timeline, member
from tests.waiting import eventually

H1 = "PJSIP/handler-1"
QUEUES = ("emergency", "non-emergency")  # 999 with a wrap-up, 101 without
WRAPUP = "wrap-up"
CALL = "1700000000.1"

CONFIG = parse({
    "ami": {"secret": "env:X"},
    "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"], "wrapup_seconds": 10},
              {"name": "101", "target_seconds": 60, "queues": ["non-emergency"], "wrapup_seconds": 0}],
    "handlers": [{"id": "h1", "name": "Alice", "member": H1, "queues": list(QUEUES), "token": "env:T"}],
    "routing": {"enabled": False},
})


def registry() -> Registry:
    return Registry({"emergency": ("999", 12.0), "non-emergency": ("101", 60.0)}, handlers={H1: ("h1", "Alice")},
                    wrapup_reason=WRAPUP, wrapups={"emergency": 10.0, "non-emergency": 0.0})


def in_queue(s: float, queue: str, **state: Any) -> ev.MemberChanged:
    return ev.MemberChanged(T0 + s, member(s, queue, H1, **state))


def everywhere(s: float, **state: Any) -> list[Fed]:
    """The member's state in both its queues, one event per queue (as the PBX reports a pause)."""
    return [in_queue(s, q, **state) for q in QUEUES]


def wrapup_paused(s: float) -> list[Fed]:
    return everywhere(s, paused=True, reason=WRAPUP)


def called_off(s: float, why: str) -> WrapUpCalledOff:
    return WrapUpCalledOff(T0 + s, H1, why)


@dataclass
class Floor:
    """The registry as the server feeds it, and each state a desktop would be shown."""

    registry: Registry = field(default_factory=registry)
    shown: list[tuple[str, str]] = field(default_factory=list)

    def feed(self, *events: Fed) -> Floor:
        for e in events:
            self.registry.apply(e)
            self._look()
        return self

    def tick(self, s: float) -> Floor:
        self.registry.tick(T0 + s)
        self._look()
        return self

    def _look(self) -> None:
        state, reason = self.registry.handlers[H1].state(WRAPUP)
        now = (state.value, reason)
        if not self.shown or self.shown[-1] != now:
            self.shown.append(now)

    @property
    def due(self) -> bool:
        return self.registry.handlers[H1].wrapup_follows is not None


def answered(queue: str = "emergency", *, paused: str | None = None) -> Floor:
    """h1 ready in both queues (or paused with ``paused``), then on a call from ``queue``."""
    floor = Floor()
    floor.feed(*[ev.MemberJoined(T0, member(0, q, H1, paused=paused is not None, reason=paused or "")) for q in QUEUES])
    call = Timeline(queue=queue).join(1).ring(2, H1).answer(3, H1, 2)
    return floor.feed(*call.events, *everywhere(3.1, device=MemberDevice.INUSE, paused=paused is not None, reason=paused or ""))


def on_a_break_after_the_call(floor: Floor) -> Floor:
    """Not ready (meal) pressed during the call: the PBX pauses h1 at once, the call goes on."""
    return floor.feed(*everywhere(10, device=MemberDevice.INUSE, paused=True, reason="meal"))


def ended(floor: Floor, queue: str = "emergency", *, paused: str | None = None, at: float = 20) -> Floor:
    """The call completes and hangs up, and the phone's device state goes back to idle."""
    p = {"paused": paused is not None, "reason": paused or ""}
    return floor.feed(*Timeline(queue=queue).complete(at, H1, at - 3).events, *everywhere(at + 0.05, **p))


ON_CALL = [("ready", ""), ("ringing", ""), ("on-call", "")]


def test_a_ready_handler_goes_from_the_call_to_wrapup_and_back_to_ready_with_nothing_between() -> None:
    floor = ended(answered())
    assert floor.due  # the pause is on its way
    floor.feed(*wrapup_paused(20.2), *everywhere(30.2))
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("ready", "")]
    assert not floor.due


def test_not_ready_pressed_during_the_call_shows_wrapup_then_the_reason_never_the_reason_first() -> None:
    floor = ended(on_a_break_after_the_call(answered()), paused="meal")
    floor.feed(*wrapup_paused(20.2), *everywhere(30.2, paused=True, reason="meal"))
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("not-ready", "meal")]


def test_the_not_ready_reason_after_the_call_is_known_from_the_calls_end() -> None:
    floor = ended(on_a_break_after_the_call(answered()), paused="meal")
    due = floor.registry.handlers[H1].wrapup_follows
    assert due is not None and due.then_paused == "meal" and due.awaiting == frozenset(QUEUES)


def test_the_wrapup_pause_reaching_one_queue_at_a_time_shows_nothing_between() -> None:
    floor = ended(answered()).feed(in_queue(20.2, "emergency", paused=True, reason=WRAPUP))
    assert floor.due  # still on its way to the other queue
    floor.feed(in_queue(20.3, "non-emergency", paused=True, reason=WRAPUP), *everywhere(30.2))
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("ready", "")]


def test_the_wrapup_pause_read_before_the_callers_hangup_shows_nothing_between() -> None:
    floor = answered().feed(ev.CallCompleted(T0 + 20, CALL, "emergency", H1, 0, 17, "caller"), *wrapup_paused(20.1))
    floor.feed(*Timeline().hangup(20.2).events, *everywhere(20.3, paused=True, reason=WRAPUP), *everywhere(30.2))
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("ready", "")]


def test_a_call_whose_end_is_seen_only_by_its_hangup_is_followed_by_wrapup_as_well() -> None:
    floor = answered().feed(*Timeline().hangup(20).events, *everywhere(20.05), *wrapup_paused(20.2), *everywhere(30.2))
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("ready", "")]


def test_a_line_without_wrapup_goes_from_the_call_straight_to_ready() -> None:
    # The phone idle first: with its device still in use after the call it would read "on-call
    # (phone in use)" for that moment, with no wrap-up due to cover it (left as it was).
    floor = ended(answered("non-emergency").feed(*everywhere(19.9)), "non-emergency")
    assert floor.shown == [*ON_CALL, ("ready", "")]
    assert not floor.due


def test_a_line_without_wrapup_goes_from_the_call_straight_to_the_reason_chosen_during_it() -> None:
    floor = ended(on_a_break_after_the_call(answered("non-emergency")), "non-emergency", paused="meal")
    assert floor.shown == [*ON_CALL, ("not-ready", "meal")]


def test_a_refused_wrapup_pause_ends_the_wrapup_shown_at_once() -> None:
    floor = ended(answered()).feed(called_off(20.1, "its pause failed: the PBX refused QueuePause"))
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("ready", "")]
    assert not floor.due


def test_a_refused_wrapup_pause_after_not_ready_during_the_call_shows_the_reason() -> None:
    floor = ended(on_a_break_after_the_call(answered()), paused="meal").feed(called_off(20.1, "its pause failed"))
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("not-ready", "meal")]


def test_ready_pressed_before_the_pause_with_nothing_paused_shows_ready() -> None:
    # Nothing to unpause: no member event comes, the desk's word ends it.
    floor = ended(answered()).feed(called_off(20.1, "ready chosen"))
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("ready", "")]


def test_not_ready_pressed_before_the_pause_shows_the_reason_chosen_and_no_ready_between() -> None:
    floor = ended(answered()).feed(*everywhere(20.1, paused=True, reason="training"))
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("not-ready", "training")]
    assert not floor.due


def test_ready_pressed_before_the_pause_after_not_ready_during_the_call_shows_ready() -> None:
    floor = ended(on_a_break_after_the_call(answered()), paused="meal").feed(*everywhere(20.1))
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("ready", "")]


def test_a_wrapup_whose_pause_never_comes_is_shown_no_longer_than_the_wait() -> None:
    floor = ended(answered()).tick(20 + WRAPUP_PAUSE_WAIT - 0.25)
    assert floor.shown[-1] == ("wrap-up", WRAPUP)
    floor.tick(20 + WRAPUP_PAUSE_WAIT)
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("ready", "")]
    assert not floor.due


def test_the_pbx_link_lost_before_the_pause_shows_what_the_pbx_last_said() -> None:
    floor = ended(answered()).feed(ev.PbxLinkDown(T0 + 20.1, "reset"))
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("ready", "")]


def test_another_call_answered_before_the_pause_is_shown_on_call_and_its_late_pause_moves_nothing() -> None:
    floor = ended(answered())
    second = Timeline(call_id="1700000000.9").join(20.1).ring(20.2, H1).answer(20.5, H1, 0.4)
    floor.feed(*second.events, *wrapup_paused(20.6))
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("ringing", ""), ("on-call", "")]
    assert not floor.due


def test_logged_out_before_the_pause_is_shown_logged_out_and_nothing_is_left_due() -> None:
    floor = ended(answered()).feed(*[ev.MemberLeft(T0 + 20.1, q, H1) for q in QUEUES])
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("logged-out", "")]
    assert not floor.due


def test_a_handler_still_paused_for_an_earlier_wrapup_waits_for_nothing() -> None:
    floor = ended(answered(paused=WRAPUP), paused=WRAPUP)  # a call taken during a wrap-up (not a queue's offer)
    assert not floor.due
    assert floor.shown == [("wrap-up", WRAPUP), ("ringing", ""), ("on-call", ""), ("wrap-up", WRAPUP)]


# --- the desktop, as the server pushes it ---------------------------------------------------------


async def me_messages(outbox: Outbox) -> list[tuple[str, str, str | None]]:
    waiting = [json.loads(await outbox.next()) for _ in range(outbox.waiting)]
    return [(m["state"], m["reason"], m.get("not_ready_after_call")) for m in waiting if m["type"] == "me"]


async def test_the_desktop_is_told_wrapup_and_the_reason_after_it_once_from_the_calls_end() -> None:
    floor = on_a_break_after_the_call(answered())
    hub = DesktopHub()
    # The desk's wrap-up timer says "meal" once it runs; until its pause, the registry says so.
    push = HandlerStatusPush(CONFIG, floor.registry.handlers.get, "no answer", hub, after_wrapup=lambda _: "meal")
    page = hub.attach("h1", None, shows_state=True)
    assert await me_messages(page) == [("on-call", "", "meal")]
    for e in [*Timeline().complete(20, H1, 17).events, *everywhere(20.05, paused=True, reason="meal"),
              *wrapup_paused(20.2), *everywhere(30.2, paused=True, reason="meal")]:
        push.handle(floor.registry.apply(e))
    assert await me_messages(page) == [("wrap-up", WRAPUP, "meal"), ("not-ready", "meal", None)]


# --- the desk's word that a wrap-up will not come -------------------------------------------------


class Pbx:
    """Answers the desk's actions: QueuePause refused when ``refuse`` says so, else reflected
    into the registry as the PBX's QueueMemberPause would be."""

    def __init__(self, floor: Floor, *, refuse: bool = False) -> None:
        self.floor, self.refuse = floor, refuse
        self.sent: list[Action] = []

    async def send(self, action: Action, timeout: float | None = None) -> Response:
        self.sent.append(action)
        if self.refuse and action.name == "QueuePause":
            raise ActionFailed(action.name, action.action_id, "Interface not found")
        fields = dict(action.fields)
        if action.name == "QueuePause":
            paused = fields["Paused"] == "true"
            self.floor.feed(in_queue(21, fields["Queue"], paused=paused, reason=fields.get("Reason", "") if paused else ""))
        return Response(action.name, action.action_id, Frame((("Response", "Success"),)))


def desk_for(floor: Floor, pbx: Pbx) -> HandlerDesk:
    return HandlerDesk(CONFIG, pbx, floor.registry.handlers.get,
                       called_off=lambda who, why: floor.feed(WrapUpCalledOff(T0 + 21, who, why)))


def finished_call() -> Call:
    """The call as the desk is handed it (CallOver): answered by h1 in the 999 queue."""
    call = Call(CALL, "emergency", "999", 12, "07700900001", "", "PJSIP/c-1", T0 + 1)
    call.answered_at, call.answered_by = T0 + 3, H1
    return call


@pytest.mark.parametrize("refused", [False, True], ids=["paused", "refused"])
async def test_the_desk_ends_the_wrapup_shown_when_its_pause_is_refused(refused: bool) -> None:
    floor = ended(answered())
    pbx = Pbx(floor, refuse=refused)
    desk = desk_for(floor, pbx)
    desk.call_finished(finished_call())
    await eventually(lambda: not floor.due, 5, "the wrap-up no longer on its way")
    await desk.close()
    assert [a.name for a in pbx.sent] == ["QueuePause"] * (1 if refused else len(QUEUES))
    # Refused: the pauses say ready, and so does the desktop at once; paused: wrap-up all along.
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), *([("ready", "")] if refused else [])]


async def test_the_desk_ends_the_wrapup_shown_when_ready_is_pressed_with_nothing_paused() -> None:
    floor = ended(answered())
    desk = desk_for(floor, Pbx(floor))
    assert await desk.request("h1", Wanted.READY) == 0  # nothing to send
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("ready", "")]
    await desk.close()


async def test_the_desk_ends_the_wrapup_shown_when_the_same_reason_is_pressed_again_before_its_pause() -> None:
    # Paused with "meal" during the call; "meal" again at the call's end changes no pause at the PBX.
    floor = ended(on_a_break_after_the_call(answered()), paused="meal")
    desk = desk_for(floor, Pbx(floor))
    assert await desk.request("h1", Wanted.NOT_READY, "meal") == len(QUEUES)
    assert floor.shown == [*ON_CALL, ("wrap-up", WRAPUP), ("not-ready", "meal")]
    await desk.close()
