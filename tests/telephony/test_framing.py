from __future__ import annotations

import pytest

from telephony.errors import FrameTooLarge
from telephony.frames import Frame, encode_frame
from telephony.framing import FrameReader

from . import samples as s

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
FRAMES = [s.QUEUE_CALLER_JOIN, s.AGENT_CALLED, {"Response": "Success", "ActionID": "a1", "Message": "Pong"}, s.AGENT_CONNECT]
STREAM = BANNER + b"".join(encode_frame(f) for f in FRAMES)


def feed_all(reader: FrameReader, *chunks: bytes) -> list[Frame]:
    return [frame for chunk in chunks for frame in reader.feed(chunk)]


def test_a_stream_split_at_every_byte_position_yields_identical_frames() -> None:
    assert "Zoë Ångström".encode() in STREAM  # multi-byte UTF-8 is in there to be cut through
    for cut in range(len(STREAM) + 1):
        reader = FrameReader()
        frames = feed_all(reader, STREAM[:cut], STREAM[cut:])
        assert [dict(f) for f in frames] == FRAMES, f"cut at byte {cut}"
        assert reader.version == "11.0.0"
        assert reader.buffered == 0


def test_a_stream_fed_one_byte_at_a_time_yields_identical_frames() -> None:
    reader = FrameReader()
    frames = feed_all(reader, *(STREAM[i : i + 1] for i in range(len(STREAM))))
    assert [dict(f) for f in frames] == FRAMES


def test_the_banner_version_is_exposed_and_the_banner_is_not_a_frame() -> None:
    reader = FrameReader()
    assert reader.feed(b"Asterisk Call Manager/9.1.2\r\n") == []
    assert reader.version == "9.1.2"


def test_a_peer_without_a_banner_still_has_its_frames_read() -> None:
    reader = FrameReader()
    assert [dict(f) for f in reader.feed(encode_frame({"Event": "FullyBooted"}))] == [{"Event": "FullyBooted"}]
    assert reader.version is None


def test_bytes_that_are_not_utf8_are_replaced_and_the_frame_kept() -> None:
    reader = FrameReader(expect_banner=False)
    (frame,) = reader.feed(b"Event: Newchannel\r\nCallerIDName: Ren\xe9e\r\n\r\n")
    assert frame["CallerIDName"] == "Ren\ufffde"


def test_an_oversized_frame_is_recorded_and_the_next_frame_still_arrives() -> None:
    reader = FrameReader(max_frame=1024, expect_banner=False)
    big = encode_frame({"Event": "Huge", "Output": "x" * 5000})
    after = encode_frame({"Event": "After"})
    frames = feed_all(reader, big + after)
    assert [f["Event"] for f in frames] == ["After"]
    (error,) = reader.take_errors()
    assert isinstance(error, FrameTooLarge)
    assert error.limit == 1024 and error.size > 1024
    assert reader.take_errors() == []


def test_an_oversized_frame_arriving_in_pieces_is_skipped_without_buffering_it() -> None:
    reader = FrameReader(max_frame=1024, expect_banner=False)
    stream = encode_frame({"Event": "Huge", "Output": "x" * 5000}) + encode_frame({"Event": "After"})
    frames = feed_all(reader, *(stream[i : i + 100] for i in range(0, len(stream), 100)))
    assert [f["Event"] for f in frames] == ["After"]
    assert reader.oversized == 1
    assert reader.buffered < 1024


@pytest.mark.parametrize("cut", range(1, 4))
def test_a_terminator_cut_while_skipping_an_oversized_frame_is_still_found(cut: int) -> None:
    reader = FrameReader(max_frame=16, expect_banner=False)
    head = b"Event: Huge\r\nOutput: " + b"y" * 64 + b"\r\n\r\n"
    split = len(head) - 4 + cut
    frames = feed_all(reader, head[:split], head[split:] + b"Event: After\r\n\r\n")
    assert [f["Event"] for f in frames] == ["After"]


def test_lines_that_are_not_key_value_are_counted_and_the_frame_kept() -> None:
    reader = FrameReader(expect_banner=False)
    (frame,) = reader.feed(b"Event: Odd\r\nthis is not a field\r\nQueue: 999\r\n\r\n")
    assert frame.bad_lines == 1
    assert dict(frame) == {"Event": "Odd", "Queue": "999"}


def test_repeated_keys_keep_every_value_in_order() -> None:
    reader = FrameReader(expect_banner=False)
    (frame,) = reader.feed(b"Response: Success\r\nOutput: one\r\nOutput: two\r\n\r\n")
    assert frame["Output"] == "one"
    assert frame.values("Output") == ["one", "two"]


def test_a_peer_using_bare_newlines_is_split_on_blank_lines() -> None:
    reader = FrameReader()
    frames = reader.feed(b"Asterisk Call Manager/11.0.0\nEvent: A\nQueue: 999\n\nEvent: B\n\n")
    assert [dict(f) for f in frames] == [{"Event": "A", "Queue": "999"}, {"Event": "B"}]


READ = 64 * 1024


@pytest.mark.parametrize(("unit", "counter"), [
    (b"\r\n\r\n", "blank"), (b"\r\n", "blank"), (b" \r\n\r\n", "blank"), (b"\t \r\n \r\n\r\n", "blank"),
    (b"x\r\n\r\n", "garbled"), (b"not a field\r\nnor this\r\n\r\n", "garbled"),
], ids=["empty", "crlf", "space", "blank-lines", "one-char", "junk-lines"])
def test_a_read_full_of_frames_without_a_field_is_dropped_without_parsing_any(unit: bytes, counter: str) -> None:
    """A flood of nothing (or of junk) costs the loop a few C-level passes over the read, not a
    parse per frame (it once cost 30-60 ms per 64 KiB read: one frame parsed every few bytes)."""
    reader = FrameReader(expect_banner=False)
    flood = unit * (READ // len(unit))
    frames = feed_all(reader, flood, encode_frame(s.QUEUE_CALLER_JOIN), flood)
    assert [dict(f) for f in frames] == [s.QUEUE_CALLER_JOIN]
    assert reader.parsed == 1  # the work done: one frame parsed, the only one with a field in it
    assert getattr(reader, counter) >= READ // 16 and reader.buffered <= len(unit)
    assert reader.blank + reader.garbled == getattr(reader, counter)  # counted as one or the other, not both


def test_fieldless_frames_are_counted_and_a_frame_after_blank_lines_is_still_read() -> None:
    reader = FrameReader(expect_banner=False)
    frames = reader.feed(b"\r\n\r\n \r\n\r\njunk\r\n\r\n\r\n" + encode_frame(s.AGENT_CALLED))
    assert [dict(f) for f in frames] == [s.AGENT_CALLED]
    assert (reader.blank, reader.garbled, reader.parsed) == (2, 1, 1)


# --- events intake does not use: dropped on their name, unparsed, and counted ---------------------

WANTED = ("Hangup", "AgentCalled")
DROP_TABLE = [
    # (frames in one read, the Events handed on, passed over)
    ([{"Event": "Hangup", "Uniqueid": "1"}, {"Event": "VarSet", "Variable": "X"}], ["Hangup"], 1),
    # a name that only starts like a wanted one is another event
    ([{"Event": "HangupRequest", "Uniqueid": "1"}, {"Event": "AgentCalledX"}], [], 2),
    # an unwanted event that answers an action (a list's end) is kept, beside one that does not
    ([{"Event": "Newstate"}, {"Event": "QueueStatusComplete", "ActionID": "a1", "EventList": "Complete"},
      {"Event": "Hangup", "Uniqueid": "2"}], ["QueueStatusComplete", "Hangup"], 1),
    # responses have no Event line; a frame whose Event is not its first line is not judged by it
    ([{"Response": "Success", "ActionID": "a2"}, {"Privilege": "call,all", "Event": "VarSet"}], [None, "VarSet"], 0),
    ([{"Event": "Hangup"}], ["Hangup"], 0),  # one line: the name runs to the terminator
]


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
@pytest.mark.parametrize(("frames", "events", "passed_over"), DROP_TABLE)
def test_unwanted_events_are_dropped_on_their_name_and_counted(eol: str, frames: list[dict[str, str]],
                                                                events: list[str | None], passed_over: int) -> None:
    banner = f"Asterisk Call Manager/11.0.0{eol}"
    wire = banner + "".join(eol.join(f"{k}: {v}" for k, v in f.items()) + eol + eol for f in frames)
    reader = FrameReader(wanted=WANTED)
    got = reader.feed(wire.encode())
    assert [f.get("Event") for f in got] == events
    assert reader.passed_over == passed_over
    assert reader.parsed == len(events)
