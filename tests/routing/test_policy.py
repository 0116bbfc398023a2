"""The overflow policy, table-driven: a floor in, decisions with their reasons out; then the
hysteresis over a timeline."""

from __future__ import annotations

import pytest

from intake.core.handlers import HandlerState as S
from routing.floor import Desk, Floor, WaitingCall
from routing.policy import Lend, Memory, Reason, Recall, Rules, decide

QUEUES = {"emergency": "999", "non-emergency": "101"}
RULES = Rules(at_fraction=0.5, when_outnumbered=True, clear_seconds=20, penalty=5)


def desk(n: int, lines: str, state: S, lent: bool = False) -> Desk:
    return Desk(f"PJSIP/handler-{n}", f"h{n}", frozenset(lines.split(",")), state,
                frozenset({"emergency"}) if lent else frozenset())


def call999(waited: float, n: int = 1) -> WaitingCall:
    return WaitingCall(f"c{n}", "999", waited, 12)


def call101(waited: float) -> WaitingCall:
    return WaitingCall("c101", "101", waited, 60)


def floor(waiting: list[WaitingCall], desks: list[Desk], now: float = 100.0) -> Floor:
    return Floor(now, tuple(waiting), tuple(desks), QUEUES)


def summary(decisions: list) -> list[tuple[str, str, str]]:
    return [(type(d).__name__, d.handler_id, d.reason.value) for d in decisions]


BUSY_999 = desk(2, "999", S.ON_CALL)
READY_101 = desk(3, "101", S.READY)


@pytest.mark.parametrize(("case", "waiting", "desks", "expected"), [
    ("nobody waiting: nothing to do", [], [BUSY_999, READY_101], []),
    ("one 999 call, a 999 handler ready: the PBX copes", [call999(2)], [desk(2, "999", S.READY), READY_101], []),
    ("young 999 call, its handler ringing: no risk yet", [call999(1)], [desk(2, "999", S.RINGING), READY_101], []),
    ("999 handler busy, call young: outnumbered", [call999(1)], [BUSY_999, READY_101], [("Lend", "h3", "outnumbered")]),
    ("past half the target", [call999(6)], [desk(2, "999", S.READY), READY_101], [("Lend", "h3", "target-at-risk")]),
    ("just under half the target, one free 999 handler", [call999(5.9)], [desk(2, "999", S.READY), READY_101], []),
    ("a 101 call waiting never lends", [call101(50)], [BUSY_999, READY_101], []),
    ("a 101 handler on a call is never interrupted", [call999(8)], [BUSY_999, desk(3, "101", S.ON_CALL)], []),
    ("not ready / wrap-up / logged out are not lent", [call999(8)],
     [BUSY_999, desk(3, "101", S.NOT_READY), desk(4, "101", S.WRAP_UP), desk(5, "101", S.LOGGED_OUT)], []),
    ("a handler of both lines already has the 999 queue", [call999(8)], [BUSY_999, desk(1, "999,101", S.ON_CALL)], []),
    ("already lent: not lent twice", [call999(8)], [BUSY_999, desk(3, "101", S.READY, lent=True)], []),
    ("every ready 101-only handler is lent", [call999(8), call999(2, 2)],
     [BUSY_999, READY_101, desk(4, "101", S.READY)], [("Lend", "h3", "target-at-risk"), ("Lend", "h4", "target-at-risk")]),
])
def test_policy_decides_from_the_floor(case, waiting, desks, expected):
    decisions, _ = decide(floor(waiting, desks), RULES, Memory())
    assert summary(decisions) == expected, case


def test_a_loan_is_a_queue_add_to_the_999_queue_with_the_penalty_and_says_why():
    [lend], _ = decide(floor([call999(6.5)], [BUSY_999, READY_101]), RULES, Memory())
    assert lend == Lend("PJSIP/handler-3", "h3", "emergency", 5, Reason.TARGET_AT_RISK,
                        "oldest 999 call c1 waited 6.5 s >= 0.5 of its 12 s target")


def test_outnumbered_can_be_turned_off():
    decisions, _ = decide(floor([call999(1)], [BUSY_999, READY_101]), Rules(when_outnumbered=False), Memory())
    assert decisions == []


def test_lent_handlers_are_recalled_only_after_the_999_queue_stays_clear_for_clear_seconds():
    lent = desk(3, "101", S.READY, lent=True)
    memory = Memory()
    timeline = [  # (now, waiting, expected decisions)
        (0.0, [call999(8)], []),  # at risk, already lent
        (5.0, [], []),  # clear from 5 s
        (15.0, [], []),
        (20.0, [call999(0.5)], []),  # a new call: the clock restarts (handler 2 is ringing for it)
        (21.0, [], []),
        (40.9, [], []),
        (41.0, [], [("Recall", "h3", "queue-clear")]),
    ]
    for now, waiting, expected in timeline:
        decisions, memory = decide(floor(waiting, [desk(2, "999", S.RINGING), lent], now), RULES, memory)
        assert summary(decisions) == expected, now
    [recall] = decisions
    assert recall == Recall("PJSIP/handler-3", "h3", "emergency", Reason.QUEUE_CLEAR, "no 999 call waiting for 20.0 s")


def test_a_lent_handler_on_a_call_is_recalled_without_touching_the_call():
    # QueueRemove leaves a bridged call alone: the handler finishes it, then is 101-only again.
    decisions, _ = decide(floor([], [desk(3, "101", S.ON_CALL, lent=True)], 30.0), RULES, Memory(clear_since=0.0))
    assert summary(decisions) == [("Recall", "h3", "queue-clear")]


def test_risk_again_before_the_clear_time_keeps_handlers_lent_and_lends_newly_ready_ones():
    desks = [BUSY_999, desk(3, "101", S.READY, lent=True), desk(4, "101", S.READY)]
    decisions, memory = decide(floor([call999(7)], desks, 50.0), RULES, Memory(clear_since=40.0))
    assert summary(decisions) == [("Lend", "h4", "target-at-risk")]
    assert memory.clear_since is None
