"""A handler's wrap-up as it really lasted: the table's rules (when one starts, what ends it, what
is not measured), and the engine telling it beside the registry's notices from real event streams."""

from __future__ import annotations

from typing import Any

import pytest

from intake.core import outputs as out
from intake.core.calls import Call, CallState, CallView
from intake.core.engine import Engine, Notices
from intake.core.handlers import HandlerState
from intake.core.notices import WrappedUp
from intake.core.registry import Registry
from intake.core.wrapups import STARTS_WITHIN, WrapUps
from telephony import events as ev
from tests.intake.timeline import T0, Timeline, member

H1 = "PJSIP/h1"
WRAP = HandlerState.WRAP_UP


def over(call_id: str = "c1", *, member: str = H1, ended: float = 100.0, counted: bool = True) -> CallView:
    call = Call(call_id, "emergency", "999", 12.0, "07700900001", "Caller", "PJSIP/caller-1", 10.0,
                state=CallState.COMPLETED, answered_by=member, answered_at=20.0, ended_at=ended, talk_seconds=80.0)
    call.counted = counted
    return call.view()


def test_a_wrap_up_runs_from_the_pause_after_the_call_to_the_handler_going_ready() -> None:
    table = WrapUps()
    table.finished(over())
    assert table.changed(H1, "h1", HandlerState.READY, 100.2) is None  # between the hang-up and intake's pause
    assert table.changed(H1, "h1", WRAP, 100.5) is None
    assert table.under_way() == {H1}
    done = table.changed(H1, "h1", HandlerState.READY, 112.5)
    assert done is not None and (done.call.call_id, done.handler_id, done.seconds, done.ended_as) == ("c1", "h1", 12.0, HandlerState.READY)
    assert table.under_way() == frozenset()
    assert table.changed(H1, "h1", WRAP, 200.0) is None and table.under_way() == frozenset()  # no call of theirs just over


@pytest.mark.parametrize("left_for", [HandlerState.NOT_READY, HandlerState.LOGGED_OUT, HandlerState.ON_CALL])
def test_any_way_out_of_wrap_up_ends_it(left_for: HandlerState) -> None:
    table = WrapUps()
    table.finished(over())
    table.changed(H1, "h1", WRAP, 101.0)
    done = table.changed(H1, "h1", left_for, 141.0)
    assert done is not None and (done.seconds, done.ended_as) == (40.0, left_for)


def test_a_second_change_inside_the_wrap_up_does_not_restart_it() -> None:
    table = WrapUps()
    table.finished(over())
    table.changed(H1, "h1", WRAP, 101.0)
    table.changed(H1, "h1", WRAP, 105.0)  # a device state, a second queue's pause
    done = table.changed(H1, "h1", HandlerState.READY, 111.0)
    assert done is not None and done.seconds == 10.0


@pytest.mark.parametrize(("why", "call", "starts_at"), [
    ("a wrap-up long after the call is not its", over(ended=100.0), 100.0 + STARTS_WITHIN + 1),
    ("a call nobody counted (answered before we watched)", over(counted=False), 101.0),
    ("another member's call", over(member="PJSIP/h2"), 101.0),
])
def test_what_is_not_measured(why: str, call: CallView, starts_at: float) -> None:
    table = WrapUps()
    table.finished(call)
    table.changed(H1, "h1", WRAP, starts_at)
    assert table.changed(H1, "h1", HandlerState.READY, starts_at + 10) is None, why


def test_a_wrap_up_under_way_when_the_link_went_down_is_not_measured() -> None:
    table = WrapUps()
    table.finished(over())
    table.changed(H1, "h1", WRAP, 101.0)
    table.lost()
    assert table.changed(H1, "h1", HandlerState.READY, 400.0) is None


def test_two_handlers_wrap_up_apart() -> None:
    table = WrapUps()
    table.finished(over("a", member=H1))
    table.finished(over("b", member="PJSIP/h2", ended=102.0))
    table.changed(H1, "h1", WRAP, 101.0)
    table.changed("PJSIP/h2", "h2", WRAP, 103.0)
    b = table.changed("PJSIP/h2", "h2", HandlerState.READY, 110.0)
    a = table.changed(H1, "h1", HandlerState.NOT_READY, 131.0)
    assert b is not None and a is not None
    assert (a.call.call_id, a.seconds, b.call.call_id, b.seconds) == ("a", 30.0, "b", 7.0)


class Ear:
    def __init__(self) -> None:
        self.heard: list[Any] = []

    def handle(self, notices: list[Any]) -> None:
        self.heard.extend(notices)


def test_the_engine_tells_the_wrap_up_to_subscribers_and_asks_for_it_to_be_journalled() -> None:
    registry = Registry({"emergency": ("999", 12.0)}, handlers={H1: ("h1", "Handler One")})
    ear = Ear()
    engine = Engine(registry, clock=lambda: 0.0, pbx_now=lambda: T0, subscriptions=[Notices("ear", ear)])
    call = Timeline().arrive(0).join(0).ring(1, H1).answer(3, H1, 3).complete(63, H1, 60)
    events: list[ev.DomainEvent] = [ev.MemberJoined(T0, member(0, "emergency", H1)), *call.events,
                                    ev.MemberChanged(T0 + 63.5, member(63.5, "emergency", H1, paused=True, reason="wrap-up")),
                                    ev.MemberChanged(T0 + 81.5, member(81.5, "emergency", H1))]
    outputs = [o for e in events for o in engine.feed(e)]
    (wrapped,) = [n for n in ear.heard if isinstance(n, WrappedUp)]
    assert (wrapped.call.call_id, wrapped.handler_id, wrapped.seconds, wrapped.ended_as) == (call.call_id, "h1", 18.0, HandlerState.READY)
    assert [o.wrapped for o in outputs if isinstance(o, out.WrapUpOver)] == [wrapped]
