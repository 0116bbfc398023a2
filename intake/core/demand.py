"""What each line was asked for, interval by interval, and the handlers it needed: from the
journal's records alone.

Pure: records in, one :class:`IntervalDemand` per line and interval out; then, with each line's
goal, one :class:`IntervalStaffing` (Erlang A's handlers needed, Erlang C's beside it, and the
handlers who were signed in). Intervals are 15 or 30 minutes of the control room's local clock
(the server's local time, as the journal's days are).

The estimates, per line and interval:
- arrivals: calls offered (answered, abandoned, left), per second of the interval;
- handle time: mean talk + wrap-up of the answered calls whose talk is known (the wrap-up is the
  record's own where it has one, else the line's configured pause);
- patience: total time in the queue of every caller over the number who hung up (the estimator
  of Mandelbaum & Zeltyn for exponential patience: theta = P(Ab) / E[W]); none when nobody hung up.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from intake.core.erlang import Demand, Goal
from intake.core.errors import StaffingError

INTERVALS = (900, 1800)
"""The interval lengths, in seconds, a control room plans in."""


class Offered(Protocol):
    """One call's stay in a line's queue, as the journal records it (intake.app.journal's
    JournalRecord is one)."""

    @property
    def line(self) -> str: ...
    @property
    def queued_at(self) -> float: ...
    @property
    def settled(self) -> str: ...  # "answered", "abandoned" or "left"
    @property
    def waited_seconds(self) -> float: ...
    @property
    def target_seconds(self) -> float: ...
    @property
    def talk_seconds(self) -> float | None: ...
    @property
    def wrapup_seconds(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class SignedIn:
    """How many handlers were signed in to a line at a moment (a sample the server keeps)."""

    at: float
    line: str
    handlers: int


@dataclass(frozen=True, slots=True)
class IntervalDemand:
    """One line's interval: what was offered and what it took."""

    line: str
    start: float
    """Epoch of the interval's start on the local clock."""
    seconds: int
    offered: int
    answered: int
    abandoned: int
    answered_within_target: int
    handle_seconds: float | None
    """Mean talk + wrap-up of the answered calls whose talk is known; None when none is."""
    patience_seconds: float | None
    """Estimated mean patience; None when nobody hung up (nothing to estimate it from)."""
    waited_seconds: float
    """Total time in the queue of every caller (the patience estimate's numerator)."""
    signed_in: float | None
    """Mean of the samples of handlers signed in during the interval; None without samples."""

    @property
    def arrivals_per_second(self) -> float:
        return self.offered / self.seconds

    def demand(self, handle_seconds: float, patience_seconds: float | None) -> Demand:
        """The interval in the model's terms; the defaults stand in for what it could not show."""
        return Demand(self.arrivals_per_second, self.handle_seconds or handle_seconds,
                      self.patience_seconds if self.patience_seconds is not None else patience_seconds)


@dataclass(frozen=True, slots=True)
class IntervalStaffing:
    """One line's interval set against the handlers it needed."""

    interval: IntervalDemand
    needed: int
    """Erlang A: the fewest handlers that meet the line's goal."""
    needed_erlang_c: int
    """Erlang C, for comparison (callers who never hang up: more handlers)."""
    service_level: float
    """Erlang A's service level with the handlers who were signed in (None's case: with ``needed``)."""


def interval_start(at: float, seconds: int) -> float:
    """Start of the local-clock interval ``at`` falls in (a 15 or 30 minute boundary of the hour)."""
    if seconds not in INTERVALS:
        raise StaffingError("interval_seconds", seconds, f"one of {', '.join(map(str, INTERVALS))}")
    t = time.localtime(at)
    return math.floor(at) - (t.tm_min * 60 + t.tm_sec) % seconds


def intervals(records: Iterable[Offered], seconds: int = 900, wrapup_seconds: Mapping[str, float] | None = None,
              signed_in: Iterable[SignedIn] = ()) -> list[IntervalDemand]:
    """One IntervalDemand per line and interval that had a call, by line then start."""
    raise NotImplementedError


def staffing(demand: Iterable[IntervalDemand], goals: Mapping[str, Goal], handle_seconds: Mapping[str, float],
             patience_seconds: Mapping[str, float | None]) -> list[IntervalStaffing]:
    """Each interval's handlers needed for its line's goal; an interval that could not show its
    handle time or patience takes the line's (``handle_seconds``, ``patience_seconds``)."""
    raise NotImplementedError

