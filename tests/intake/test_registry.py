"""Recorded-style PBX event sequences replayed through the registry give the right state and figures."""

from __future__ import annotations

import structlog

from intake.core.calls import CallState
from intake.core.handlers import HandlerState
from intake.core.registry import (
    Answered,
    Finished,
    MembershipsLost,
    Registry,
    ResyncWanted,
    Ringing,
    RingStopped,
    Settled,
)
from telephony import events as ev
from tests.intake.timeline import T0, Timeline, member

QUEUES = {"emergency": ("999", 12.0), "non-emergency": ("101", 60.0)}
H1, H2 = "PJSIP/handler-1", "PJSIP/handler-2"


def registry() -> Registry:
    return Registry(QUEUES, handlers={H1: ("h1", "Alice"), H2: ("h2", "Bob")})


def replay(reg: Registry, events: list[ev.DomainEvent]) -> list[object]:
    notices: list[object] = []
    for e in events:
        notices += reg.apply(e)
    return notices


def figures(reg: Registry, line: str = "999") -> dict:
    return reg.report(T0 + 1000)["lines"][line]


def test_answered_call_counts_as_answered_within_target_with_wait_from_queue_and_arrival():
    reg = registry()
    t = Timeline().arrive(0).join(1.5).ring(2, H1).answer(6.5, H1, hold=5).complete(30, H1, talk=23.5)
    notices = replay(reg, t.events)
    assert [type(n) for n in notices if isinstance(n, Ringing | Answered | Finished)] == [Ringing, Answered, Finished]
    f = figures(reg)
    assert (f["offered"], f["answered"], f["abandoned"], f["waiting"]) == (1, 1, 0, 0)
    assert f["from_queue_entry"]["answered_within_target"] == 1
    assert f["from_queue_entry"]["mean_answer_seconds"] == 5.0
    assert f["from_arrival"]["mean_answer_seconds"] == 6.5
    assert f["from_queue_entry"]["buckets"] == {"under_10s": 1, "10s_to_60s": 0, "60s_and_over": 0}
    finished = next(n for n in notices if isinstance(n, Finished)).call
    assert (finished.state, finished.answered_by, finished.talk_seconds) == (CallState.COMPLETED, H1, 23.5)
    assert reg.calls == {}


def test_answer_after_target_is_answered_but_not_within_target():
    reg = registry()
    replay(reg, Timeline().join(0).ring(1, H1).answer(13, H1, hold=13).complete(20, H1, talk=7).events)
    f = figures(reg)
    assert f["answered"] == 1
    assert f["from_queue_entry"]["answered_within_target"] == 0
    assert f["from_queue_entry"]["answered_within_target_pct"] == 0.0
    assert f["from_queue_entry"]["buckets"]["10s_to_60s"] == 1


def test_connect_before_leave_is_the_same_answered_call():
    reg = registry()
    t = Timeline().join(0).ring(1, H1)
    t.events.append(ev.CallAnswered(T0 + 4, t.call_id, t.queue, H1, H1, 4, 3, H1 + "-2"))
    t.leave(4).complete(10, H1, talk=6)
    replay(reg, t.events)
    assert figures(reg)["answered"] == 1
    assert figures(reg)["left_other"] == 0


def test_abandoned_while_waiting_is_offered_not_answered_and_misses_target():
    reg = registry()
    replay(reg, Timeline().join(0).abandon(8, hold=8).events)
    f = figures(reg)
    assert (f["offered"], f["answered"], f["abandoned"]) == (1, 0, 1)
    assert f["from_queue_entry"]["answered_within_target_pct"] == 0.0


def test_abandoned_while_ringing_closes_the_ringing_handlers_pop():
    reg = registry()
    notices = replay(reg, Timeline().join(0).ring(1, H1).abandon(4, hold=4).events)
    stopped = [n for n in notices if isinstance(n, RingStopped)]
    assert [(n.member, n.reason) for n in stopped] == [(H1, "abandoned")]
    assert reg.handlers[H1].ringing_for == set()
    assert figures(reg)["abandoned"] == 1


def test_ring_no_answer_then_answered_by_another():
    reg = registry()
    t = Timeline().join(0).ring(1, H1).ring_out(16, H1, ring=15).ring(17, H2).answer(19, H2, hold=19).complete(40, H2, talk=21)
    notices = replay(reg, t.events)
    assert [(n.member, n.reason) for n in notices if isinstance(n, RingStopped)] == [(H1, "rang-out")]
    assert [n.member for n in notices if isinstance(n, Answered)] == [H2]
    f = figures(reg)
    assert (f["answered"], f["from_queue_entry"]["answered_within_target"]) == (1, 0)
    assert f["from_queue_entry"]["p90_answer_seconds"] == 19.1


def test_left_queue_without_answer_settles_as_left_after_grace():
    reg = registry()
    replay(reg, Timeline().join(0).leave(30).events)
    assert reg.calls["1700000000.1"].state is CallState.LEAVING
    assert figures(reg)["waiting"] == 0
    notices = reg.tick(T0 + 33)
    assert [type(n) for n in notices] == [Settled, Finished]
    assert figures(reg)["left_other"] == 1


def test_waiting_call_counts_towards_waiting_and_longest_wait():
    reg = registry()
    replay(reg, Timeline(call_id="a").join(0).events + Timeline(call_id="b").join(5).events)
    f = reg.report(T0 + 20)["lines"]["999"]
    assert (f["waiting"], f["longest_wait_seconds"]) == (2, 20.0)


def test_call_in_a_queue_on_no_line_is_ignored_and_counted():
    reg = registry()
    replay(reg, Timeline(queue="sales").join(0).ring(1, H1).events)
    assert reg.calls == {}
    assert reg.counters.other_queue_events == 2


def test_illegal_step_is_counted_not_fatal():
    reg = registry()
    replay(reg, Timeline().join(0).ring(1, H1).answer(3, H1, hold=3).events)
    reg.apply(ev.CallAbandoned(T0 + 4, "1700000000.1", "emergency", 4, 1, 1))
    assert reg.counters.illegal_transitions == 1
    assert reg.calls["1700000000.1"].state is CallState.ANSWERED


def test_handler_states_follow_membership_pause_ring_and_call():
    reg = registry()
    def state():
        return reg.handlers[H1].state("wrap-up")[0]
    assert state() is HandlerState.LOGGED_OUT
    reg.apply(ev.MemberJoined(T0, member(0, "emergency", H1)))
    assert state() is HandlerState.READY
    t = Timeline().join(1).ring(2, H1)
    replay(reg, t.events)
    assert state() is HandlerState.RINGING
    replay(reg, Timeline().answer(4, H1, hold=3).events)
    assert state() is HandlerState.ON_CALL
    replay(reg, Timeline().complete(10, H1, talk=6).events)
    reg.apply(ev.MemberChanged(T0 + 10, member(10, "emergency", H1, paused=True, reason="wrap-up")))
    assert state() is HandlerState.WRAP_UP
    reg.apply(ev.MemberChanged(T0 + 20, member(20, "emergency", H1, paused=True, reason="break")))
    assert reg.handlers[H1].state("wrap-up") == (HandlerState.NOT_READY, "break")
    reg.apply(ev.MemberLeft(T0 + 30, "emergency", H1))
    assert state() is HandlerState.LOGGED_OUT


def test_a_handler_whose_phone_is_busy_with_another_call_is_not_ready():
    """A call-back or a direct call: no queue call of ours, but the PBX will not ring the phone."""
    reg = registry()
    reg.apply(ev.MemberJoined(T0, member(0, "emergency", H1)))
    reg.apply(ev.MemberChanged(T0 + 1, member(1, "emergency", H1, device=ev.MemberDevice.INUSE)))
    assert reg.handlers[H1].state("wrap-up") == (HandlerState.ON_CALL, "phone in use")
    reg.apply(ev.MemberChanged(T0 + 2, member(2, "emergency", H1, device=ev.MemberDevice.NOT_INUSE)))
    assert reg.handlers[H1].state("wrap-up") == (HandlerState.READY, "")
    reg.apply(ev.MemberChanged(T0 + 3, member(3, "emergency", H1, paused=True, reason="break", device=ev.MemberDevice.INUSE)))
    assert reg.handlers[H1].state("wrap-up") == (HandlerState.NOT_READY, "break")  # their own reason stands


def snapshot(at: float, *items: ev.DomainEvent) -> list[ev.DomainEvent]:
    return [ev.SnapshotStarted(T0 + at), *items, ev.SnapshotCompleted(T0 + at)]


def test_resync_after_reconnect_learns_waiting_and_connected_calls_and_drops_vanished():
    reg = registry()
    # Before the link dropped: call "gone" was waiting; "kept" was waiting too.
    replay(reg, Timeline(call_id="gone").join(0).events + Timeline(call_id="kept").join(1).events)
    reg.apply(ev.PbxLinkDown(T0 + 2, "ping timeout"))
    assert not reg.link_up
    reg.apply(ev.PbxLinkUp(T0 + 10, "22.0.0"))
    notices = replay(reg, snapshot(
        10,
        ev.MemberSeen(T0 + 10, member(10, "emergency", H2, device=ev.MemberDevice.INUSE)),
        ev.WaitingCallSeen(T0 + 10, "kept", "emergency", "07700900001", "Caller", 1, 9.0, "PJSIP/caller-1-1"),
        ev.WaitingCallSeen(T0 + 10, "new", "emergency", "07700900002", "Other", 2, 4.0, "PJSIP/caller-2-1"),
        ev.ChannelSeen(T0 + 10, "talking", "talking", "PJSIP/caller-3-1", "07700900003", "Third", "Queue", "emergency", True, 6.0, "bridge-1"),
        ev.ChannelSeen(T0 + 10, "h2leg", "talking", H2 + "-00000009", "", "", "AppQueue", "", True, 5.0, "bridge-1"),
    ))
    assert reg.link_up
    assert set(reg.calls) == {"kept", "new", "talking"}
    assert reg.calls["new"].queued_at == T0 + 6
    assert reg.calls["talking"].state is CallState.ANSWERED
    assert reg.handlers[H2].on_call == "talking"
    assert reg.handlers[H2].state("wrap-up")[0] is HandlerState.ON_CALL
    assert [n.call.call_id for n in notices if isinstance(n, Finished)] == ["gone"]
    f = figures(reg)
    assert (f["waiting"], f["left_other"]) == (2, 1)
    # After resync the known waiting call carries on normally and is not double-counted.
    replay(reg, Timeline(call_id="kept").ring(11, H1).answer(12, H1, hold=11).complete(20, H1, talk=8).events)
    f = figures(reg)
    assert (f["offered"], f["answered"], f["waiting"]) == (3, 1, 1)


def test_resync_marks_a_call_answered_while_away():
    reg = registry()
    replay(reg, Timeline(call_id="c").join(0).ring(1, H1).events)
    reg.apply(ev.PbxLinkDown(T0 + 2, "eof"))
    replay(reg, snapshot(8, ev.ChannelSeen(T0 + 8, "c", "c", "PJSIP/caller-1", "0", "", "Queue", "emergency", True, 8, "b"),
                         ev.ChannelSeen(T0 + 8, "x", "c", H1 + "-0001", "", "", "AppQueue", "", True, 6, "b")))
    assert reg.calls["c"].state is CallState.ANSWERED
    assert reg.calls["c"].answered_by == H1
    assert figures(reg)["answered"] == 1


def test_a_call_that_joins_during_the_snapshot_is_not_taken_for_vanished():
    reg = registry()
    reg.apply(ev.SnapshotStarted(T0))
    replay(reg, Timeline(call_id="late").join(0.01).events)  # after QueueStatus was answered
    reg.apply(ev.SnapshotCompleted(T0 + 0.02))
    assert reg.calls["late"].state is CallState.QUEUED
    assert figures(reg)["left_other"] == 0


def test_a_member_added_during_the_snapshot_keeps_its_membership():
    reg = registry()
    reg.apply(ev.SnapshotStarted(T0))
    reg.apply(ev.MemberJoined(T0, member(0, "emergency", H1)))
    reg.apply(ev.SnapshotCompleted(T0))
    assert reg.handlers[H1].state("wrap-up")[0] is HandlerState.READY


def test_memberships_a_pbx_restart_dropped_are_reported_lost_with_their_last_state():
    reg = registry()
    reg.apply(ev.MemberJoined(T0, member(0, "emergency", H1, paused=True, reason="break")))
    reg.apply(ev.MemberJoined(T0, member(0, "emergency", H2)))
    reg.apply(ev.PbxLinkDown(T0 + 1, "eof"))
    reg.apply(ev.PbxLinkDown(T0 + 2, "login refused"))  # a second failure keeps the first picture
    reg.apply(ev.PbxLinkUp(T0 + 3, "22"))
    # The restarted PBX still has H2 (say it was re-added meanwhile) but not H1.
    notices = replay(reg, snapshot(3, ev.MemberSeen(T0 + 3, member(3, "emergency", H2))))
    lost = [n for n in notices if isinstance(n, MembershipsLost)]
    assert [(n.member, sorted(n.lost)) for n in lost] == [(H1, ["emergency"])]
    assert lost[0].lost["emergency"].paused and lost[0].lost["emergency"].paused_reason == "break"
    assert reg.handlers[H1].memberships == {}
    # The next resync without a link loss in between reports nothing.
    assert not [n for n in replay(reg, snapshot(5)) if isinstance(n, MembershipsLost)]


def test_a_channel_whose_hangup_was_missed_is_forgotten_at_the_next_resync_not_held_for_good():
    # Found by tests/fuzz: every lost Hangup left its Newchannel's arrival held until 50,000 more
    # had come; a resync is the PBX's whole truth about which channels live.
    reg = registry()
    reg.apply(ev.ChannelCreated(T0, "gone", "gone", "PJSIP/caller-1-0001", "07700900001"))
    reg.apply(ev.ChannelCreated(T0 + 1, "live", "live", "PJSIP/caller-2-0002", "07700900002"))
    reg.apply(ev.PbxLinkDown(T0 + 2, "lost"))
    reg.apply(ev.SnapshotStarted(T0 + 3))
    reg.apply(ev.ChannelCreated(T0 + 3, "new", "new", "PJSIP/caller-3-0003", "07700900003"))  # during the snapshot
    reg.apply(ev.ChannelSeen(T0 + 3, "live", "live", "PJSIP/caller-2-0002", "07700900002", "", "Answer", "", False, 2))
    reg.apply(ev.SnapshotCompleted(T0 + 3))
    assert list(reg._arrivals) == ["live", "new"]
    t = Timeline(call_id="live", number="07700900002").join(4)
    replay(reg, t.events)
    assert reg.calls["live"].arrived_at == T0 + 1  # what a resync keeps still measures from arrival


def test_a_join_sent_twice_is_one_call_offered_once_and_finished_once():
    # Found by tests/fuzz: the second QueueCallerJoin ended the first as "vanished" (a left call
    # in the figures, a journal record) and started the same call again: settled twice.
    reg = registry()
    t = Timeline().join(0)
    t.events.append(t.events[-1])
    notices = replay(reg, t.ring(1, H1).answer(3, H1, hold=3).complete(20, H1, talk=17).events)
    assert [type(n) for n in notices].count(Finished) == 1
    f = figures(reg)
    assert (f["offered"], f["answered"], f["left_other"]) == (1, 1, 0)


def test_a_join_read_after_its_channels_hangup_starts_no_call():
    # Found by tests/fuzz: a Join moved after the caller's Hangup (the first one lost, or this a
    # duplicate) made a call nobody would ever end, until a resync called it vanished.
    reg = registry()
    replay(reg, Timeline().join(0).abandon(4, hold=4).events)
    notices = replay(reg, Timeline().join(0).events)
    assert notices == [] and reg.calls == {}
    f = figures(reg)
    assert (f["offered"], f["abandoned"], f["waiting"]) == (1, 1, 0)


def test_a_member_the_pbx_does_not_have_is_forgotten_at_the_next_resync():
    # Found by tests/fuzz: an event naming a member no configuration names (a garbled Interface)
    # made a handler that stayed for good: on the wallboard, in /api/handlers and /metrics, and
    # one more in memory for every such frame.
    reg = registry()
    replay(reg, Timeline().join(0).ring(1, "PJSIP/h\x06garbled").ring_out(16, "PJSIP/h\x06garbled", ring=15).events)
    reg.apply(ev.MemberJoined(T0 + 2, member(2, "emergency", "PJSIP/static-9")))  # unconfigured but real
    assert {"PJSIP/h\x06garbled", "PJSIP/static-9"} <= set(reg.handlers)
    replay(reg, snapshot(20, ev.MemberSeen(T0 + 20, member(20, "emergency", "PJSIP/static-9"))))
    assert set(reg.handlers) == {H1, H2, "PJSIP/static-9"}  # the configured ones stay, members or not


def test_a_ring_whose_ring_no_answer_was_lost_ends_at_the_resync_that_shows_the_phone_idle():
    # Found by tests/fuzz: a lost AgentRingNoAnswer (or a garbled Interface in AgentCalled) left
    # the handler "ringing" and the call ringing them until the call ended, whatever the PBX's
    # picture said after a reconnect.
    reg = registry()
    replay(reg, Timeline(call_id="c").join(0).ring(1, H1).events + Timeline(call_id="d").join(1).ring(2, H2).events)
    reg.apply(ev.PbxLinkDown(T0 + 20, "eof"))
    notices = replay(reg, snapshot(
        21,
        ev.MemberSeen(T0 + 21, member(21, "emergency", H1, device=ev.MemberDevice.NOT_INUSE)),
        ev.MemberSeen(T0 + 21, member(21, "emergency", H2, device=ev.MemberDevice.RINGING)),
        ev.WaitingCallSeen(T0 + 21, "c", "emergency", "07700900001", "Caller", 1, 21.0, "PJSIP/caller-1-1"),
        ev.WaitingCallSeen(T0 + 21, "d", "emergency", "07700900001", "Caller", 2, 20.0, "PJSIP/caller-1-2"),
    ))
    assert (reg.calls["c"].state, reg.calls["c"].ringing) == (CallState.QUEUED, set())
    assert reg.handlers[H1].state("wrap-up")[0] is HandlerState.READY
    assert [(n.call.call_id, n.member, n.reason) for n in notices if isinstance(n, RingStopped)] == [("c", H1, "rang-out")]
    assert (reg.calls["d"].state, reg.calls["d"].ringing) == (CallState.RINGING, {H2})  # still ringing: kept


def test_a_call_whose_id_no_record_could_carry_is_not_followed():
    # Found by tests/fuzz: a QueueCallerJoin with a garbled Uniqueid was
    # followed; when it settled its contact record could not be built, the server's event path
    # raised, and the call's journal record, the handler's wrap-up and the notices after it in
    # the same batch were lost.
    reg = registry()
    for bad in ("1700000000.1\x06", "9" * 65, ""):
        assert replay(reg, Timeline(call_id=bad).join(0).ring(1, H1).events) == []
    assert reg.calls == {} and reg.counters.unusable_call_ids == 3
    assert figures(reg)["offered"] == 0
    assert reg.handlers[H1].ringing_for == set()

def test_a_reload_of_the_queues_asks_for_the_pbx_picture_which_then_replaces_the_stale_one():
    reg = registry()
    reg.apply(ev.MemberJoined(T0, member(0, "emergency", H1, device=ev.MemberDevice.UNAVAILABLE)))
    reg.apply(ev.MemberJoined(T0, member(0, "non-emergency", H1, device=ev.MemberDevice.UNAVAILABLE)))
    assert reg.handlers[H1].view("wrap-up")["reason"] == "phone offline"
    assert reg.apply(ev.ModuleReloaded(T0 + 1, "res_pjsip.so", "0")) == []
    (wanted,) = reg.apply(ev.ModuleReloaded(T0 + 2, "app_queue.so", "0"))
    assert isinstance(wanted, ResyncWanted) and "app_queue.so" in wanted.reason
    # queues.conf lost [emergency] and got it back: the reload dropped H1 from it without a word,
    # and read the device states again (H1's phone registered meanwhile).
    replay(reg, snapshot(3, ev.MemberSeen(T0 + 3, member(3, "non-emergency", H1)),
                         ev.MemberSeen(T0 + 3, member(3, "emergency", H2))))
    assert sorted(reg.handlers[H1].memberships) == ["non-emergency"]
    assert reg.handlers[H1].view("wrap-up")["state"] == "ready"
    assert reg.handlers[H2].state("wrap-up")[0] is HandlerState.READY
    # A reload is not a lost link: nobody is put back by intake, the picture just follows.
    assert not [n for n in replay(reg, snapshot(4)) if isinstance(n, MembershipsLost)]


def test_a_static_member_on_a_managed_queue_is_flagged_and_warned_about_once_while_it_lasts():
    reg = registry()
    with structlog.testing.capture_logs() as logs:
        for at in (1, 2):  # the snapshot, then a status change of the same member
            reg.apply(ev.MemberSeen(T0 + at, member(at, "emergency", H1, membership="static")))
        reg.apply(ev.MemberSeen(T0, member(0, "elsewhere", H2, membership="static")))  # a queue on no line
    warned = [e for e in logs if e["event"] == "static_member"]
    assert [(e["member"], e["queue"], e["handler_id"]) for e in warned] == [(H1, "emergency", "h1")]
    assert "member => PJSIP/handler-1" in warned[0]["fix"] and "queues.conf" in warned[0]["fix"]
    assert reg.handlers[H1].view("wrap-up")["static_queues"] == ["emergency"]
    assert reg.handlers[H2].view("wrap-up")["static_queues"] == []
    # queues.conf fixed and reloaded: the flag goes; the line back again warns again.
    replay(reg, snapshot(3, ev.MemberSeen(T0 + 3, member(3, "emergency", H1))))
    assert reg.handlers[H1].view("wrap-up")["static_queues"] == []
    with structlog.testing.capture_logs() as logs:
        replay(reg, snapshot(4, ev.MemberSeen(T0 + 4, member(4, "emergency", H1, membership="static"))))
    assert [e["queue"] for e in logs if e["event"] == "static_member"] == ["emergency"]


def test_a_static_member_a_pbx_restart_unpaused_is_reported_lost_with_its_pause():
    reg = registry()
    reg.apply(ev.MemberSeen(T0, member(0, "emergency", H1, paused=True, reason="meal", membership="static")))
    reg.apply(ev.MemberSeen(T0, member(0, "emergency", H2, membership="static")))  # was ready: nothing to restore
    reg.apply(ev.PbxLinkDown(T0 + 1, "eof"))
    reg.apply(ev.PbxLinkUp(T0 + 3, "22"))
    notices = replay(reg, snapshot(3, ev.MemberSeen(T0 + 3, member(3, "emergency", H1, membership="static")),
                                   ev.MemberSeen(T0 + 3, member(3, "emergency", H2, membership="static"))))
    lost = [n for n in notices if isinstance(n, MembershipsLost)]
    assert [(n.member, n.lost["emergency"].paused_reason) for n in lost] == [(H1, "meal")]
