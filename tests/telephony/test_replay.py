"""Real Asterisk 22 byte streams (recorded by scripts/record_ami.py on the test PBX) replayed
through FrameReader + translate, checked against the PBX's own queue_log of the same run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from telephony.errors import MalformedFrame
from telephony.events import ChannelSeen, MemberChanged, WaitingCallSeen
from telephony.framing import FrameReader
from telephony.translate import translate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ami"
RECORDINGS = sorted(FIXTURES.glob("*.ami"))

# queue_log verb -> the domain event the same moment must produce.
EXPECTED_FROM_QUEUE_LOG = {
    "ENTERQUEUE": "CallQueued",
    "CONNECT": "CallAnswered",
    "ABANDON": "CallAbandoned",
    "RINGNOANSWER": "HandlerRingNoAnswer",
    "COMPLETECALLER": "CallCompleted",
    "COMPLETEAGENT": "CallCompleted",
    "ADDMEMBER": "MemberJoined",
    "REMOVEMEMBER": "MemberLeft",
}


def expected_events(queue_log: Path) -> Counter[str]:
    verbs = (line.split("|")[4] for line in queue_log.read_text().splitlines() if line.count("|") >= 4)
    return Counter(EXPECTED_FROM_QUEUE_LOG[v] for v in verbs if v in EXPECTED_FROM_QUEUE_LOG)


def replay(data: bytes, chunk: int) -> tuple[Counter[str], list[MalformedFrame], FrameReader]:
    reader = FrameReader()
    events: Counter[str] = Counter()
    malformed: list[MalformedFrame] = []
    for start in range(0, len(data), chunk):
        for frame in reader.feed(data[start : start + chunk]):
            try:
                event = translate(frame, 0.0)
            except MalformedFrame as bad:
                malformed.append(bad)
                continue
            if event is not None:
                events[type(event).__name__] += 1
    return events, malformed, reader


@pytest.mark.skipif(not RECORDINGS, reason="no recordings in tests/fixtures/ami yet (branch pbx)")
@pytest.mark.parametrize("recording", RECORDINGS, ids=[r.stem for r in RECORDINGS])
@pytest.mark.parametrize("chunk", [1, 7, 1500, 1 << 20])
def test_a_recorded_stream_translates_without_malformed_frames_and_matches_the_queue_log(recording: Path, chunk: int) -> None:
    events, malformed, reader = replay(recording.read_bytes(), chunk)
    assert malformed == []
    assert reader.version is not None and reader.buffered == 0 and reader.oversized == 0
    queue_log = recording.with_suffix(".queue_log")
    if queue_log.exists():
        for kind, count in expected_events(queue_log).items():
            assert events[kind] >= count, f"{kind}: {events[kind]} translated, queue_log says {count}"


def translated(name: str) -> list[object]:
    reader = FrameReader()
    return [e for f in reader.feed((FIXTURES / f"{name}.ami").read_bytes()) if (e := translate(f, 0.0)) is not None]


@pytest.mark.skipif(not (FIXTURES / "resync.ami").exists(), reason="resync recording not present")
def test_the_recorded_resync_shows_the_waiting_call_and_the_connected_call_bridged() -> None:
    events = translated("resync")
    waiting = [e for e in events if isinstance(e, WaitingCallSeen)]
    in_queue = [e for e in events if isinstance(e, ChannelSeen) and e.queue == "emergency"]
    assert len(waiting) == 1 and waiting[0].queue == "emergency"
    assert sorted(c.bridged for c in in_queue) == [False, True]  # B waits, A is connected
    assert {c.channel_id for c in in_queue if not c.bridged} == {waiting[0].call_id}


@pytest.mark.skipif(not (FIXTURES / "member_states.ami").exists(), reason="member_states recording not present")
def test_the_recorded_member_states_show_the_pause_reason_and_the_penalty() -> None:
    states = [e.state for e in translated("member_states") if isinstance(e, MemberChanged)]
    assert any(s.paused and s.paused_reason == "wrap-up" for s in states)
    assert any(s.penalty == 2 for s in states)
