"""Which handlers count as signed in to a line, and when the leader takes a sample (pure)."""

from __future__ import annotations

import pytest

from intake.core.demand import SignedIn
from intake.core.handlers import Handler, HandlerState
from intake.core.signed_in import SignedInSampler, signed_in
from telephony.events import MemberDevice, MemberState

LINES = {"999": ["emergency"], "101": ["non-emergency"]}
WRAPUP = "wrap-up"


def _member(queue: str, *, paused: bool = False, reason: str = "", device: MemberDevice = MemberDevice.NOT_INUSE) -> MemberState:
    return MemberState(at=0.0, queue=queue, member="PJSIP/h", member_name="h", device=device, paused=paused,
                       paused_reason=reason, in_call=False, penalty=0)


def _handler(state: str, queues: tuple[str, ...]) -> Handler:
    h = Handler("PJSIP/h", "h")
    if state == "logged-out":
        return h
    paused = state in ("wrap-up", "not-ready")
    reason = WRAPUP if state == "wrap-up" else "break" if state == "not-ready" else ""
    device = MemberDevice.UNAVAILABLE if state == "phone-offline" else MemberDevice.NOT_INUSE
    h.memberships = {q: _member(q, paused=paused, reason=reason, device=device) for q in queues}
    if state == "ringing":
        h.ringing_for = {"call-1"}
    if state == "on-call":
        h.on_call = "call-1"
    return h


@pytest.mark.parametrize(("state", "queues", "shown", "counts"), [
    ("ready", ("emergency",), HandlerState.READY, {"999": 1, "101": 0}),
    ("ringing", ("emergency",), HandlerState.RINGING, {"999": 1, "101": 0}),
    ("on-call", ("non-emergency",), HandlerState.ON_CALL, {"999": 0, "101": 1}),
    ("wrap-up", ("emergency", "non-emergency"), HandlerState.WRAP_UP, {"999": 1, "101": 1}),
    ("not-ready", ("emergency", "non-emergency"), HandlerState.NOT_READY, {"999": 1, "101": 1}),
    ("phone-offline", ("non-emergency",), HandlerState.NOT_READY, {"999": 0, "101": 1}),
    ("logged-out", (), HandlerState.LOGGED_OUT, {"999": 0, "101": 0}),
    ("ready", ("some-other-queue",), HandlerState.READY, {"999": 0, "101": 0}),
])
def test_a_handler_in_any_of_a_lines_queues_is_signed_in_to_it_whatever_they_are_doing(
        state: str, queues: tuple[str, ...], shown: HandlerState, counts: dict[str, int]) -> None:
    handler = _handler(state, queues)
    assert handler.state(WRAPUP)[0] is shown  # the table's row is the state a supervisor sees
    assert signed_in([handler], LINES) == counts


def test_each_handler_counts_once_per_line_however_many_of_its_queues_they_are_in() -> None:
    both = _handler("ready", ("emergency", "overflow"))
    others = [_handler("on-call", ("emergency",)), _handler("logged-out", ())]
    assert signed_in([both, *others], {"999": ["emergency", "overflow"]}) == {"999": 2}


def test_the_sampler_takes_each_minute_once_and_again_when_a_count_changes() -> None:
    sampler = SignedInSampler(LINES)
    two = [_handler("ready", ("emergency",)), _handler("wrap-up", ("emergency", "non-emergency"))]
    minute = 1_750_000_020.0  # a whole minute
    assert sampler.sample(minute + 1.5, two) == [SignedIn(minute, "999", 2), SignedIn(minute, "101", 1)]
    assert sampler.sample(minute + 30, two) == []  # nothing changed within the minute
    assert sampler.sample(minute + 40, two[:1]) == [SignedIn(minute, "999", 1), SignedIn(minute, "101", 0)]
    assert sampler.sample(minute + 60, two[:1]) == [SignedIn(minute + 60, "999", 1), SignedIn(minute + 60, "101", 0)]
