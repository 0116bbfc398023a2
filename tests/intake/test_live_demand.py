"""The wallboard's needed now: today's calls as they come -> each line's rate, handle time,
patience and the handlers Erlang A needs for its goal."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from intake.core import config
from intake.core.calls import Call, CallState
from intake.core.erlang import Demand, Goal, handlers_needed
from intake.core.handlers import HandlerState
from intake.core.live_demand import LiveDemand
from intake.core.notices import Answered, Finished, Queued, Settled, WrappedUp

SHIPPED = config.load(Path(__file__).resolve().parents[2] / "config" / "intake.toml")
NOON = time.mktime((2025, 6, 6, 12, 0, 0, 0, 0, -1))


def _call(i: int, at: float, line: str = "999") -> Call:
    queue = {"999": "emergency", "101": "non-emergency"}[line]
    return Call(f"c{i}", queue, line, 12.0, "07700900001", "", f"PJSIP/trunk-{i}", at)


def test_the_last_half_hours_arrivals_todays_talk_and_patience_give_the_handlers_needed() -> None:
    live = LiveDemand(SHIPPED)
    calls = [_call(i, NOON - 1800 + 15 + i * 30) for i in range(60)]  # two a minute for the last half hour
    live.handle(Queued(c.view()) for c in calls)
    live.handle([Queued(calls[0].view())])  # a resync shows a call again: not a new arrival
    for c in calls[:50]:  # answered after 5 s, talked 200 s
        c.state, c.answered_at, c.talk_seconds = CallState.ANSWERED, c.queued_at + 5, 200.0
        live.handle([Answered(c.view(), "PJSIP/h1"), Settled(c.view())])
        c.state, c.ended_at = CallState.COMPLETED, c.queued_at + 205
        live.handle([Finished(c.view())])
    for c in calls[50:52]:  # two hung up after 40 s
        c.state, c.left_at, c.ended_at = CallState.ABANDONED, c.queued_at + 40, c.queued_at + 40
        live.handle([Settled(c.view()), Finished(c.view())])

    now = live.now(NOON)["999"]
    assert now.arrivals_per_hour == pytest.approx(120)
    assert now.handle_seconds == 200 + 15  # talk + 999's wrap-up in the shipped config
    assert now.patience_seconds == pytest.approx((50 * 5 + 2 * 40) / 2)
    assert now.needed == handlers_needed(Demand(120 / 3600, 215, (50 * 5 + 2 * 40) / 2), Goal(12, 0.9))
    # 101 has seen nothing today: no calls, no handler needed; the stand-ins are the [staffing] ones
    quiet = live.now(NOON)["101"]
    assert (quiet.needed, quiet.handle_seconds, quiet.patience_seconds) == (0, 240.0, 120.0)
    # an hour on, nobody has called for half an hour: nobody is needed, today's handle time stays
    later = live.now(NOON + 3600)["999"]
    assert (later.needed, later.arrivals_per_hour, later.handle_seconds) == (0, 0.0, 215.0)


def test_just_after_midnight_the_rate_is_over_the_minutes_of_today_so_far() -> None:
    live = LiveDemand(SHIPPED)
    midnight = time.mktime((2025, 6, 7, 0, 0, 0, 0, 0, -1))
    live.handle(Queued(_call(i, midnight + 60 + i).view()) for i in range(10))
    assert live.now(midnight + 300)["999"].arrivals_per_hour == pytest.approx(10 / 300 * 3600)


def test_needed_now_takes_todays_measured_wrap_ups_in_place_of_the_configured_one() -> None:
    live = LiveDemand(SHIPPED)
    calls = [_call(i, NOON - 600 + i * 60) for i in range(6)]
    live.handle(Queued(c.view()) for c in calls)
    for c in calls:
        c.state, c.answered_at, c.talk_seconds, c.ended_at = CallState.COMPLETED, c.queued_at + 2, 100.0, c.queued_at + 102
        live.handle([Settled(c.view()), Finished(c.view())])
    assert live.now(NOON)["999"].handle_seconds == 100 + 15  # none measured yet: 999's configured wrap-up
    for c, seconds in zip(calls[:2], (40.0, 60.0), strict=True):  # two handlers took longer over it than configured
        ended = c.ended_at or 0.0
        live.handle([WrappedUp(c.view(), "PJSIP/h1", "h1", ended + 0.5, ended + 0.5 + seconds, HandlerState.READY)])
    now = live.now(NOON)["999"]
    assert now.handle_seconds == 100 + 50
    assert now.needed == handlers_needed(Demand(6 / 1800, 150, SHIPPED.staffing.patience_seconds), Goal(12, 0.9))
