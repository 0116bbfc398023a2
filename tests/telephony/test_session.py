from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable

import pytest
import structlog

from telephony import actions
from telephony.errors import (
    ActionFailed,
    ActionInterrupted,
    ActionTimeout,
    NotConnected,
    RefusedValue,
    UnsafeActionValue,
)
from telephony.events import (
    CallAnswered,
    CallQueued,
    ChannelSeen,
    DomainEvent,
    MemberSeen,
    ModuleReloaded,
    PbxLinkDown,
    PbxLinkUp,
    SnapshotCompleted,
    SnapshotStarted,
    WaitingCallSeen,
)
from telephony.frames import Frame, encode_frame
from telephony.session import AmiSession
from tests.waiting import patience

from . import samples as s
from .ami_peer import AmiPeer

SNAPSHOT = [PbxLinkUp, SnapshotStarted, MemberSeen, WaitingCallSeen, ChannelSeen, SnapshotCompleted]


class Recorder:
    """on_event for tests: keeps every event, lets a test wait for a condition on them."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []
        self.fail_on: type | None = None
        self._changed = asyncio.Event()

    def __call__(self, event: DomainEvent) -> None:
        self.events.append(event)
        self._changed.set()
        if self.fail_on is not None and isinstance(event, self.fail_on):
            raise RuntimeError("consumer bug")

    def kinds(self) -> list[type]:
        return [type(e) for e in self.events]

    def count(self, kind: type) -> int:
        return sum(isinstance(e, kind) for e in self.events)

    async def wait(self, predicate: Callable[[], bool], timeout: float = 2.0) -> None:
        async def until() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), patience(timeout))


class MaxRng:
    """Jitter that always draws the ceiling: makes the backoff schedule exact."""

    def uniform(self, low: float, high: float) -> float:
        return high


@pytest.fixture
async def peer() -> AsyncIterator[AmiPeer]:
    async with AmiPeer() as p:
        p.queue_status = [s.QUEUE_PARAMS, s.QUEUE_MEMBER, s.QUEUE_ENTRY]
        p.channels = [s.CORE_SHOW_CHANNEL]
        yield p


def samples_era() -> Callable[[], float]:
    """A local clock that starts now at the samples' own time (November 2023), so that their
    Timestamps are as believable to the session as a live PBX's are, however late in a long run
    the test comes."""
    started = time.time()
    return lambda: float(s.TS) + (time.time() - started)


def make_session(peer: AmiPeer, recorder: Recorder, **overrides: object) -> AmiSession:
    options: dict[str, object] = {"ping_interval": 5.0, "ping_timeout": 0.2, "action_timeout": 0.5, "backoff_initial": 0.01, "backoff_max": 0.05,
                                      "local_clock": samples_era()}
    options.update(overrides)
    return AmiSession("127.0.0.1", peer.port, "intake", "s3cret", on_event=recorder, **options)  # type: ignore[arg-type]


@pytest.fixture
async def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def session(peer: AmiPeer, recorder: Recorder) -> AsyncIterator[AmiSession]:
    sess = make_session(peer, recorder)
    sess.start()
    await recorder.wait(lambda: SnapshotCompleted in recorder.kinds())
    yield sess
    await sess.stop()


async def test_login_is_followed_by_link_up_and_one_snapshot_then_live_events(session: AmiSession, peer: AmiPeer, recorder: Recorder) -> None:
    assert session.connected and session.version == "11.0.0"
    peer.emit(s.QUEUE_CALLER_JOIN)
    await recorder.wait(lambda: recorder.count(CallQueued) == 1)
    # The FullyBooted that greets a new session is covered by the login snapshot: no second one.
    assert recorder.kinds() == [*SNAPSHOT, CallQueued]
    call = recorder.events[-1]
    assert isinstance(call, CallQueued) and call.caller_name == "Zoë Ångström" and call.at == 1700000000.123456
    assert peer.logins == 1


async def test_snapshot_items_without_timestamp_get_the_pbx_clock_estimate(session: AmiSession, recorder: Recorder) -> None:
    (seen,) = [e for e in recorder.events if isinstance(e, WaitingCallSeen)]
    assert abs(seen.at - session.pbx_now()) < 5


async def test_an_exception_in_on_event_is_counted_and_the_session_carries_on(session: AmiSession, peer: AmiPeer, recorder: Recorder) -> None:
    recorder.fail_on = CallQueued
    peer.emit(s.QUEUE_CALLER_JOIN)
    peer.emit(s.AGENT_CALLED)
    await recorder.wait(lambda: len(recorder.events) == len(SNAPSHOT) + 2)
    assert session.connected
    assert session.counters.callback_errors == 1


async def test_a_malformed_event_is_counted_and_the_next_event_still_arrives(session: AmiSession, peer: AmiPeer, recorder: Recorder) -> None:
    before = session.counters  # the snapshot's QueueParams already counts as unknown
    peer.emit({**s.QUEUE_CALLER_JOIN, "Position": "first"})
    peer.emit({"Event": "VarSet", "Variable": "X", "Value": "1"})
    peer.emit(s.QUEUE_CALLER_JOIN)
    await recorder.wait(lambda: recorder.count(CallQueued) == 1)
    after = session.counters
    assert after.malformed_frames - before.malformed_frames == 1
    assert after.unknown_events - before.unknown_events == 1


async def test_a_frame_split_across_writes_inside_a_utf8_character_arrives_whole(session: AmiSession, peer: AmiPeer, recorder: Recorder) -> None:
    wire = encode_frame(s.QUEUE_CALLER_JOIN)
    cut = wire.index("ë".encode()) + 1  # between the two bytes of ë
    peer.emit(wire[:cut])
    await asyncio.sleep(0.02)
    peer.emit(wire[cut:])
    await recorder.wait(lambda: recorder.count(CallQueued) == 1)
    assert recorder.events[-1].caller_name == "Zoë Ångström"  # type: ignore[union-attr]


async def test_a_ping_timeout_reconnects_with_link_down_link_up_and_a_new_snapshot(peer: AmiPeer, recorder: Recorder) -> None:
    session = make_session(peer, recorder, ping_interval=0.05, ping_timeout=0.1)
    session.start()
    try:
        await recorder.wait(lambda: SnapshotCompleted in recorder.kinds())
        peer.go_silent()  # socket stays open, nothing answers: only the watchdog can tell
        await recorder.wait(lambda: recorder.count(SnapshotCompleted) == 2)
        assert recorder.kinds() == [*SNAPSHOT, PbxLinkDown, *SNAPSHOT]
        down = recorder.events[len(SNAPSHOT)]
        assert isinstance(down, PbxLinkDown) and "Ping" in down.reason
        assert peer.connections == 2 and session.counters.reconnects == 1
    finally:
        await session.stop()


async def test_a_dropped_connection_reconnects_and_resyncs(session: AmiSession, peer: AmiPeer, recorder: Recorder) -> None:
    peer.drop()
    await recorder.wait(lambda: recorder.count(SnapshotCompleted) == 2)
    assert recorder.kinds() == [*SNAPSHOT, PbxLinkDown, *SNAPSHOT]


async def test_a_later_fully_booted_means_a_restarted_pbx_and_triggers_a_resync(session: AmiSession, peer: AmiPeer, recorder: Recorder) -> None:
    peer.emit({"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted", "Timestamp": s.TS})
    await recorder.wait(lambda: recorder.count(SnapshotCompleted) == 2)
    assert recorder.kinds() == SNAPSHOT + SNAPSHOT


async def test_an_unanswered_action_times_out_and_the_link_stays_up(session: AmiSession, peer: AmiPeer) -> None:
    peer.handlers["QueueAdd"] = lambda frame: None
    with pytest.raises(ActionTimeout) as caught:
        await session.send(actions.queue_add("999", "PJSIP/handler-1"), timeout=0.05)
    assert caught.value.action == "QueueAdd"
    assert session.connected and session.counters.actions_timed_out == 1


async def test_an_error_response_raises_action_failed_with_the_pbx_message(session: AmiSession, peer: AmiPeer) -> None:
    peer.handlers["QueueAdd"] = lambda frame: [encode_frame({"Response": "Error", "ActionID": frame["ActionID"], "Message": "Unable to add interface: Already there"})]
    with pytest.raises(ActionFailed) as caught:
        await session.send(actions.queue_add("999", "PJSIP/handler-1"))
    assert "Already there" in caught.value.message


async def test_a_list_action_answers_with_its_collected_events(session: AmiSession) -> None:
    response = await session.send(actions.queue_status())
    assert [e["Event"] for e in response.events] == ["QueueParams", "QueueMember", "QueueEntry"]


async def test_sending_without_a_session_raises_not_connected(peer: AmiPeer, recorder: Recorder) -> None:
    session = make_session(peer, recorder)
    with pytest.raises(NotConnected):
        await session.send(actions.ping())


async def test_a_refused_login_is_retried_and_never_links_up_until_accepted(peer: AmiPeer, recorder: Recorder) -> None:
    # The schedule itself (ever more slowly, up to the cap, reset by a login) is tested by table
    # in test_connection.py, on a clock of its own.
    peer.refuse_logins = True
    session = make_session(peer, recorder, backoff_initial=0.01, backoff_max=0.04, rng=MaxRng())
    session.start()
    try:
        await peer.wait_for(lambda: peer.login_attempts >= 3, patience(2))
        assert not session.connected and recorder.events == []
        assert session.counters.reconnects >= 2
        peer.refuse_logins = False
        await recorder.wait(lambda: SnapshotCompleted in recorder.kinds())
    finally:
        await session.stop()


async def test_stop_logs_off_and_reports_the_link_down(peer: AmiPeer, recorder: Recorder) -> None:
    session = make_session(peer, recorder)
    session.start()
    await recorder.wait(lambda: SnapshotCompleted in recorder.kinds())
    await session.stop()
    assert peer.actions("Logoff")
    assert isinstance(recorder.events[-1], PbxLinkDown) and recorder.events[-1].reason == "stopped"
    assert not session.connected


async def test_events_in_the_same_read_as_the_login_response_come_after_link_up(peer: AmiPeer, recorder: Recorder) -> None:
    peer.handlers["Login"] = lambda frame: [
        encode_frame({"Response": "Success", "ActionID": frame["ActionID"], "Message": "Authentication accepted"})
        + encode_frame(s.QUEUE_CALLER_JOIN)
    ]
    session = make_session(peer, recorder)
    session.start()
    try:
        await recorder.wait(lambda: SnapshotCompleted in recorder.kinds())
        assert recorder.kinds()[:3] == [PbxLinkUp, SnapshotStarted, CallQueued]
    finally:
        await session.stop()


async def test_an_action_cut_off_by_a_dropped_link_raises_action_interrupted(session: AmiSession, peer: AmiPeer) -> None:
    def drop_instead(frame: Frame) -> None:
        peer.drop()

    peer.handlers["Redirect"] = drop_instead
    with pytest.raises(ActionInterrupted):
        await session.send(actions.redirect("PJSIP/trunk-00000029", "overflow", "101"))


async def test_an_oversized_frame_is_counted_and_the_next_event_still_arrives(peer: AmiPeer, recorder: Recorder) -> None:
    session = make_session(peer, recorder, max_frame=4096)
    session.start()
    try:
        await recorder.wait(lambda: SnapshotCompleted in recorder.kinds())
        peer.emit({"Event": "Huge", "Output": "x" * 20000})
        peer.emit(s.QUEUE_CALLER_JOIN)
        await recorder.wait(lambda: recorder.count(CallQueued) == 1)
        assert session.counters.oversized_frames == 1 and session.connected
    finally:
        await session.stop()


async def test_a_pbx_still_starting_defers_the_resync_to_its_fully_booted_instead_of_reconnecting(recorder: Recorder) -> None:
    """Asterisk accepts AMI logins before app_queue is loaded: QueueStatus is then an unknown
    command. Seen at every restart of the real test PBX; the session used to drop the link and
    reconnect in a tight loop. It now waits for FullyBooted and resyncs then."""
    async with AmiPeer(fully_booted=False) as peer:
        peer.handlers["QueueStatus"] = lambda frame: [encode_frame({
            "Response": "Error", "ActionID": frame["ActionID"],
            "Message": "Invalid/unknown command: QueueStatus. Use Action: ListCommands to show available commands."})]
        session = AmiSession("127.0.0.1", peer.port, peer.username, peer.secret, on_event=recorder, backoff_initial=0.01)
        session.start()
        try:
            await peer.wait_for(lambda: len(peer.actions("QueueStatus")) == 1)
            await asyncio.sleep(0.1)
            assert session.connected and peer.connections == 1 and session.counters.reconnects == 0
            assert recorder.count(SnapshotCompleted) == 0
            del peer.handlers["QueueStatus"]  # app_queue is in now
            peer.emit({"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted", "Timestamp": s.TS})
            await recorder.wait(lambda: recorder.count(SnapshotCompleted) == 1)
            assert peer.connections == 1
        finally:
            await session.stop()


async def test_a_queue_reload_is_followed_by_the_pbx_picture_again_when_the_consumer_asks(peer: AmiPeer, recorder: Recorder) -> None:
    # The picture changed at the PBX with no member event (a reload of queues.conf): the consumer
    # learns it from the snapshot it asks for on the Reload.
    session = make_session(peer, lambda e: (recorder(e), isinstance(e, ModuleReloaded) and e.queues_reloaded
                                            and session.resync("reload")))  # type: ignore[arg-type]
    session.start()
    try:
        await recorder.wait(lambda: SnapshotCompleted in recorder.kinds())
        peer.queue_status = [s.QUEUE_PARAMS, {**s.QUEUE_MEMBER, "Location": "PJSIP/handler-2"}]
        peer.emit({**s.RELOAD, "Module": "res_pjsip.so"})  # not the queues: nothing to read again
        peer.emit(s.RELOAD)
        await recorder.wait(lambda: recorder.count(SnapshotCompleted) == 2)
        assert recorder.kinds() == [*SNAPSHOT, ModuleReloaded, ModuleReloaded, PbxLinkUp, SnapshotStarted, MemberSeen,
                                    ChannelSeen, SnapshotCompleted]
        (seen,) = [e for e in recorder.events[len(SNAPSHOT):] if isinstance(e, MemberSeen)]
        assert seen.state.member == "PJSIP/handler-2"
        assert sum(f.get("Action") == "QueueStatus" for f in peer.received) == 2 and peer.logins == 1
    finally:
        await session.stop()


async def test_resync_requests_made_together_share_one_snapshot_and_none_is_made_without_a_link(peer: AmiPeer, recorder: Recorder) -> None:
    session = make_session(peer, recorder)
    assert session.resync("before login") is False
    session.start()
    try:
        await recorder.wait(lambda: SnapshotCompleted in recorder.kinds())
        assert session.resync("QueuePause refused") and session.resync("QueueRemove refused")
        await recorder.wait(lambda: recorder.count(SnapshotCompleted) == 2)
        peer.emit(s.QUEUE_CALLER_JOIN)  # after the second snapshot, in order: no third one came between
        await recorder.wait(lambda: recorder.count(CallQueued) == 1)
        assert recorder.count(SnapshotStarted) == 2
    finally:
        await session.stop()


# --- the PBX's Timestamp at the edge -----------------------------------------------------------


def stamped_now(fields: dict[str, str], offset: float = 0.0) -> dict[str, str]:
    """A sample frame stamped with the real clock (the sessions below check it against ours)."""
    return {**fields, "Timestamp": f"{time.time() + offset:.6f}"}


@pytest.fixture
async def live_session(peer: AmiPeer, recorder: Recorder) -> AsyncIterator[AmiSession]:
    """A session on the real local clock with the shipped skew (300 s)."""
    sess = AmiSession("127.0.0.1", peer.port, "intake", "s3cret", on_event=recorder, ping_interval=5.0, ping_timeout=0.2,
                      action_timeout=0.5, backoff_initial=0.01, backoff_max=0.05)
    sess.start()
    await recorder.wait(lambda: SnapshotCompleted in recorder.kinds())
    yield sess
    await sess.stop()


@pytest.mark.parametrize("stamp", ["inf", "-inf", "nan", "1e300", "-5", "yesterday", "year-ahead"])
async def test_an_absurd_timestamp_gives_the_event_our_clocks_estimate_and_never_moves_the_pbx_clock(
        live_session: AmiSession, peer: AmiPeer, recorder: Recorder, stamp: str) -> None:
    peer.emit(stamped_now(s.AGENT_CALLED, offset=1.0))  # the PBX runs 1 s ahead of us
    if stamp == "year-ahead":
        stamp = f"{time.time() + 366 * 86400:.6f}"
    peer.emit({**s.QUEUE_CALLER_JOIN, "Timestamp": stamp})
    peer.emit(stamped_now(s.AGENT_CONNECT, offset=1.0))
    await recorder.wait(lambda: recorder.count(CallAnswered) == 1)
    (queued,) = [e for e in recorder.events if isinstance(e, CallQueued)]  # kept, not dropped
    assert math.isfinite(queued.at) and abs(queued.at - (time.time() + 1.0)) < 30
    assert abs(live_session.pbx_now() - (time.time() + 1.0)) < 30
    counters = live_session.counters
    assert counters.bad_timestamps == 1 and counters.malformed_frames == 0


async def test_a_flood_of_bad_timestamps_is_counted_per_frame_and_logged_once(live_session: AmiSession, peer: AmiPeer,
                                                                             recorder: Recorder) -> None:
    with structlog.testing.capture_logs() as logs:
        peer.emit(b"".join(encode_frame({**s.QUEUE_CALLER_JOIN, "Timestamp": "inf", "Uniqueid": f"1.{i}"}) for i in range(200)))
        await recorder.wait(lambda: recorder.count(CallQueued) == 200)
    assert live_session.counters.bad_timestamps == 200
    warned = [entry for entry in logs if "timestamp" in entry["event"]]
    assert len(warned) == 1 and warned[0]["timestamp"] == "inf" and warned[0]["ami_event"] == "QueueCallerJoin"


async def test_a_flood_of_malformed_events_is_counted_per_frame_and_logged_once(live_session: AmiSession, peer: AmiPeer,
                                                                               recorder: Recorder) -> None:
    with structlog.testing.capture_logs() as logs:
        peer.emit(b"".join(encode_frame({**stamped_now(s.AGENT_CONNECT), "HoldTime": "-1", "Uniqueid": f"1.{i}"})
                           for i in range(200)))
        peer.emit(stamped_now(s.QUEUE_CALLER_JOIN))  # read after the flood: every frame of it was handled
        await recorder.wait(lambda: recorder.count(CallQueued) == 1)
    assert live_session.counters.malformed_frames == 200
    warned = [entry for entry in logs if entry["event"] == "ami malformed event"]
    assert len(warned) == 1 and warned[0]["field"] == "HoldTime" and warned[0]["malformed_frames"] == 1


# --- pending actions never outlive their answer --------------------------------------------------


async def test_an_action_refused_before_it_is_sent_leaves_nothing_pending(session: AmiSession, peer: AmiPeer) -> None:
    bad = (("Interface", "PJSIP/handler-1"), ("Reason", "lunch\r\nAction: Originate"))
    with pytest.raises(RefusedValue):  # the builder's check (telephony/values.py) stops it first...
        actions.Action("QueuePause", bad)
    injected = actions.queue_pause("PJSIP/handler-1", True, reason="lunch")
    object.__setattr__(injected, "fields", bad)  # ...so past it by force: the wire's own guard is the last
    with pytest.raises(UnsafeActionValue):
        await session.send(injected)
    assert session.pending_actions == 0
    assert not peer.actions("QueuePause") and not peer.actions("Originate")
    await session.send(actions.ping())  # the link is as good as before
    assert session.pending_actions == 0


async def test_an_action_whose_caller_gives_up_leaves_nothing_pending(session: AmiSession, peer: AmiPeer) -> None:
    peer.handlers["QueueAdd"] = lambda frame: None  # never answered
    waiting = asyncio.create_task(session.send(actions.queue_add("999", "PJSIP/handler-1"), timeout=30))
    await peer.wait_for(lambda: bool(peer.actions("QueueAdd")), patience(2))
    assert session.pending_actions == 1
    waiting.cancel()  # e.g. the HTTP request behind it was dropped
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert session.pending_actions == 0


@pytest.mark.parametrize("outcome", ["error", "timeout", "success"])
async def test_every_answered_failed_or_timed_out_action_leaves_nothing_pending(session: AmiSession, peer: AmiPeer,
                                                                               outcome: str) -> None:
    if outcome == "error":  # e.g. an Originate refused: its OriginateResponse will never come
        peer.handlers["Originate"] = lambda frame: [encode_frame({"Response": "Error", "ActionID": frame["ActionID"],
                                                                  "Message": "Originate failed"})]
    elif outcome == "timeout":
        peer.handlers["Originate"] = lambda frame: None
    with contextlib.suppress(ActionFailed, ActionTimeout):
        await session.send(actions.originate("PJSIP/handler-1", "callback", "07700900123"), timeout=0.1)
    assert session.pending_actions == 0


async def test_a_flood_of_blank_and_junk_frames_is_counted_and_the_next_event_still_arrives(session: AmiSession, peer: AmiPeer,
                                                                                          recorder: Recorder) -> None:
    before = session.counters
    peer.emit(b"\r\n\r\n" * 16384 + b"junk\r\n\r\n" * 100)  # 64 KiB of nothing, then junk
    peer.emit(s.QUEUE_CALLER_JOIN)
    await recorder.wait(lambda: recorder.count(CallQueued) == 1)
    after = session.counters
    assert (after.blank_frames, after.garbled_frames) == (16384, 100)
    assert after.frames - before.frames == 1 and after.bad_lines == 0 and session.connected
