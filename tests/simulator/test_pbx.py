"""The queue model alone: no sockets, no asyncio, a clock the test moves by hand."""

from __future__ import annotations

import pytest

from telephony.simulator import HandlerConfig, QueueConfig, Strategy
from telephony.simulator.errors import (
    MemberAlreadyThere,
    NoSuchMember,
    NoSuchQueue,
    NotRinging,
)
from telephony.simulator.pbx import Pbx
from telephony.simulator.wire import AmiEvent

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


def make(strategy: Strategy = Strategy.RRMEMORY, members: int = 3) -> tuple[Pbx, Clock, list[AmiEvent]]:
    clock = Clock()
    queues = (QueueConfig("emergency", "999", weight=10, timeout=15, retry=1, exten="999", strategy=strategy),
              QueueConfig("non-emergency", "101", timeout=15, retry=1, exten="101", answer_first=False))
    handlers = tuple(HandlerConfig(f"PJSIP/handler-{i}", f"h{i}", ("emergency",)) for i in range(1, members + 1))
    pbx = Pbx(queues, handlers, clock, dialplan_delay=0.5)
    events: list[AmiEvent] = []
    pbx.subscribe(events.append)
    return pbx, clock, events


def step(pbx: Pbx, clock: Clock, seconds: float) -> None:
    clock.t += seconds
    pbx.advance()


def rung(events: list[AmiEvent]) -> list[str]:
    return [e.get("Interface") for e in events if e.name == "AgentCalled"]


@pytest.mark.parametrize(("strategy", "expected"), [
    (Strategy.RRMEMORY, ["PJSIP/handler-1", "PJSIP/handler-2", "PJSIP/handler-3", "PJSIP/handler-1"]),
    (Strategy.LINEAR, ["PJSIP/handler-1"] * 4),
])
def test_strategy_decides_who_rings_first(strategy: Strategy, expected: list[str]) -> None:
    pbx, clock, events = make(strategy)
    for _ in range(4):
        call_id = pbx.arrive("emergency", "07700900001")
        step(pbx, clock, 0.5)
        member = pbx.ringing_member_of(call_id)
        assert member is not None
        pbx.answer(member)
        step(pbx, clock, 5)
        pbx.hangup_caller(call_id)
    assert rung(events) == expected


def test_caller_joins_after_the_dialplan_delay_and_its_wait_is_pbx_time() -> None:
    pbx, clock, events = make()
    call_id = pbx.arrive("emergency", "07700900001", "Alice")
    assert [e.name for e in events] == ["Newchannel", "Newstate"]
    step(pbx, clock, 0.4)
    assert "QueueCallerJoin" not in [e.name for e in events]
    step(pbx, clock, 0.1)
    join = next(e for e in events if e.name == "QueueCallerJoin")
    assert join.at == T0 + 0.5 and join.get("Uniqueid") == call_id


def test_ring_timeout_is_the_queue_timeout_and_retry_waits() -> None:
    pbx, clock, events = make()
    call_id = pbx.arrive("emergency", "07700900001")
    step(pbx, clock, 0.5)
    step(pbx, clock, 14.9)
    assert "AgentRingNoAnswer" not in [e.name for e in events]
    step(pbx, clock, 0.1)
    rna = next(e for e in events if e.name == "AgentRingNoAnswer")
    assert rna.get("RingTime") == "15000"
    assert pbx.ringing_member_of(call_id) is None
    step(pbx, clock, 0.9)
    assert pbx.ringing_member_of(call_id) is None  # retry = 1 s
    step(pbx, clock, 0.1)
    assert pbx.ringing_member_of(call_id) == "PJSIP/handler-2"


def test_penalty_keeps_a_member_for_when_the_others_are_busy() -> None:
    pbx, clock, _events = make(Strategy.LINEAR, members=2)
    pbx.members.set_penalty("PJSIP/handler-1", 5)
    first = pbx.arrive("emergency", "07700900001")
    second = pbx.arrive("emergency", "07700900002")
    step(pbx, clock, 0.5)
    assert (pbx.ringing_member_of(first), pbx.ringing_member_of(second)) == ("PJSIP/handler-2", "PJSIP/handler-1")


def test_ringinuse_no_never_rings_a_phone_in_use() -> None:
    pbx, clock, _events = make(members=1)
    first = pbx.arrive("emergency", "07700900001")
    step(pbx, clock, 0.5)
    pbx.answer("PJSIP/handler-1")
    second = pbx.arrive("emergency", "07700900002")
    step(pbx, clock, 30)
    assert pbx.ringing_member_of(second) is None
    pbx.hangup_caller(first)
    step(pbx, clock, 1.0)  # the waiting caller looks again after the queue's retry
    assert pbx.ringing_member_of(second) == "PJSIP/handler-1"


def test_every_event_of_one_command_carries_one_instant() -> None:
    pbx, clock, events = make()
    call_id = pbx.arrive("emergency", "07700900001")
    step(pbx, clock, 0.5)
    clock.t += 3
    before = len(events)
    pbx.answer("PJSIP/handler-1")
    assert {e.at for e in events[before:]} == {clock.t}
    connect = next(e for e in events if e.name == "AgentConnect")
    assert (connect.get("HoldTime"), connect.get("RingTime")) == ("3", "3")
    assert call_id == connect.get("Uniqueid")


def test_refusals_name_what_was_wrong() -> None:
    pbx, _clock, _events = make()
    with pytest.raises(NoSuchQueue):
        pbx.arrive("nope", "07700900001")
    with pytest.raises(MemberAlreadyThere):
        pbx.members.add("emergency", "PJSIP/handler-1")
    with pytest.raises(NoSuchMember):
        pbx.members.pause("PJSIP/handler-9", True)
    with pytest.raises(NotRinging):
        pbx.answer("PJSIP/handler-1")
