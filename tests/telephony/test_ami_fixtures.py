"""The recorded AMI streams are what the parser and registry tests replay: check they are whole.

Each must start with the AMI banner, consist of complete frames, hold the Login response and
at least one queue event, and never contain an AMI secret (only sent, never received)."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ami"
RECORDINGS = sorted(FIXTURES.glob("*.ami"))


def _frames(path: Path) -> tuple[bytes, list[bytes]]:
    banner, rest = path.read_bytes().split(b"\r\n", 1)
    return banner, rest.split(b"\r\n\r\n")


def test_every_scenario_has_its_recording_and_queue_log() -> None:
    names = {p.stem for p in RECORDINGS}
    assert {"answered", "abandoned_waiting", "abandoned_ringing", "ringnoanswer_then_other", "resync", "both_lines", "member_states"} <= names
    for name in names:
        assert (FIXTURES / f"{name}.queue_log").read_text().startswith(tuple("0123456789"))


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_recording_is_banner_then_complete_frames(path: Path) -> None:
    banner, frames = _frames(path)
    assert banner.startswith(b"Asterisk Call Manager/")
    assert frames[-1] == b"", "the stream ends in the middle of a frame"
    assert frames[0].startswith(b"Response: Success\r\n") and b"Authentication accepted" in frames[0]
    assert all(b": " in line for frame in frames[:-1] for line in frame.split(b"\r\n"))
    assert any(f.startswith(b"Event: Queue") for f in frames)
    assert b"Secret" not in path.read_bytes()
