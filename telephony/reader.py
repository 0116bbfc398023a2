"""What one link reads, counted: bytes -> frames (:mod:`telephony.framing`) and frames -> domain
events (:mod:`telephony.translate`), with every fault counted and logged at most once a minute.

Sans-I/O, and no protocol state: which frame answers which action, and when an event may reach
the consumer, is :mod:`telephony.connection`'s business. This is the hot path: a frame costs its
parse and its translation here and little else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telephony.errors import MalformedFrame
from telephony.events import DomainEvent
from telephony.frames import Frame
from telephony.framing import FrameReader
from telephony.timing import PbxClock, Throttle
from telephony.translate import TRANSLATORS, translate

# Faults that can come in floods (a PBX with a broken clock stamps every frame) are logged at most
# this often; the counters say how many.
FLOOD_LOG_INTERVAL = 60.0

WANTED_EVENTS = frozenset({*TRANSLATORS, "FullyBooted"})
"""The unsolicited events a link reads; the framer drops the others unparsed."""


@dataclass(slots=True)
class SessionCounters:
    frames: int = 0
    events: int = 0
    unknown_events: int = 0
    malformed_frames: int = 0
    oversized_frames: int = 0
    reconnects: int = 0
    callback_errors: int = 0
    actions_timed_out: int = 0
    bad_lines: int = 0  # lines that were not "Key: Value" inside otherwise usable frames
    bad_timestamps: int = 0  # Timestamps not believed (not a time, or beyond the clock skew): the estimate used
    blank_frames: int = 0  # frames with nothing in them, dropped unparsed
    garbled_frames: int = 0  # frames of text without a single "Key: Value" field, dropped unparsed


class EventReader:
    """Reads one link at a time (:meth:`new_link`); counts into :attr:`counters` across links."""

    __slots__ = ("_clock", "_log", "_malformed_log", "_stamp_log", "counters", "framer", "max_frame")

    # Any: a structlog BoundLogger, as structlog's own getters type it
    def __init__(self, max_frame: int, clock: PbxClock, counters: SessionCounters, log: Any) -> None:
        self.max_frame = max_frame
        self._clock = clock
        self.counters = counters
        self._log = log
        self._stamp_log = Throttle(FLOOD_LOG_INTERVAL)
        self._malformed_log = Throttle(FLOOD_LOG_INTERVAL)
        self.framer = FrameReader(max_frame, wanted=WANTED_EVENTS)

    def new_link(self, *, expect_banner: bool = True) -> None:
        self.framer = FrameReader(self.max_frame, expect_banner=expect_banner, wanted=WANTED_EVENTS)

    def frames(self, data: bytes) -> list[Frame]:
        """Every frame ``data`` completes, in order; the frames dropped unparsed are counted."""
        framer, counters = self.framer, self.counters
        passed_over, blank, garbled = framer.passed_over, framer.blank, framer.garbled
        frames = framer.feed(data)
        counters.frames += len(frames)
        counters.blank_frames += framer.blank - blank
        counters.garbled_frames += framer.garbled - garbled
        if framer.passed_over != passed_over:
            # Counted as the frames and events they are, and as events we do not interpret.
            dropped = framer.passed_over - passed_over
            counters.frames += dropped
            counters.events += dropped
            counters.unknown_events += dropped
        for error in framer.take_errors():
            counters.oversized_frames += 1
            self._log.warning("ami frame too large, skipped", size=error.size, limit=error.limit)
        return frames

    def event(self, frame: Frame) -> DomainEvent | None:
        """The domain event of ``frame``, or None (not ours to interpret, or malformed: counted)."""
        clock = self._clock
        rejected = clock.rejected
        try:
            # Timestamped frames carry their own time, checked by the clock; only the others need the estimate.
            event = translate(frame, 0.0 if "Timestamp" in frame else clock.now(), clock)
        except MalformedFrame as bad:
            self.counters.malformed_frames += 1
            if self._malformed_log.due():  # a PBX (or peer) gone bad sends them by the thousand
                self._log.warning("ami malformed event", ami_event=bad.event, field=bad.field, reason=bad.reason,
                                  malformed_frames=self.counters.malformed_frames)
            return None
        finally:
            if clock.rejected != rejected:
                self._bad_timestamp(frame)
        if event is None:
            self.counters.unknown_events += 1
        return event

    def _bad_timestamp(self, frame: Frame) -> None:
        self.counters.bad_timestamps += 1
        if self._stamp_log.due():
            self._log.warning("ami timestamp not believed: the PBX clock estimate used", ami_event=frame.get("Event"),
                              timestamp=self._clock.last_rejected, max_skew_s=self._clock.max_skew,
                              bad_timestamps=self.counters.bad_timestamps)
