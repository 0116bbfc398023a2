"""How a wire and a PBX spoil a good AMI stream: edits to the frames of one delivery and to its bytes.

Frame level: a frame lost, duplicated, moved after the next one, a field given an absurd value.
Byte level: garbage between frames (bytes that are not UTF-8, lines without a colon, a frame
over the size cap, runs of empty frames), and the whole cut into reads at arbitrary bytes.

The edits are drawn from a ``random.Random`` whose seed Hypothesis draws: a long day has
thousands of frames, and one Hypothesis draw per frame made each example and its shrinking ten
times slower. The story (the commands) is still drawn and shrunk by Hypothesis.
"""

from __future__ import annotations

import itertools
import random

from telephony.frames import TERMINATOR, encode_frame

Fields = list[tuple[str, str]]

INTEGER_FIELDS = ("Position", "Count", "OriginalPosition", "Cause", "Penalty", "Status", "Paused", "InCall")
DURATION_FIELDS = ("HoldTime", "RingTime", "TalkTime", "Wait")
PLAUSIBLE_IDS = ("1700000000.1", "pbx-2-1700000000.77", "0.0", "1796184289.0")  # another call's, or odd but valid
ABSURD_INTEGERS = ("-1", "99999999999999999999999999", "1e300", "nan", "", "abc", "0x10", " 5", "-0")
ABSURD_DURATIONS = ("-1", "nan", "inf", "-inf", "1e300", "99999999999999999999", "-1e300", "", "x")
ABSURD_TEXT = ("", "<unknown>", "unknown", "\x00", "\x1b[31mred", "\x07\x08\x7f", "é\u202e\ufffd", " ", "a" * 300,
               "9" * 20_000, "PJSIP/handler-1", "emergency", "999;x&PJSIP/evil")


def absurd_timestamp(rng: random.Random, now: float) -> str:
    return rng.choice(("inf", "-inf", "nan", "1e300", "-5", "0", "", "soon", f"{now + 365 * 86400:.6f}",
                       f"{now - 365 * 86400:.6f}"))


def absurd_value(rng: random.Random, key: str, now: float) -> str:
    if key == "Timestamp":
        return absurd_timestamp(rng, now)
    if key in DURATION_FIELDS:
        return rng.choice(ABSURD_DURATIONS)
    if key in INTEGER_FIELDS:
        return rng.choice(ABSURD_INTEGERS)
    if key in ("Uniqueid", "Linkedid") and rng.random() < 0.5:
        return rng.choice(PLAUSIBLE_IDS)
    if rng.random() < 0.2:
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(40))).replace("\r", "").replace("\n", "")
    return rng.choice(ABSURD_TEXT)


def absurd_field(rng: random.Random, fields: Fields, now: float) -> Fields:
    """``fields`` with one field's value replaced by an absurd one."""
    keys = [k for k, _ in fields if k != "Event"]
    if not keys:
        return fields
    key = rng.choice(keys)
    value = absurd_value(rng, key, now)
    return [(k, value if k == key else v) for k, v in fields]


def spoiled(rng: random.Random, frames: list[Fields], now: float, weights: dict[str, int]) -> list[Fields]:
    """``frames`` after frame-level edits drawn per frame with ``weights`` (edit -> weight)."""
    edits, w = list(weights), list(weights.values())
    out: list[Fields] = []
    held: Fields | None = None  # a frame moved after the next one
    for fields in frames:
        edit = rng.choices(edits, w)[0]
        if edit == "drop":
            continue
        if edit == "absurd":
            fields = absurd_field(rng, fields, now)
        if edit == "swap" and held is None:
            held = fields
            continue
        out.append(fields)
        if edit == "duplicate":
            out.append(fields)
        if held is not None:
            out.append(held)
            held = None
    if held is not None:
        out.append(held)
    return out


def garbage(rng: random.Random) -> bytes:
    kind = rng.randrange(7)
    if kind == 0:
        return b"\xff\xfe\xc3(Event: QueueCallerJoin\r\nQueue: \xe9mergency\r\nCallerIDName: \xc3" + TERMINATOR
    if kind == 1:
        return b"Event: Hangup\r\nthis line has no colon\r\n:no key\r\nUniqueid\r\n" + TERMINATOR
    if kind == 2:
        return TERMINATOR * rng.randrange(1, 9)  # empty frames
    if kind == 3:
        return b"Output: " + b"x" * rng.randrange(64 * 1024 + 1, 70 * 1024) + TERMINATOR  # over the frame cap
    if kind == 4:
        return rng.randbytes(rng.randrange(1, 64)).replace(TERMINATOR, b"") + TERMINATOR
    if kind == 5:
        return b"Response: Success\r\nActionID: nobody-asked\r\nMessage: stray" + TERMINATOR
    return b"Event: QueueCallerJoin" + TERMINATOR  # every field missing


def wire_bytes(rng: random.Random, frames: list[Fields], with_garbage: bool) -> bytes:
    """The frames as bytes, with garbage between some of them when ``with_garbage``."""
    parts: list[bytes] = []
    for fields in frames:
        if with_garbage and rng.random() < 0.1:
            parts.append(garbage(rng))
        parts.append(encode_frame(fields))
    return b"".join(parts)


def reads(rng: random.Random, data: bytes) -> list[bytes]:
    """``data`` cut into reads at arbitrary bytes (inside a UTF-8 character, inside a terminator)."""
    if len(data) < 2 or rng.random() < 0.25:
        return [data] if data else []
    cuts = sorted({rng.randrange(1, len(data)) for _ in range(rng.randrange(1, 16))})
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]
