from __future__ import annotations

import pytest

from telephony.errors import MalformedFrame
from telephony.events import (
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallLeftQueue,
    CallQueued,
    ChannelCreated,
    ChannelHungUp,
    ChannelSeen,
    DomainEvent,
    HandlerRang,
    HandlerRingNoAnswer,
    MemberChanged,
    MemberDevice,
    MemberJoined,
    MemberLeft,
    MemberSeen,
    MemberState,
    ModuleReloaded,
    OriginateFinished,
    WaitingCallSeen,
)
from telephony.frames import Frame, encode_frame, parse_frame
from telephony.timing import PbxClock
from telephony.translate import TRANSLATORS, translate

from . import samples as s

AT = 1700000000.123456
NOW = 1700000500.0  # the session's PBX-clock estimate, for frames without a Timestamp


def member(at: float, **changes: object) -> MemberState:
    base = {"at": at, "queue": "999", "member": "PJSIP/handler-1", "member_name": "Handler One", "device": MemberDevice.RINGING,
                "paused": False, "paused_reason": "", "in_call": False, "penalty": 0}
    return MemberState(**{**base, **changes})  # type: ignore[arg-type]


CASES: list[tuple[dict[str, str], DomainEvent]] = [
    (s.QUEUE_CALLER_JOIN, CallQueued(at=AT, call_id=s.CALLER, queue="999", caller_number="07700900123",
                                     caller_name="Zoë Ångström", position=1, channel="PJSIP/trunk-00000029", linked_id=s.CALLER)),
    (s.AGENT_CALLED, HandlerRang(at=AT, call_id=s.CALLER, queue="999", member="PJSIP/handler-1", member_name="Handler One",
                                 handler_channel="PJSIP/handler-1-0000002a")),
    (s.AGENT_RING_NO_ANSWER, HandlerRingNoAnswer(at=AT, call_id=s.CALLER, queue="999", member="PJSIP/handler-1", ring_seconds=15.023)),
    (s.AGENT_CONNECT, CallAnswered(at=AT, call_id=s.CALLER, queue="999", member="PJSIP/handler-1", member_name="Handler One",
                                   hold_seconds=7.0, ring_seconds=3.0, handler_channel="PJSIP/handler-1-0000002a")),
    (s.QUEUE_CALLER_LEAVE, CallLeftQueue(at=AT, call_id=s.CALLER, queue="999", position=1, count=0)),
    (s.QUEUE_CALLER_ABANDON, CallAbandoned(at=AT, call_id=s.CALLER, queue="999", hold_seconds=21.0, position=2, original_position=3)),
    (s.AGENT_COMPLETE, CallCompleted(at=AT, call_id=s.CALLER, queue="999", member="PJSIP/handler-1", hold_seconds=7.0,
                                     talk_seconds=183.0, reason="caller")),
    (s.NEWCHANNEL, ChannelCreated(at=AT, channel_id=s.CALLER, linked_id=s.CALLER, channel="PJSIP/trunk-00000029", caller_number="07700900123")),
    (s.HANGUP, ChannelHungUp(at=AT, channel_id=s.CALLER, channel="PJSIP/trunk-00000029", cause=16)),
    (s.ORIGINATE_RESPONSE, OriginateFinished(at=AT, action_id="intake-7", answered=False, reason=5, channel="PJSIP/handler-1")),
    (s.QUEUE_MEMBER_ADDED, MemberJoined(at=AT, state=member(AT, device=MemberDevice.NOT_INUSE))),
    (s.QUEUE_MEMBER_STATUS, MemberChanged(at=AT, state=member(AT))),
    (s.QUEUE_MEMBER_PAUSE, MemberChanged(at=AT, state=member(AT, paused=True, paused_reason="wrap-up", device=MemberDevice.INUSE, in_call=True))),
    (s.QUEUE_MEMBER_PENALTY, MemberChanged(at=AT, state=member(AT, penalty=2))),
    (s.QUEUE_MEMBER_REMOVED, MemberLeft(at=AT, queue="999", member="PJSIP/handler-1")),
    (s.QUEUE_MEMBER, MemberSeen(at=NOW, state=member(NOW, device=MemberDevice.INUSE, in_call=True))),
    (s.RELOAD, ModuleReloaded(at=AT, module="app_queue.so", status="0")),
    (s.LOAD, ModuleReloaded(at=AT, module="app_queue.so", status="Success")),
    (s.QUEUE_ENTRY, WaitingCallSeen(at=NOW, call_id=s.CALLER, queue="999", caller_number="07700900123", caller_name="Zoë Ångström",
                                    position=1, wait_seconds=9.0, channel="PJSIP/trunk-00000029")),
    (s.CORE_SHOW_CHANNEL, ChannelSeen(at=NOW, channel_id=s.CALLER, linked_id=s.CALLER, channel="PJSIP/trunk-00000029",
                                      caller_number="07700900123", caller_name="Zoë Ångström", application="Queue", queue="999",
                                      bridged=True, duration_seconds=65.0, bridge_id="8f1b3c2e-6f0a-4d47-9d9b-0e0f4ad1d7b2")),
]


def wire(fields: dict[str, str]) -> Frame:
    """Through the real encoder and parser, so the cases are what the session would see."""
    return parse_frame(encode_frame(fields)[:-4])


@pytest.mark.parametrize(("fields", "expected"), CASES, ids=[c[0]["Event"] for c in CASES])
def test_each_known_event_translates_to_its_domain_event(fields: dict[str, str], expected: DomainEvent) -> None:
    assert translate(wire(fields), NOW) == expected


def test_every_translator_has_a_case() -> None:
    assert {fields["Event"] for fields, _ in CASES} == set(TRANSLATORS)


@pytest.mark.parametrize("name", ["VarSet", "Newstate", "QueueParams", "QueueStatusComplete", "DeviceStateChange"])
def test_events_we_do_not_use_translate_to_none(name: str) -> None:
    assert translate(wire({"Event": name, "Timestamp": s.TS}), NOW) is None


def test_a_response_is_not_an_event() -> None:
    assert translate(wire({"Response": "Success", "Message": "ok"}), NOW) is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({k: v for k, v in s.QUEUE_CALLER_JOIN.items() if k != "Uniqueid"}, "Uniqueid"),
        ({**s.QUEUE_CALLER_JOIN, "Position": "first"}, "Position"),
        ({**s.AGENT_CONNECT, "HoldTime": ""}, "HoldTime"),
        ({**s.QUEUE_MEMBER_STATUS, "Status": "ringing"}, "Status"),
        ({**s.QUEUE_MEMBER_STATUS, "Paused": "maybe"}, "Paused"),
        ({**s.CORE_SHOW_CHANNEL, "Duration": "1:xx:00"}, "Duration"),
        ({k: v for k, v in s.QUEUE_MEMBER.items() if k != "Location"}, "Location"),
    ],
)
def test_a_known_event_with_a_bad_field_raises_malformed_frame_naming_event_and_field(fields: dict[str, str], field: str) -> None:
    with pytest.raises(MalformedFrame) as caught:
        translate(wire(fields), NOW)
    assert caught.value.event == fields["Event"]
    assert caught.value.field == field
    assert field in str(caught.value)


def test_unknown_caller_id_becomes_empty() -> None:
    event = translate(wire({**s.QUEUE_CALLER_JOIN, "CallerIDNum": "<unknown>", "CallerIDName": "<unknown>"}), NOW)
    assert isinstance(event, CallQueued)
    assert (event.caller_number, event.caller_name) == ("", "")


def test_a_channel_not_in_queue_has_no_queue_and_an_empty_bridge_is_not_bridged() -> None:
    event = translate(wire({**s.CORE_SHOW_CHANNEL, "Application": "Dial", "ApplicationData": "PJSIP/x,30", "BridgeId": ""}), NOW)
    assert isinstance(event, ChannelSeen)
    assert (event.queue, event.bridged) == ("", False)


def test_a_device_state_newer_than_our_enum_is_kept_as_unknown() -> None:
    event = translate(wire({**s.QUEUE_MEMBER_STATUS, "Status": "9"}), NOW)
    assert isinstance(event, MemberChanged)
    assert event.state.device is MemberDevice.UNKNOWN


def test_a_silent_callers_join_carries_the_dialplan_marker():
    from telephony.frames import Frame
    from telephony.translate import translate

    frame = Frame({"Event": "QueueCallerJoin", "Timestamp": "1700000000.5", "Uniqueid": "1.1", "Queue": "emergency",
                   "CallerIDNum": "07700900001", "CallerIDName": "x", "Position": "1", "Channel": "PJSIP/caller-1-1",
                   "Linkedid": "1.1", "ChanVariable": "INTAKE_SILENT=1"})
    queued = translate(frame, 0.0)
    assert queued is not None and queued.silent  # type: ignore[union-attr]


@pytest.mark.parametrize(("module", "queues"), [("app_queue.so", True), ("app_queue", True), ("All", True),
                                                 ("res_pjsip.so", False), ("manager", False)])
def test_a_reload_says_whether_the_queues_were_read_again(module: str, queues: bool) -> None:
    event = translate(wire({**s.RELOAD, "Module": module}), NOW)
    assert isinstance(event, ModuleReloaded) and event.queues_reloaded is queues


@pytest.mark.parametrize("event", ["QueueMember", "QueueMemberStatus", "QueueMemberAdded", "QueueMemberPause"])
def test_a_member_held_by_queues_conf_is_told_apart_from_one_intake_added(event: str) -> None:
    base = s.QUEUE_MEMBER if event == "QueueMember" else {**s.QUEUE_MEMBER_STATUS, "Event": event}
    static = translate(wire({**base, "Membership": "static"}), NOW)
    dynamic = translate(wire(base), NOW)
    assert static.state.membership == "static" and static.state.fixed  # type: ignore[union-attr]
    assert dynamic.state.membership == "dynamic" and not dynamic.state.fixed  # type: ignore[union-attr]


def test_a_timestamp_that_is_not_a_believable_time_gives_the_event_the_callers_estimate() -> None:
    """Without a clock (a recording replayed) the rule is the same as live, minus the skew: the
    event is kept, on the caller's estimate, rather than lost or stamped in year 10^300."""
    for raw in ("yesterday", "inf", "nan", "1e300", "-5"):
        event = translate(wire({**s.HANGUP, "Timestamp": raw}), NOW)
        assert isinstance(event, ChannelHungUp) and event.at == NOW, raw


def test_with_a_clock_a_timestamp_too_far_from_ours_gives_the_clocks_estimate_and_is_counted() -> None:
    clock = PbxClock(now=lambda: AT, max_skew=300)
    assert translate(wire(s.HANGUP), NOW, clock).at == AT  # type: ignore[union-attr]
    far = translate(wire({**s.HANGUP, "Timestamp": f"{AT + 366 * 86400:.6f}"}), NOW, clock)
    assert far is not None and far.at == pytest.approx(AT) and clock.rejected == 1


# Every number from the PBX: finite, non-negative, within a sane bound, or MalformedFrame naming
# the event and the field. (event sample, field, absurd values)
_COUNTS = ("-1", "inf", "nan", "1e300", "99999999999")
_TIMES = ("-1", "-0.5", "inf", "-inf", "nan", "1e300", "1e12")
NUMBERS: list[tuple[dict[str, str], str, tuple[str, ...]]] = [
    (s.QUEUE_CALLER_JOIN, "Position", _COUNTS),
    (s.AGENT_RING_NO_ANSWER, "RingTime", _TIMES),
    (s.AGENT_CONNECT, "HoldTime", _TIMES),
    (s.AGENT_CONNECT, "RingTime", _TIMES),
    (s.AGENT_COMPLETE, "HoldTime", _TIMES),
    (s.AGENT_COMPLETE, "TalkTime", _TIMES),
    (s.QUEUE_CALLER_LEAVE, "Position", _COUNTS),
    (s.QUEUE_CALLER_LEAVE, "Count", _COUNTS),
    (s.QUEUE_CALLER_ABANDON, "HoldTime", _TIMES),
    (s.QUEUE_CALLER_ABANDON, "Position", _COUNTS),
    (s.QUEUE_CALLER_ABANDON, "OriginalPosition", _COUNTS),
    (s.HANGUP, "Cause", _COUNTS),
    (s.ORIGINATE_RESPONSE, "Reason", _COUNTS),
    (s.QUEUE_MEMBER_ADDED, "Penalty", _COUNTS),
    (s.QUEUE_MEMBER_STATUS, "Status", _COUNTS),
    (s.QUEUE_MEMBER_PENALTY, "Penalty", _COUNTS),
    (s.QUEUE_MEMBER, "Penalty", _COUNTS),
    (s.QUEUE_ENTRY, "Position", _COUNTS),
    (s.QUEUE_ENTRY, "Wait", _TIMES),
    (s.CORE_SHOW_CHANNEL, "Duration", (*_TIMES, "-1:00:00", "99999999:00:00", "00:-5:00")),
]


@pytest.mark.parametrize(("fields", "field", "value"), [(f, k, v) for f, k, values in NUMBERS for v in values],
                         ids=[f"{f['Event']}.{k}={v}" for f, k, values in NUMBERS for v in values])
def test_an_absurd_number_from_the_pbx_raises_malformed_frame_naming_event_and_field(fields: dict[str, str], field: str,
                                                                                      value: str) -> None:
    assert field in fields
    with pytest.raises(MalformedFrame) as caught:
        translate(wire({**fields, field: value}), NOW)
    assert (caught.value.event, caught.value.field) == (fields["Event"], field)
    assert field in str(caught.value) and value in str(caught.value)

