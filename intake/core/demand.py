"""What each line was asked for, interval by interval, and the handlers it needed: from the
journal's records alone.

Pure: records in, one :class:`IntervalDemand` per line and interval out; then, with each line's
goal, one :class:`IntervalStaffing` (Erlang A's handlers needed, Erlang C's beside it, and the
handlers who were signed in). Intervals are 15 or 30 minutes of the control room's local clock
(the server's local time, as the journal's days are).

The estimates, per line and interval:
- arrivals: calls offered (answered, abandoned, left), per second of the interval;
- handle time: mean talk + wrap-up of the answered calls whose talk is known; the wrap-up is the
  one measured after the call (:mod:`intake.core.wrapups`: from the pause intake put the handler in
  to their leaving it) where the journal has it, else the line's configured pause (the time intake
  means to keep a handler off the queue after each call); ``wrapups_measured`` says how many were measured;
- patience: total time in the queue of every caller over the number who hung up (the estimator
  of Mandelbaum & Zeltyn for exponential patience: theta = P(Ab) / E[W]); none when nobody hung up.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from intake.core.erlang import (
    Demand,
    Goal,
    handlers_needed,
    service_level,
    staffing_beta,
)
from intake.core.errors import StaffingError

INTERVALS = (900, 1800, 3600)
"""The interval lengths, in seconds, a control room plans in (15 and 30 minutes; hours for a long view)."""


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
    def talk_seconds(self) -> float | None: ...  # None until the call is over (and in older records)
    @property
    def wrapup_seconds(self) -> float | None: ...  # measured; None until the wrap-up is over, or none measured


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
    handled: int = 0
    """Answered calls whose talk is known: the calls the handle time is the mean of."""
    wrapups_measured: int = 0
    """Those of them whose wrap-up was measured (the others': the line's configured one)."""

    @property
    def wrapup(self) -> str:
        """Whose wrap-up the handle time holds: ``measured`` (every answered call's), ``configured``
        (none measured) or ``mixed``."""
        if not self.wrapups_measured:
            return "configured"
        return "measured" if self.wrapups_measured >= self.handled else "mixed"

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
    """Erlang A's service level with the handlers who were signed in (without samples: with ``needed``)."""


def interval_start(at: float, seconds: int) -> float:
    """Start of the local-clock interval ``at`` falls in (a quarter, half or whole hour)."""
    if seconds not in INTERVALS:
        raise StaffingError("interval_seconds", seconds, f"one of {', '.join(map(str, INTERVALS))}")
    t = time.localtime(at)
    return math.floor(at) - (t.tm_min * 60 + t.tm_sec) % seconds


QUARTER = 900
"""The narrowest interval: tallies are kept per quarter hour and added into wider intervals."""


def intervals(records: Iterable[Offered], seconds: int = 900, wrapup_seconds: Mapping[str, float] | None = None,
              signed_in: Iterable[SignedIn] = ()) -> list[IntervalDemand]:
    """One IntervalDemand per line and interval that had a call, by line then start."""
    return from_tallies(quarter_tallies(records, wrapup_seconds), seconds, signed_in)


def quarter_tallies(records: Iterable[Offered], wrapup_seconds: Mapping[str, float] | None = None) -> dict[tuple[str, float], IntervalTally]:
    """The records' tallies per (line, start of their local quarter hour)."""
    wrapups = wrapup_seconds or {}
    tallies: dict[tuple[str, float], IntervalTally] = {}
    starts: dict[int, float] = {}  # every zone's offset is whole quarter hours: one local quarter per epoch quarter
    for r in records:
        quarter = int(r.queued_at // QUARTER)
        start = starts.get(quarter)
        if start is None:
            start = starts[quarter] = interval_start(r.queued_at, QUARTER)
        key = (r.line, start)
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = IntervalTally()
        tally.add(r, wrapups.get(r.line, 0.0))
    return tallies


def from_tallies(tallies: Mapping[tuple[str, float], IntervalTally], seconds: int = 900,
                 signed_in: Iterable[SignedIn] = ()) -> list[IntervalDemand]:
    """Quarter-hour tallies (of records, or of days' summaries) as one IntervalDemand per line and
    interval of ``seconds`` that had a call, by line then start, with the signed-in samples'
    means. Quarters are added in order, so a record's figures and a summary's are the same to the bit."""
    if seconds == QUARTER:
        wide = dict(tallies)
    else:
        wide = {}
        for (line, start), tally in sorted(tallies.items()):
            key = (line, interval_start(start, seconds))
            was = wide.get(key)
            wide[key] = tally.copy() if was is None else was.merge(tally)
    samples: dict[tuple[str, float], list[int]] = {}
    for s in signed_in:
        samples.setdefault((s.line, interval_start(s.at, seconds)), []).append(s.handlers)
    return [wide[key].demand(key[0], key[1], seconds, samples.get(key)) for key in sorted(wide)]


class IntervalTally:
    """One line's calls over an interval, as sums: what an :class:`IntervalDemand` is made from.
    Tallies add (quarters into half hours, sites into a force), so a day's can be kept
    (:class:`intake.core.returns.DaySummary`) and a year read from them."""

    __slots__ = ("abandoned", "answered", "handle", "handled", "measured", "offered", "talk", "waited", "within", "wrapup")
    FIELDS = ("offered", "answered", "abandoned", "within", "handled", "talk", "wrapup", "handle", "waited", "measured")
    """The stored form's order (:meth:`dump`)."""

    def __init__(self) -> None:
        self.offered = self.answered = self.abandoned = self.within = self.handled = self.measured = 0
        self.talk = self.wrapup = self.handle = self.waited = 0.0

    def add(self, r: Offered, line_wrapup: float) -> None:
        self.offered += 1
        self.waited += max(0.0, r.waited_seconds)
        if r.settled == "abandoned":
            self.abandoned += 1
        if r.settled != "answered":
            return
        self.answered += 1
        self.within += r.waited_seconds <= r.target_seconds
        if r.talk_seconds is not None:
            self.handled += 1
            self.talk += r.talk_seconds
            wrapup = r.wrapup_seconds
            if wrapup is None:
                wrapup = line_wrapup
            else:
                self.measured += 1
            self.wrapup += wrapup
            self.handle += r.talk_seconds + wrapup

    def merge(self, other: IntervalTally) -> IntervalTally:
        """Add ``other`` into this one (and return it)."""
        for name in self.FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    def copy(self) -> IntervalTally:
        tally = IntervalTally()
        for name in self.FIELDS:
            setattr(tally, name, getattr(self, name))
        return tally

    def dump(self) -> list[float]:
        """The sums in :attr:`FIELDS` order (a day summary's stored form)."""
        return [getattr(self, name) for name in self.FIELDS]

    @classmethod
    def load(cls, sums: Sequence[float]) -> IntervalTally:
        """The tally :meth:`dump` wrote."""
        if len(sums) != len(cls.FIELDS):
            raise ValueError(f"an interval's tally has {len(cls.FIELDS)} sums, not {len(sums)}")
        tally = cls()
        for name, value in zip(cls.FIELDS, sums, strict=True):
            setattr(tally, name, int(value) if name in ("offered", "answered", "abandoned", "within", "handled", "measured") else float(value))
        return tally

    def demand(self, line: str, start: float, seconds: int, signed_in: list[int] | None) -> IntervalDemand:
        return IntervalDemand(
            line=line, start=start, seconds=seconds, offered=self.offered, answered=self.answered,
            abandoned=self.abandoned, answered_within_target=self.within,
            handle_seconds=self.handle / self.handled if self.handled else None,
            patience_seconds=self.waited / self.abandoned if self.abandoned else None,
            waited_seconds=self.waited,
            signed_in=sum(signed_in) / len(signed_in) if signed_in else None, handled=self.handled,
            wrapups_measured=self.measured)


def line_means(demand: Iterable[IntervalDemand]) -> dict[str, tuple[float | None, float | None]]:
    """Each line's (handle time, patience) over all the intervals given, weighted by the calls that
    showed them: the stand-in for an interval too quiet to show its own."""
    sums: dict[str, list[float]] = {}
    for d in demand:
        s = sums.setdefault(d.line, [0.0, 0.0, 0.0, 0.0])  # handle-weighted, answered, waited, abandoned
        if d.handle_seconds is not None:
            s[0] += d.handle_seconds * d.answered
            s[1] += d.answered
        s[2] += d.waited_seconds
        s[3] += d.abandoned
    return {line: (s[0] / s[1] if s[1] else None, s[2] / s[3] if s[3] else None) for line, s in sums.items()}


def staffing(demand: Iterable[IntervalDemand], goals: Mapping[str, Goal], handle_seconds: Mapping[str, float],
             patience_seconds: Mapping[str, float | None]) -> list[IntervalStaffing]:
    """Each interval's handlers needed for its line's goal; an interval that could not show its
    handle time or patience takes the line's (``handle_seconds``, ``patience_seconds``). A line
    with no goal is left out."""
    rows = []
    beta: dict[tuple[str, str], float] = {}  # (line, model) -> the interval before's square-root staffing beta: the next search starts there
    for d in demand:
        goal = goals.get(d.line)
        if goal is None:
            continue
        model = d.demand(handle_seconds[d.line], patience_seconds.get(d.line))
        needed = handlers_needed(model, goal, beta=beta.get((d.line, "a")))
        needed_c = handlers_needed(model, goal, "erlang-c", beta=beta.get((d.line, "c")))
        if model.erlangs > 0:
            beta[(d.line, "a")], beta[(d.line, "c")] = staffing_beta(needed, model), staffing_beta(needed_c, model)
        with_signed_in = needed if d.signed_in is None else math.floor(d.signed_in)
        rows.append(IntervalStaffing(d, needed, needed_c, service_level(with_signed_in, model, goal.within_seconds, "erlang-a")))
    return rows
