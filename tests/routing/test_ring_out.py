"""The ring-out rule, table-driven: PBX event sequences through the registry, its notices through
the rule, the pauses it decides out; then the real Asterisk recordings of a ring-out and of
callers hanging up while a phone rang."""

from __future__ import annotations

import pytest

from intake.core.registry import Registry
from routing import ring_out
from routing.errors import IllegalRingOutStep
from routing.ring_out import (
    TRANSITIONS,
    Act,
    Count,
    PauseForRingOut,
    RingOutEvent,
    RingOutRule,
    RingOuts,
)
from telephony import events as ev
from telephony.translate import translate
from tests.intake.test_recorded import MEMBERS, QUEUES, frames
from tests.intake.timeline import T0, Timeline, member

H1, H2, STRANGER = "PJSIP/handler-1", "PJSIP/handler-2", "PJSIP/handler-9"
RING = 15.0  # the queue's ring timeout (config/asterisk/queues.conf)


def rule(after: int) -> RingOutRule:
    return RingOutRule(after=after, reason="rang out", wrapup_reason="wrap-up")


# Each step is one happening on the floor, its own call (c<n>) a minute after the last.

def rang_out(n: int, who: str = H1) -> list[ev.DomainEvent]:
    """The phone rings for the queue's timeout; Asterisk moves the call on (AgentRingNoAnswer)."""
    return Timeline(call_id=f"c{n}").join(60 * n).ring(60 * n + 1, who).ring_out(60 * n + 1 + RING, who, RING).events


def answered(n: int, who: str = H1) -> list[ev.DomainEvent]:
    return Timeline(call_id=f"c{n}").join(60 * n).ring(60 * n + 1, who).answer(60 * n + 3, who, hold=3).complete(60 * n + 20, who, talk=17).events


def caller_hangs_up_while_ringing(n: int, who: str = H1) -> list[ev.DomainEvent]:
    """What Asterisk sends then: QueueCallerAbandon, no AgentRingNoAnswer (recorded)."""
    return Timeline(call_id=f"c{n}").join(60 * n).ring(60 * n + 1, who).abandon(60 * n + 4, hold=4).events


def answered_elsewhere(n: int) -> list[ev.DomainEvent]:
    """Both phones ring (ringall); H2 answers, H1's stops."""
    return Timeline(call_id=f"c{n}").join(60 * n).ring(60 * n + 1, H1).ring(60 * n + 1, H2).answer(60 * n + 3, H2, hold=3).events


def pauses_while_ringing(n: int, reason: str) -> list[ev.DomainEvent]:
    """H1 presses Not ready while the phone rings; then it rings out."""
    t = Timeline(call_id=f"c{n}").join(60 * n).ring(60 * n + 1, H1)
    t.events += on_break(60 * n + 2, reason)
    return t.ring_out(60 * n + 1 + RING, H1, RING).events


def on_break(s: float, reason: str = "break") -> list[ev.DomainEvent]:
    return [ev.MemberChanged(T0 + s, member(s, q, H1, paused=True, reason=reason)) for q in QUEUES]


def back(s: float) -> list[ev.DomainEvent]:
    return [ev.MemberChanged(T0 + s, member(s, q, H1)) for q in QUEUES]


def floor(members: tuple[str, ...] = (H1, H2, STRANGER)) -> list[ev.DomainEvent]:
    """Everyone ready in both queues; STRANGER is a member no configuration names."""
    return [ev.MemberJoined(T0, member(0, q, m)) for m in members for q in QUEUES]


def run(after: int, steps: list[list[ev.DomainEvent]]) -> list[tuple[str, str, int]]:
    reg = Registry(QUEUES, handlers={H1: ("h1", "Alice"), H2: ("h2", "Ben")})
    ring_outs = RingOuts(rule(after))
    pauses: list[PauseForRingOut] = []
    for event in floor() + [e for step in steps for e in step]:
        pauses += ring_outs.feed(reg.apply(event), reg.handlers.get)
    return [(p.handler_id, p.call_id, p.ring_outs) for p in pauses]


@pytest.mark.parametrize(("case", "after", "steps", "expected"), [
    ("one ring-out pauses the handler, naming the call", 1, [rang_out(1)], [("h1", "c1", 1)]),
    ("the rule off: never", 0, [rang_out(1), rang_out(2), rang_out(3)], []),
    ("the caller hangs up while the phone rings: not the handler's fault", 1, [caller_hangs_up_while_ringing(1)], []),
    ("another phone answered first", 1, [answered_elsewhere(1)], []),
    ("an answered call is no ring-out", 1, [answered(1)], []),
    ("two in a row needed: the first is forgiven", 2, [rang_out(1)], []),
    ("two in a row needed: the second pauses", 2, [rang_out(1), rang_out(2)], [("h1", "c2", 2)]),
    ("an abandon while ringing does not break a run", 2, [rang_out(1), caller_hangs_up_while_ringing(2), rang_out(3)], [("h1", "c3", 2)]),
    ("an answer in between starts the count again", 2, [rang_out(1), answered(2), rang_out(3)], []),
    ("a break in between starts the count again", 2, [rang_out(1), on_break(100), back(110), rang_out(3)], []),
    ("counted per handler", 2, [rang_out(1, H1), rang_out(2, H2), rang_out(3, H2)], [("h2", "c3", 2)]),
    ("paused while it rang: their own reason stands", 1, [pauses_while_ringing(1, "meal")], []),
    ("a member no configuration names is a supervisor's to manage", 1, [rang_out(1, STRANGER)], []),
    ("back with Ready, rung out again: paused again", 1,
     [rang_out(1), on_break(100, "rang out"), back(110), rang_out(3)], [("h1", "c1", 1), ("h1", "c3", 1)]),
])
def test_the_rule_pauses_a_handler_whose_phone_rings_out(case, after, steps, expected):
    assert run(after, steps) == expected, case


CLEAR, COUNTING, RE = Count.CLEAR, Count.COUNTING, RingOutEvent


@pytest.mark.parametrize(("state", "event", "after", "acts"), [
    (CLEAR, RE.RANG_OUT, COUNTING, (Act.COUNT,)),
    (CLEAR, RE.RANG_OUT_LAST, CLEAR, (Act.PAUSE,)),
    (CLEAR, RE.RANG_OUT_WHILE_OUT, CLEAR, ()),
    (CLEAR, RE.ANSWERED, CLEAR, ()),
    (CLEAR, RE.STOOD_DOWN, CLEAR, ()),
    (COUNTING, RE.RANG_OUT, COUNTING, (Act.COUNT,)),
    (COUNTING, RE.RANG_OUT_LAST, CLEAR, (Act.PAUSE, Act.RESET)),
    (COUNTING, RE.RANG_OUT_WHILE_OUT, CLEAR, (Act.RESET,)),
    (COUNTING, RE.ANSWERED, CLEAR, (Act.RESET,)),
    (COUNTING, RE.STOOD_DOWN, CLEAR, (Act.RESET,)),
], ids=lambda v: getattr(v, "value", v))
def test_each_row_of_the_ring_out_table(state, event, after, acts):
    move = ring_out.step(H1, state, event)
    assert (move.next, move.effects) == (after, acts)


def test_the_ring_out_table_has_a_row_for_every_pair_so_no_notice_can_find_none():
    assert set(TRANSITIONS) == {(s, e) for s in Count for e in RingOutEvent}


def test_a_missing_row_would_be_an_error_naming_the_member_the_state_and_the_event():
    exc = IllegalRingOutStep(H1, "clear", "rang-out")
    assert (exc.member, exc.state, exc.event) == (H1, "clear", "rang-out")
    assert str(exc) == "ring-out count of 'PJSIP/handler-1': no step for event 'rang-out' in state 'clear'"


def test_every_ring_out_is_counted_per_queue_paused_for_or_not():
    reg = Registry(QUEUES, handlers={H1: ("h1", "Alice")})
    ring_outs = RingOuts(rule(2))
    for event in floor((H1,)) + rang_out(1) + caller_hangs_up_while_ringing(2):
        ring_outs.feed(reg.apply(event), reg.handlers.get)
    assert ring_outs.seen == {("999", "emergency"): 1}


def replay(name: str) -> list[PauseForRingOut]:
    """A recorded Asterisk 22 stream through the parser, the registry and the rule."""
    reg = Registry(QUEUES, handlers=MEMBERS)
    ring_outs = RingOuts(rule(1))
    pauses, last = [], 0.0
    for frame in frames(name):
        event = translate(frame, last)
        if event is not None:
            last = event.at
            pauses += ring_outs.feed(reg.apply(event), reg.handlers.get)
    return pauses


def test_recorded_ring_out_pauses_the_handler_whose_phone_rang_out_and_nobody_else():
    pauses = replay("ringnoanswer_then_other")
    # queue_log: 1795348758.0|emergency|handler-1|RINGNOANSWER|15000, then handler-2 CONNECT.
    assert [(p.handler_id, p.call_id, p.queue, p.reason) for p in pauses] == [("h1", "1795348758.0", "emergency", "rang out")]


@pytest.mark.parametrize("name", ["abandoned_ringing", "abandoned_ringing_101", "answered", "both_lines"])
def test_recorded_callers_hanging_up_while_a_phone_rings_pause_nobody(name):
    assert replay(name) == []
