"""One AMI message, as bytes and as fields: the smallest unit both sides of the wire share.

A frame is a block of ``Key: Value`` lines ended by a blank line. This module turns one block
into a :class:`Frame` and a mapping back into bytes. It does no I/O and knows nothing of
streams; splitting a byte stream into blocks is :mod:`telephony.framing`'s job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from telephony.errors import UnsafeActionValue

TERMINATOR = b"\r\n\r\n"


class Frame(dict[str, str]):
    """The fields of one AMI message, first value of each key.

    Asterisk repeats a few keys inside one message (``ChanVariable``, ``Variable``, ``Output``);
    every value of such a key is kept, in order, in :attr:`repeated`.
    ``bad_lines`` counts lines that were not ``Key: Value``: the frame is still usable.
    """

    __slots__ = ("repeated", "bad_lines")

    def __init__(self, *args: object, **kwargs: str) -> None:
        super().__init__(*args, **kwargs)
        self.repeated: dict[str, list[str]] = {}
        self.bad_lines = 0

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
        if key in self.repeated:
            return list(self.repeated[key])
        return [self[key]] if key in self else []


def parse_frame(block: bytes) -> Frame:
    """Parse one message block (without its terminating blank line).

    Bytes that are not UTF-8 are replaced, never fatal: a caller name in Latin-1 from an old
    trunk must not cost us the event it rides on.
    """
    frame = Frame()
    text = block.decode("utf-8", "replace")
    for line in text.split("\r\n") if "\r\n" in text else text.split("\n"):
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key:
            frame.bad_lines += 1
            continue
        if value.startswith(" "):
            value = value[1:]
        if key in frame:
            frame.repeated.setdefault(key, [frame[key]]).append(value)
        else:
            frame[key] = value
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
