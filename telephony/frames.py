"""One AMI message, as bytes and as fields: the smallest unit both sides of the wire share.

A frame is a block of ``Key: Value`` lines ended by a blank line. This module turns one block
into a :class:`Frame` and a mapping back into bytes. It does no I/O and knows nothing of
streams; splitting a byte stream into blocks is :mod:`telephony.framing`'s job.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping

from telephony.errors import UnsafeActionValue

TERMINATOR = b"\r\n\r\n"


class Frame(dict[str, str]):
    """The fields of one AMI message, first value of each key.

    Asterisk repeats a few keys inside one message (``ChanVariable``, ``Variable``, ``Output``);
    every value of such a key is kept, in order, in :attr:`repeated`.
    ``bad_lines`` counts lines with no ``:`` or an empty key: the frame is still usable.

    Both live in slots that stay unset on the common path (no repeats, no bad lines), so building a
    frame costs one C-level ``dict`` construction and no Python ``__init__``: this is the hot path.
    """

    __slots__ = ("_bad_lines", "_repeated")

    @property
    def repeated(self) -> dict[str, list[str]]:
        try:
            return self._repeated
        except AttributeError:
            self._repeated: dict[str, list[str]] = {}
            return self._repeated

    @property
    def bad_lines(self) -> int:
        try:
            return self._bad_lines
        except AttributeError:
            return 0

    @bad_lines.setter
    def bad_lines(self, count: int) -> None:
        self._bad_lines = count

    @property
    def event(self) -> str | None:
        return self.get("Event")

    @property
    def response(self) -> str | None:
        return self.get("Response")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def values(self, key: str) -> list[str]:  # type: ignore[override]
        """Every value of ``key`` in order (one for most keys)."""
        repeated = getattr(self, "_repeated", None)
        if repeated and key in repeated:
            return list(repeated[key])
        return [self[key]] if key in self else []


_split = str.split
_repeat = itertools.repeat


def parse_frame(block: bytes) -> Frame:
    """Parse one message block (without its terminating blank line).

    Bytes that are not UTF-8 are replaced, never fatal: a caller name in Latin-1 from an old
    trunk must not cost us the event it rides on.
    """
    text = block.decode("utf-8", "replace")
    lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
    # Fast path, all in C: every line is "Key: Value" and no key repeats. Anything else (a bare
    # line, an empty key, a repeated key, "Key:" with no space) takes the careful path below.
    try:
        frame = Frame(map(_split, lines, _repeat(": "), _repeat(1)))
    except ValueError:
        return _parse_lines(lines)
    if len(frame) != len(lines) or "" in frame:
        return _parse_lines(lines)
    return frame


def _parse_lines(lines: list[str]) -> Frame:
    frame = Frame()
    bad = 0
    for line in lines:
        if not line:
            continue
        key, sep, value = line.partition(":")
        # No ':' or nothing before it. (A key with a space is accepted, as the fast path does.)
        if not sep or not key:
            bad += 1
            continue
        value = value.removeprefix(" ")
        if key in frame:
            frame.repeated.setdefault(key, [frame[key]]).append(value)
        else:
            frame[key] = value
    if bad:
        frame.bad_lines = bad
    return frame


def encode_frame(fields: Mapping[str, object] | Iterable[tuple[str, object]]) -> bytes:
    """Serialise fields as one AMI message. A list value writes the key once per item.

    A CR or LF inside a key or value would let text from outside (a caller number, a pause
    reason typed by a handler) inject a second action into the session: refused, not escaped.
    """
    items = fields.items() if isinstance(fields, Mapping) else fields
    out: list[str] = []
    for key, value in items:
        for one in value if isinstance(value, list | tuple) else (value,):
            text = str(one)
            if "\r" in text or "\n" in text or "\r" in key or "\n" in key or ":" in key:
                raise UnsafeActionValue(key, text)
            out.append(f"{key}: {text}\r\n")
    out.append("\r\n")
    return "".join(out).encode("utf-8")
