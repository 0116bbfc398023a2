"""Handler states asked for at the desktop become the right AMI actions; wrap-up follows a call."""

from __future__ import annotations

import asyncio

import pytest

from intake.core.calls import Call
from intake.core.config import parse
from intake.core.errors import StateChangeFailed, StaticMembership
from intake.core.handlers import Handler, HandlerState
from routing.handler_desk import (
    HandlerDesk,
    Wanted,
    contradicts_picture,
    plan,
    wrapup_after,
    wrapup_still_due,
)
from telephony.actions import Action, Response
from telephony.errors import ActionFailed, NotConnected
from telephony.frames import Frame
from tests.intake.timeline import member
from tests.waiting import eventually

H1 = "PJSIP/handler-1"
CONFIG = parse({
    "ami": {"secret": "env:X"},
    "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"], "wrapup_seconds": 0.05},
              {"name": "101", "target_seconds": 60, "queues": ["non-emergency"], "wrapup_seconds": 0}],
    "handlers": [{"id": "h1", "name": "Alice", "member": H1, "queues": ["emergency", "non-emergency"], "token": "env:T"}],
})
HANDLER = CONFIG.handlers[0]


def wire(actions: list[Action]) -> list[tuple[str, dict[str, str]]]:
    return [(a.name, dict(a.fields)) for a in actions]


@pytest.mark.parametrize(("wanted", "now", "expected"), [
    (Wanted.READY, {}, [("QueueAdd", {"Queue": "emergency", "Interface": H1, "MemberName": "h1"}),
                        ("QueueAdd", {"Queue": "non-emergency", "Interface": H1, "MemberName": "h1"})]),
    (Wanted.READY, {"emergency": member(0, "emergency", H1, paused=True, reason="break")},
     [("QueueAdd", {"Queue": "non-emergency", "Interface": H1, "MemberName": "h1"}),
      ("QueuePause", {"Interface": H1, "Paused": "false", "Queue": "emergency"})]),
    (Wanted.READY, {"emergency": member(0, "emergency", H1), "non-emergency": member(0, "non-emergency", H1)}, []),
    (Wanted.NOT_READY, {"emergency": member(0, "emergency", H1)},
     [("QueueAdd", {"Queue": "non-emergency", "Interface": H1, "MemberName": "h1", "Paused": "true", "Reason": "meal"}),
      ("QueuePause", {"Interface": H1, "Paused": "true", "Queue": "emergency", "Reason": "meal"})]),
    (Wanted.LOGGED_OUT, {"emergency": member(0, "emergency", H1), "other": member(0, "other", H1)},
     [("QueueRemove", {"Queue": "emergency", "Interface": H1})]),  # a queue not in config is left alone
])
def test_plan_takes_the_handler_to_the_state_asked_for_on_their_queues(wanted, now, expected):
    assert wire(plan(wanted, "meal", HANDLER, now)) == expected


def answered_call(queue: str = "emergency") -> Call:
    call = Call("1.1", queue, "999", 12, "07700900001", "", "PJSIP/c-1", 100.0)
    call.answered_at, call.answered_by = 103.0, H1
    return call


def ready_handler(reason: str = "", paused: bool = False) -> Handler:
    h = Handler(H1, "Alice", "h1")
    h.memberships = {q: member(0, q, H1, paused=paused, reason=reason) for q in ("emergency", "non-emergency")}
    return h


def test_wrapup_follows_an_answered_call_but_not_a_logout_or_an_unanswered_call():
    wrap = wrapup_after(answered_call(), ready_handler(), 15, "wrap-up")
    assert wrap is not None and (wrap.queues, wrap.seconds, wrap.reason) == (("emergency", "non-emergency"), 15, "wrap-up")
    assert wrap.then_paused is None  # ready at its end
    assert wrapup_after(answered_call(), Handler(H1, "Alice", "h1"), 15, "wrap-up") is None
    assert wrapup_after(answered_call(), ready_handler(), 0, "wrap-up") is None
    unanswered = Call("1.2", "emergency", "999", 12, "07700900001", "", "PJSIP/c-2", 100.0)
    assert wrapup_after(unanswered, ready_handler(), 15, "wrap-up") is None
    assert wrapup_still_due(ready_handler("wrap-up", paused=True), "wrap-up")
    assert not wrapup_still_due(ready_handler("break", paused=True), "wrap-up")


@pytest.mark.parametrize(("paused_as", "then_paused"), [
    ("break", "break"),  # Not ready pressed during the call: the wrap-up, then not ready with their reason
    ("", "not ready"),  # paused at the phone with no reason given
    ("wrap-up", None),  # the last wrap-up's pause still on (a call-back made during it): ready after this one
])
def test_not_ready_pressed_during_a_call_takes_effect_when_its_wrapup_ends(paused_as, then_paused):
    wrap = wrapup_after(answered_call(), ready_handler(paused_as, paused=True), 15, "wrap-up")
    assert wrap is not None and (wrap.reason, wrap.seconds, wrap.then_paused) == ("wrap-up", 15, then_paused)


class FakePbx:
    """Records actions; refuses with ``refuse`` and reflects pauses into the handler it was given."""

    def __init__(self, handler: Handler, refuse: Exception | None = None) -> None:
        self.handler, self.refuse, self.sent = handler, refuse, []

    async def send(self, action: Action, timeout: float | None = None) -> Response:
        if self.refuse is not None:
            raise self.refuse
        self.sent.append(action)
        fields = dict(action.fields)
        if action.name == "QueuePause":
            q = fields["Queue"]
            self.handler.memberships[q] = member(0, q, H1, paused=fields["Paused"] == "true", reason=fields.get("Reason", ""))
        return Response(action.name, action.action_id, Frame((("Response", "Success"),)))


async def test_wrapup_pauses_with_the_reason_then_makes_the_handler_ready_after_the_lines_seconds():
    handler = ready_handler()
    pbx = FakePbx(handler)
    desk = HandlerDesk(CONFIG, pbx, {H1: handler}.get)
    desk.call_finished(answered_call("emergency"))
    await asyncio.sleep(0.01)
    assert handler.state("wrap-up")[0].value == "wrap-up"
    await asyncio.sleep(0.1)
    assert handler.state("wrap-up")[0].value == "ready"
    assert [dict(a.fields)["Paused"] for a in pbx.sent] == ["true", "true", "false", "false"]


async def test_a_handler_who_asked_for_not_ready_during_the_call_is_paused_with_their_reason_when_wrapup_ends():
    handler = ready_handler()
    pbx = FakePbx(handler)
    desk = HandlerDesk(CONFIG, pbx, {H1: handler}.get)
    await desk.request("h1", Wanted.NOT_READY, "meal")  # on the call: the PBX holds the reason from now on
    desk.call_finished(answered_call("emergency"))
    assert desk.not_ready_after_wrapup("h1") == "meal"  # what the desktop says through the wrap-up
    await eventually(lambda: len(pbx.sent) == 6, what="the wrap-up's pause and its end")
    assert [(dict(a.fields)["Paused"], dict(a.fields).get("Reason")) for a in pbx.sent[2:]] == [
        ("true", "wrap-up"), ("true", "wrap-up"), ("true", "meal"), ("true", "meal")]
    assert handler.state("wrap-up") == (HandlerState.NOT_READY, "meal")
    assert desk.running_wrapups == frozenset() and desk.not_ready_after_wrapup("h1") is None


async def test_a_state_chosen_during_wrapup_is_not_undone_when_the_timer_ends():
    handler = ready_handler()
    pbx = FakePbx(handler)
    desk = HandlerDesk(CONFIG, pbx, {H1: handler}.get)
    desk.call_finished(answered_call("emergency"))
    await asyncio.sleep(0.01)
    await desk.request("h1", Wanted.NOT_READY, "meal")
    await asyncio.sleep(0.1)
    assert handler.state("wrap-up")[1] == "meal"


@pytest.mark.parametrize(("error", "refused", "says"), [
    (ActionFailed("QueueAdd", "x-1", "Unable to add interface: Already there"), True, "the PBX refused QueueAdd: Unable to add"),
    (NotConnected("QueueAdd"), False, "could not be reached"),
])
async def test_a_refusing_or_absent_pbx_is_a_clear_error(error, refused, says):
    desk = HandlerDesk(CONFIG, FakePbx(Handler(H1, "Alice", "h1"), refuse=error), lambda m: None)
    with pytest.raises(StateChangeFailed) as caught:
        await desk.request("h1", Wanted.READY)
    assert caught.value.refused is refused and says in str(caught.value)


async def test_memberships_lost_to_a_pbx_restart_are_restored_as_they_were():
    handler = Handler(H1, "Alice", "h1")
    pbx = FakePbx(handler)
    desk = HandlerDesk(CONFIG, pbx, {H1: handler}.get)
    lost = {"emergency": member(0, "emergency", H1, paused=True, reason="meal"),
            "non-emergency": member(0, "non-emergency", H1, paused=True, reason="wrap-up"),
            "elsewhere": member(0, "elsewhere", H1)}
    task = desk.restore(H1, lost)
    assert task is not None
    await task
    assert wire(pbx.sent) == [
        ("QueueAdd", {"Queue": "emergency", "Interface": H1, "MemberName": "h1", "Paused": "true", "Reason": "meal"}),
        ("QueueAdd", {"Queue": "non-emergency", "Interface": H1, "MemberName": "h1"}),  # wrap-up: back ready
    ]  # a queue not in the handler's configuration is not touched
    assert desk.restore("PJSIP/unknown", lost) is None


async def test_logging_out_a_static_member_is_refused_with_why_and_nothing_is_sent():
    handler = Handler(H1, "Alice", "h1")
    handler.memberships = {"emergency": member(0, "emergency", H1, membership="static"),
                           "non-emergency": member(0, "non-emergency", H1)}
    pbx = FakePbx(handler)
    desk = HandlerDesk(CONFIG, pbx, {H1: handler}.get)
    with pytest.raises(StaticMembership) as caught:
        await desk.request("h1", Wanted.LOGGED_OUT)
    assert "static member in queues.conf: intake cannot log it out" in str(caught.value)
    assert caught.value.queues == ["emergency"] and pbx.sent == []  # not half logged out
    # Not ready and ready still work on a static member (QueuePause is allowed).
    await desk.request("h1", Wanted.NOT_READY, "meal")
    assert [a.name for a in pbx.sent] == ["QueuePause", "QueuePause"]


@pytest.mark.parametrize(("action", "refusal"), [
    ("QueuePause", "Interface not found"), ("QueueRemove", "Unable to remove interface: Not there"),
    ("QueueAdd", "Unable to add interface: Already there"), ("QueueAdd", "Unable to add interface to queue: No such queue"),
])
async def test_a_membership_action_the_pbx_refuses_asks_for_its_picture_again(action, refusal):
    handler = ready_handler()  # intake believes: in both queues, ready
    if action == "QueueAdd":
        handler.memberships = {}
    resyncs: list[str] = []
    wanted = {"QueuePause": Wanted.NOT_READY, "QueueRemove": Wanted.LOGGED_OUT, "QueueAdd": Wanted.READY}[action]
    desk = HandlerDesk(CONFIG, FakePbx(handler, refuse=ActionFailed(action, "x-1", refusal)), {H1: handler}.get,
                       resync=resyncs.append)
    with pytest.raises(StateChangeFailed) as caught:
        await desk.request("h1", wanted, "meal")
    assert caught.value.refused and "try again" in str(caught.value)
    assert len(resyncs) == 1 and refusal in resyncs[0]


async def test_a_pbx_out_of_reach_is_no_contradiction_of_the_picture():
    resyncs: list[str] = []
    desk = HandlerDesk(CONFIG, FakePbx(ready_handler(), refuse=NotConnected("QueuePause")), {H1: ready_handler()}.get,
                       resync=resyncs.append)
    with pytest.raises(StateChangeFailed):
        await desk.request("h1", Wanted.NOT_READY, "meal")
    assert resyncs == [] and not contradicts_picture(Action("Originate"))


async def test_a_static_member_a_pbx_restart_unpaused_is_paused_again_with_its_reason():
    handler = Handler(H1, "Alice", "h1")
    handler.memberships = {"emergency": member(0, "emergency", H1, membership="static")}  # as the restarted PBX says
    pbx = FakePbx(handler)
    desk = HandlerDesk(CONFIG, pbx, {H1: handler}.get)
    task = desk.restore(H1, {"emergency": member(0, "emergency", H1, paused=True, reason="meal", membership="static"),
                             "non-emergency": member(0, "non-emergency", H1, paused=True, reason="meal")})
    assert task is not None
    await task
    assert wire(pbx.sent) == [
        ("QueuePause", {"Interface": H1, "Paused": "true", "Queue": "emergency", "Reason": "meal"}),
        ("QueueAdd", {"Queue": "non-emergency", "Interface": H1, "MemberName": "h1", "Paused": "true", "Reason": "meal"}),
    ]


async def test_a_reason_the_rule_refuses_never_reaches_the_pbx_whoever_asks():
    handler = ready_handler()
    pbx = FakePbx(handler)
    desk = HandlerDesk(CONFIG, pbx, {H1: handler}.get)
    with pytest.raises(StateChangeFailed) as caught:
        await desk.request("h1", Wanted.NOT_READY, "meal\x00")
    assert "Reason 'meal\\x00' contains a control character (U+0000)" in caught.value.detail
    assert pbx.sent == []


async def test_a_pause_reason_set_at_the_pbx_that_we_may_not_send_back_is_dropped_and_the_pause_kept():
    handler = Handler(H1, "Alice", "h1")
    pbx = FakePbx(handler)
    desk = HandlerDesk(CONFIG, pbx, {H1: handler}.get)
    task = desk.restore(H1, {"emergency": member(0, "emergency", H1, paused=True, reason="meal;1")})  # typed at the CLI
    assert task is not None
    await task
    assert wire(pbx.sent) == [("QueueAdd", {"Queue": "emergency", "Interface": H1, "MemberName": "h1", "Paused": "true"})]
