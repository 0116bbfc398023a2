"""Real Asterisk 22 streams replayed through parser, translator and registry: our figures agree
with the PBX's own queue_log of the same run, call by call."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from intake.core.registry import Registry, Ringing
from telephony import events as ev
from telephony.framing import FrameReader
from telephony.translate import translate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ami"
QUEUES = {"emergency": ("999", 12.0), "non-emergency": ("101", 60.0)}
MEMBERS = {f"PJSIP/handler-{n}": (f"h{n}", f"handler-{n}") for n in (1, 2, 3, 4)}
SCENARIOS = ["answered", "abandoned_waiting", "abandoned_ringing", "abandoned_ringing_101",
             "ringnoanswer_then_other", "resync", "both_lines"]
LIST_EVENTS = {"QueueParams", "QueueMember", "QueueEntry", "QueueStatusComplete", "CoreShowChannel", "CoreShowChannelsComplete"}


def frames(name: str) -> list:
    reader = FrameReader()
    return [f for f in reader.feed((FIXTURES / f"{name}.ami").read_bytes()) if f.event]


def queue_log(name: str) -> list[list[str]]:
    return [line.split("|") for line in (FIXTURES / f"{name}.queue_log").read_text().splitlines()]


def registry() -> Registry:
    return Registry(QUEUES, handlers=MEMBERS)


def feed(reg: Registry, name: str) -> list[object]:
    notices: list[object] = []
    last = 0.0
    for frame in frames(name):
        if frame.event in LIST_EVENTS:
            continue  # replies to the recorder's own actions: see the resync test
        event = translate(frame, last)
        if event is None:
            continue
        last = event.at
        notices += reg.apply(event)
    notices += reg.tick(last + 10)
    return notices


@pytest.mark.parametrize("name", SCENARIOS)
def test_counts_per_queue_equal_the_queue_log(name: str):
    reg = registry()
    feed(reg, name)
    verbs = Counter((row[2], row[4]) for row in queue_log(name))
    report = reg.report()["queues"]
    for queue in QUEUES:
        assert report[queue]["offered"] == verbs[(queue, "ENTERQUEUE")], queue
        assert report[queue]["answered"] == verbs[(queue, "CONNECT")], queue
        assert report[queue]["abandoned"] == verbs[(queue, "ABANDON")], queue
        assert report[queue]["left_other"] == 0
        assert report[queue]["waiting"] == 0
    assert reg.calls == {}
    assert reg.counters.illegal_transitions == 0


@pytest.mark.parametrize("name", ["answered", "ringnoanswer_then_other", "both_lines", "resync"])
def test_every_answer_time_agrees_with_the_queue_logs_connect_holdtime(name: str):
    reg = registry()
    answered = {}
    orig = reg.metrics.settled

    def spy(call):
        if call.answered_at is not None:
            answered[call.call_id] = call.waited(call.answered_at)
        orig(call)

    reg.metrics.settled = spy  # type: ignore[method-assign]
    feed(reg, name)
    connects = {row[1]: float(row[5]) for row in queue_log(name) if row[4] == "CONNECT"}
    assert set(answered) == set(connects)
    for call_id, hold in connects.items():
        assert abs(answered[call_id] - hold) <= 1.0, (call_id, answered[call_id], hold)


def test_ring_no_answer_pops_both_handlers_and_the_second_answers():
    reg = registry()
    notices = feed(reg, "ringnoanswer_then_other")
    assert [n.member for n in notices if isinstance(n, Ringing)] == ["PJSIP/handler-1", "PJSIP/handler-2"]
    assert reg.report()["lines"]["999"]["from_queue_entry"]["answered_within_target"] == 0


def test_handler_in_both_queues_gets_the_999_call_first():
    reg = registry()
    notices = feed(reg, "both_lines")
    rung = [reg_queue for reg_queue in (n.call.queue for n in notices if isinstance(n, Ringing))]
    assert rung[0] == "emergency"


def test_intake_started_mid_call_learns_the_picture_from_the_snapshot():
    """Start watching at the resync: a connected call and a waiting one are learned from
    QueueStatus and CoreShowChannels, and what follows settles them without double counting."""
    reg = registry()
    all_frames = frames("resync")
    first_list = next(i for i, f in enumerate(all_frames) if f.event in LIST_EVENTS)
    last_list = max(i for i, f in enumerate(all_frames) if f.event in LIST_EVENTS)
    now = float(all_frames[first_list - 1]["Timestamp"])
    reg.apply(ev.SnapshotStarted(now))
    for frame in all_frames[first_list : last_list + 1]:
        event = translate(frame, now)
        if event is not None:
            reg.apply(event)
    reg.apply(ev.SnapshotCompleted(now))
    log = queue_log("resync")
    connected = next(row[1] for row in log if row[4] == "CONNECT")
    waiting = next(row[1] for row in log if row[4] == "ABANDON")
    states = {c.call_id: c.state.value for c in reg.calls.values()}
    assert states == {connected: "answered", waiting: "queued"}
    assert reg.handlers["PJSIP/handler-1"].on_call == connected
    assert reg.report(now)["queues"]["emergency"]["waiting"] == 1
    for frame in all_frames[last_list + 1 :]:
        event = translate(frame, now)
        if event is not None:
            reg.apply(event)
    q = reg.report()["queues"]["emergency"]
    # The waiting call was offered on our watch and abandoned; the connected one predates us.
    assert (q["offered"], q["answered"], q["abandoned"]) == (1, 0, 1)
    assert reg.calls == {} and reg.counters.illegal_transitions == 0
