"""Split an AMI byte stream into frames: bytes in through :meth:`FrameReader.feed`, frames out.

Sans-I/O: no sockets, no asyncio. The reader owns the only receive buffer of a session, so the
rules about where a message ends live here and nowhere else:

- the stream opens with one banner line, ``Asterisk Call Manager/<version>``, not a frame;
- a frame ends at a blank line (``\\r\\n\\r\\n``; a peer that writes bare ``\\n`` is recognised by
  its banner's line ending and split on ``\\n\\n`` instead);
- TCP may cut the stream at any byte, inside a UTF-8 character or inside the terminator. Bytes are
  only decoded once a whole frame is in hand, so a cut never loses or mangles a character;
- a frame with no field in it (no ``:`` at all) is dropped unparsed, in C-level passes over the
  read, and counted: in :attr:`FrameReader.blank` if there is nothing in it (empty, or blank
  lines), in :attr:`FrameReader.garbled` otherwise. A flood of ``\r\n`` or of junk lines would
  otherwise cost a parse per few bytes (measured: 30-60 ms of loop time per 64 KiB read);
- a frame larger than ``max_frame`` is dropped, recorded as :class:`FrameTooLarge`, and the reader
  skips to the next terminator: one runaway message (a huge ``Command`` output, garbage on the
  socket) must not cost the frames after it nor grow the buffer without bound.

The parser never raises into the read loop: errors are recorded and handed out by
:meth:`FrameReader.take_errors`, and the loop decides what to log and count.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from itertools import compress, repeat
from operator import contains, not_

from telephony.errors import FrameTooLarge
from telephony.frames import TERMINATOR, Frame, parse_frame

BANNER_PREFIX = b"Asterisk Call Manager/"
_COLON = ord(":")  # an int: ``int in bytes`` is a memchr, the cheapest test Python has
LF_TERMINATOR = b"\n\n"
DEFAULT_MAX_FRAME = 64 * 1024
_ACTION_ID = b"ActionID:"


class FrameReader:
    """Incremental AMI splitter. Feed it whatever ``read()`` returned; get back whole frames."""

    __slots__ = (
        "_awaiting_banner",
        "_buf",
        "_errors",
        "_skipping",
        "_term",
        "_wanted",
        "_wanted_match",
        "blank",
        "garbled",
        "max_frame",
        "oversized",
        "parsed",
        "passed_over",
        "version",
    )

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME, *, expect_banner: bool = True,
                 wanted: Collection[str] | None = None) -> None:
        self.max_frame = max_frame
        self.version: str | None = None
        """The AMI protocol version from the banner (e.g. ``"11.0.0"``), once seen."""
        self.oversized = 0
        self.passed_over = 0
        """Events not in ``wanted``, dropped unparsed."""
        self.blank = 0
        """Frames with nothing in them (empty or whitespace only), dropped unparsed."""
        self.garbled = 0
        """Frames with text but not one ``Key: Value`` field, dropped unparsed."""
        self.parsed = 0
        """Frames handed to the parser: the reader's work, which nothing but content should cost."""
        # Asterisk sends every channel's life in events (Newstate, VarSet, DialBegin, Bridge*,
        # MusicOnHold*...): about 30 frames per queued call, of which intake reads 12. Parsing
        # is most of a frame's cost, so an event whose name is not wanted is dropped on its name.
        # A frame with an ActionID answers an action (a list item, an OriginateResponse): never dropped.
        self._wanted = None if wanted is None else frozenset(name.encode() for name in wanted)
        self._wanted_match: Callable[[bytes], object] | None = None
        self._buf = b""
        self._term = TERMINATOR
        self._match_wanted()
        self._awaiting_banner = expect_banner
        self._skipping = False
        self._errors: list[FrameTooLarge] = []

    @property
    def banner_seen(self) -> bool:
        return self.version is not None

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes from the wire; return every frame they complete, in order."""
        buf = self._buf + data if self._buf else data
        if self._awaiting_banner:
            buf = self._take_banner(buf)
            if self._awaiting_banner:
                self._buf = buf
                return []
        if self._skipping:
            buf = self._skip_oversized(buf)
            if self._skipping:
                return []
        term = self._term
        if term not in buf:
            self._keep(buf)
            return []
        parts = buf.split(term)
        self._keep(parts.pop())
        # One C-level pass: a frame has a field, so a ':' (found within a few bytes in a real frame).
        fielded = list(map(contains, parts, repeat(_COLON)))
        if not all(fielded):
            self._count_fieldless(list(compress(parts, map(not_, fielded))))
            parts = list(compress(parts, fielded))
            if not parts:
                return []
        limit = self.max_frame
        # One C-level pass decides whether the per-part size check is needed at all: it almost
        # never is, and this is the hot path.
        if max(map(len, parts)) > limit:
            for part in parts:
                if len(part) > limit:
                    self._record(len(part))
            parts = [part for part in parts if len(part) <= limit]
        if self._wanted is not None:
            parts = self._drop_unwanted(parts, _ACTION_ID in buf)
        self.parsed += len(parts)
        return [frame for frame in map(parse_frame, parts) if frame or frame.bad_lines]

    def take_errors(self) -> list[FrameTooLarge]:
        """Errors recorded since the last call (oldest first), and forget them."""
        errors, self._errors = self._errors, []
        return errors

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._buf)

    # --- internals -------------------------------------------------------------------------

    def _match_wanted(self) -> None:
        """One compiled test of a whole frame: kept unless it opens with an unwanted Event line.
        Run by ``filter`` it makes the choice for a read's frames in C, not per frame in Python."""
        if self._wanted is None:
            return
        names = b"|".join(re.escape(name) for name in sorted(self._wanted))
        eol = re.escape(self._term[:-2] or b"\n")
        self._wanted_match = re.compile(rb"(?!Event: )|Event: (?:" + names + rb")(?:" + eol + rb"|\Z)").match

    def _drop_unwanted(self, parts: list[bytes], action_ids: bool) -> list[bytes]:
        match = self._wanted_match
        assert match is not None
        if action_ids:
            # Some frame of this read answers an action (a list item, an OriginateResponse):
            # kept whatever its name, so each frame is looked at on its own.
            kept = [part for part in parts if match(part) or _ACTION_ID in part]
        else:
            kept = list(filter(match, parts))
        self.passed_over += len(parts) - len(kept)
        return kept

    def _count_fieldless(self, dropped: list[bytes]) -> None:
        garbled = len(list(filter(None, map(bytes.strip, dropped))))
        self.garbled += garbled
        self.blank += len(dropped) - garbled

    def _keep(self, rest: bytes) -> None:
        if len(rest) > self.max_frame:
            # Still unterminated and already too big: drop it now rather than buffer more.
            self._record(len(rest))
            self._skipping = True
            self._buf = b""
            self._skip_oversized(rest)
        else:
            self._buf = rest

    def _skip_oversized(self, buf: bytes) -> bytes:
        """Discard up to and including the next terminator; return what follows it."""
        term = self._term
        end = buf.find(term)
        if end < 0:
            # Keep a terminator's worth minus one: the terminator itself may be cut in two.
            self._buf = buf[-(len(term) - 1) :]
            return b""
        self._skipping = False
        self._buf = b""
        return buf[end + len(term) :]

    def _take_banner(self, buf: bytes) -> bytes:
        eol = buf.find(b"\n")
        if eol < 0:
            # Undecided while what we have could still be the start of a banner.
            if len(buf) < len(BANNER_PREFIX) and BANNER_PREFIX.startswith(buf):
                return buf
            if buf.startswith(BANNER_PREFIX) and len(buf) <= self.max_frame:
                return buf
            self._awaiting_banner = False  # no banner: a peer that starts with frames
            return buf
        self._awaiting_banner = False
        if eol == 0 or buf[eol - 1] != 0x0D:
            self._term = LF_TERMINATOR
            self._match_wanted()
        line = buf[:eol].rstrip(b"\r")
        if not line.startswith(BANNER_PREFIX):
            return buf
        self.version = line[len(BANNER_PREFIX) :].decode("utf-8", "replace").strip()
        return buf[eol + 1 :]

    def _record(self, size: int) -> None:
        self.oversized += 1
        self._errors.append(FrameTooLarge(size, self.max_frame))
