"""The national returns: monthly figures per line and 999 misuse, from journal records alone.

The layout is documented in docs/returns.md and is a contract with a force's performance team:
columns are added at the end, never renamed or reordered.

Definitions (docs/returns.md says them for the reader):

- *offered*: every call's stay in the line's queues whose queue entry falls in the month (a call
  that moved queue is offered once per stay, as the PBX's queue_log counts it).
- *answer time* is measured **from connection**, the call's arrival at the PBX, where the events
  showed it, else from queue entry: the Home Office's measure starts when the call reaches the
  force, not when our queue took it.
- *% answered within 10 s*: of the **answered** calls, those answered within 10 s of connection:
  the published Home Office measure. *% answered within target* (the line's own target, from queue
  entry) counts against every offered call, abandoned ones included, as intake's live figures do.
- *waited over 2 minutes*: offered calls whose wait from connection (to answer, or to leaving
  the queue) passed 120 s, answered or not.
- *mean* and *p90 answer time*: over answered calls, kept in 0.1 s bins (:class:`AnswerTimes`):
  the p90 is the nearest rank, reported as the upper edge of its bin.
- *999 misuse*: 999 calls whose outcome was graded, by the local hour of their queue entry and the
  grading; ``emergency`` is the only grading that is not misuse, and is counted beside it. An
  abandoned 999 call graded by its call-back counts there too, under its own hour, and again in
  ``called_back``.

Everything here is pure: records in, rows out. Local time is the server's (``time.localtime``),
the same as the journal's days.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from intake.core.demand import (
    IntervalDemand,
    IntervalTally,
    SignedIn,
    from_tallies,
    quarter_tallies,
)
from intake.core.metrics import LONG_WAIT_SECONDS, AnswerTimes

HOME_OFFICE_SECONDS = 10.0
"""The published 999 measure: answered within 10 s of the call's connection to the force."""
GRADINGS = ("emergency", "priority", "scheduled", "resolved")

Settled = Literal["answered", "abandoned", "left"]


@dataclass(frozen=True, slots=True)
class JournalCall:
    """One call's stay in a queue, as the journal holds it, with the handler's grading if filed.

    The reports' own slim view of a journal record: a year is ~1.5 million of them, read in one go.
    It is an :class:`intake.core.demand.Offered` too: the demand figures read the same records.
    """

    call_id: str
    line: str
    queued_at: float
    settled: Settled
    waited_seconds: float
    """Queue entry to answer, or to leaving the queue."""
    waited_from_arrival: float | None
    target_seconds: float
    grading: str | None = None
    talk_seconds: float | None = None
    wrapup_seconds: float | None = None
    """Talk and measured wrap-up, where the journal has them (the demand figures' handle time)."""
    called_back: bool = False
    """The grading is a call-back's: the call was abandoned, and graded when its caller was called back."""

    @property
    def from_connection(self) -> float:
        """The wait as the Home Office measures it: from the call's arrival at the PBX where known."""
        return self.waited_from_arrival if self.waited_from_arrival is not None else self.waited_seconds


class LocalTime:
    """Local (day, hour) of an epoch, remembered per quarter hour: every zone's offset is a whole
    number of quarter hours, and a year's calls fall in ~35,000 of them, not 1.5 million."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[str, int]] = {}

    def __call__(self, at: float) -> tuple[str, int]:
        quarter = int(at // 900)
        found = self._seen.get(quarter)
        if found is None:
            t = time.localtime(quarter * 900)
            found = self._seen[quarter] = (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}", t.tm_hour)
        return found


@dataclass(slots=True)
class Tally:
    """One line's calls over a day or a month: what a return's row is made of. Tallies add up
    (days into a month, sites into a force), so a day's can be kept and a month read from 30 of them."""

    offered: int = 0
    answered: int = 0
    within_10s: int = 0
    within_target: int = 0
    over_2min: int = 0
    abandoned: int = 0
    targets: set[float] = field(default_factory=set)
    times: AnswerTimes = field(default_factory=AnswerTimes)

    def add(self, call: JournalCall) -> None:
        waited = call.from_connection
        self.offered += 1
        self.targets.add(call.target_seconds)
        self.over_2min += waited > LONG_WAIT_SECONDS
        if call.settled == "abandoned":
            self.abandoned += 1
        elif call.settled == "answered":
            self.answered += 1
            self.within_10s += waited <= HOME_OFFICE_SECONDS
            self.within_target += call.waited_seconds <= call.target_seconds
            self.times.add(waited)

    def merge(self, other: Tally) -> None:
        for name in ("offered", "answered", "within_10s", "within_target", "over_2min", "abandoned"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.targets |= other.targets
        self.times.bins.update(other.times.bins)
        self.times.count += other.times.count
        self.times.total += other.times.total

    # Any: a JSON view (plain values), the day summary's stored form
    def dump(self) -> dict[str, Any]:
        return {"offered": self.offered, "answered": self.answered, "within_10s": self.within_10s,
                "within_target": self.within_target, "over_2min": self.over_2min, "abandoned": self.abandoned,
                "targets": sorted(self.targets), "bins": {str(b): n for b, n in self.times.bins.items()},
                "count": self.times.count, "total": self.times.total}

    @classmethod
    # Any: a JSON view (plain values), as :meth:`dump` wrote it
    def load(cls, data: dict[str, Any]) -> Tally:
        times = AnswerTimes(Counter({int(b): int(n) for b, n in data["bins"].items()}), int(data["count"]), float(data["total"]))
        return cls(int(data["offered"]), int(data["answered"]), int(data["within_10s"]), int(data["within_target"]),
                   int(data["over_2min"]), int(data["abandoned"]), {float(t) for t in data["targets"]}, times)

    # Any: a JSON view (plain values, as the wire carries them)
    def row(self, month: str, line: str) -> dict[str, Any]:
        return {"month": month, "line": line, "offered": self.offered, "answered": self.answered,
                "answered_within_10s": self.within_10s, "answered_within_10s_pct": _pct(self.within_10s, self.answered),
                "mean_answer_seconds": self.times.mean(), "p90_answer_seconds": self.times.percentile(90),
                "waited_over_2min": self.over_2min, "abandoned": self.abandoned, "abandoned_pct": _pct(self.abandoned, self.offered),
                "target_seconds": min(self.targets) if len(self.targets) == 1 else None,
                "answered_within_target": self.within_target,
                "answered_within_target_pct": _pct(self.within_target, self.offered)}


@dataclass(slots=True)
class DaySummary:
    """A local day's figures for the returns (a tally per line and the 999 gradings by hour) and
    its demand (sums per line and quarter hour). A past day's summary is kept beside the journal
    (:mod:`intake.app.journal_range`), so a year's return, staffing or forecast reads 365 of these
    instead of 1.5 million records."""

    records: int = 0
    """The journal's records for the day that this summary counts (its check against the journal)."""
    talks: int = 0
    """The talk times filed for the day's calls when it was made (the other check)."""
    lines: dict[str, Tally] = field(default_factory=dict)
    graded: Counter[tuple[int, str]] = field(default_factory=Counter)
    """999 calls by (local hour, grading)."""
    called_back: Counter[tuple[int, str]] = field(default_factory=Counter)
    """Those of them graded by a call-back (abandoned calls), by (local hour, grading)."""
    wrapups: int = 0
    """The measured wrap-ups filed for the day's calls when it was made (the third check)."""
    quarters: dict[tuple[str, float], IntervalTally] = field(default_factory=dict)
    """The day's demand as sums per (line, local quarter hour) (:func:`intake.core.demand.quarter_tallies`:
    calls, answers, talk, wrap-up, waits), for the staffing and the forecast: a year is then ~70,000
    of these, not 1.5 million records, and adds up to the very figures the records give."""

    def count_demand(self, calls: Iterable[JournalCall], wrapups: Mapping[str, float]) -> None:
        """Set the day's demand from its calls."""
        self.quarters = quarter_tallies(calls, wrapups)

    def add(self, call: JournalCall, hour: int) -> None:
        tally = self.lines.get(call.line)
        if tally is None:
            tally = self.lines[call.line] = Tally()
        tally.add(call)
        if call.line == "999" and call.grading is not None:
            self.graded[(hour, call.grading)] += 1
            if call.called_back:
                self.called_back[(hour, call.grading)] += 1

    def demand_in(self, seconds: int, signed_in: Iterable[SignedIn] = ()) -> list[IntervalDemand]:
        """The day's demand in intervals of ``seconds`` (a quarter, half or whole hour)."""
        return from_tallies(self.quarters, seconds, signed_in)

    def merge(self, other: DaySummary) -> None:
        self.records += other.records
        self.talks += other.talks
        self.wrapups += other.wrapups
        for line, tally in other.lines.items():
            self.lines.setdefault(line, Tally()).merge(tally)
        self.graded.update(other.graded)
        self.called_back.update(other.called_back)
        for key, quarter in other.quarters.items():  # two sites' calls in one quarter: one quarter
            mine = self.quarters.get(key)
            self.quarters[key] = quarter.copy() if mine is None else mine.merge(quarter)

    def dumps(self) -> bytes:
        return orjson.dumps({"records": self.records, "talks": self.talks, "lines": {l: t.dump() for l, t in self.lines.items()},
                             "graded": [[h, g, n] for (h, g), n in sorted(self.graded.items())],
                             "called_back": [[h, g, n] for (h, g), n in sorted(self.called_back.items())],
                             "wrapups": self.wrapups,
                             "quarters": [[l, t, *tally.dump()] for (l, t), tally in sorted(self.quarters.items())]})

    @classmethod
    def loads(cls, text: bytes | str, *, demand: bool = True, returns: bool = True) -> DaySummary:
        """The summary :meth:`dumps` wrote; ``demand=False`` leaves the day's demand out (a return
        does not need it), ``returns=False`` the return's tallies and gradings (the staffing does
        not need those). A summary kept before the demand was kept as sums has no ``quarters``:
        KeyError, and it is made again."""
        data = orjson.loads(text)
        return cls(int(data["records"]), int(data["talks"]),
                   {l: Tally.load(t) for l, t in data["lines"].items()} if returns else {},
                   Counter({(int(h), str(g)): int(n) for h, g, n in data["graded"]}) if returns else Counter(),
                   Counter({(int(h), str(g)): int(n) for h, g, n in data.get("called_back", ())}) if returns else Counter(),
                   int(data.get("wrapups", 0)),
                   {(str(q[0]), float(q[1])): IntervalTally.load(q[2:]) for q in data["quarters"]} if demand else {})


def summarise(calls: Iterable[JournalCall]) -> dict[str, DaySummary]:
    """The calls' summaries by local day (YYYY-MM-DD) of their queue entry."""
    local = LocalTime()
    days: dict[str, DaySummary] = {}
    for call in calls:
        day, hour = local(call.queued_at)
        summary = days.get(day)
        if summary is None:
            summary = days[day] = DaySummary()
        summary.records += 1
        summary.add(call, hour)
    return days


RETURN_COLUMNS = ("month", "line", "offered", "answered", "answered_within_10s", "answered_within_10s_pct",
                  "mean_answer_seconds", "p90_answer_seconds", "waited_over_2min", "abandoned", "abandoned_pct",
                  "target_seconds", "answered_within_target", "answered_within_target_pct")
MISUSE_COLUMNS = ("month", "hour", "grading", "calls", "called_back")


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


# Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
def monthly_returns(days: Mapping[str, DaySummary], lines: Sequence[str] = ("999", "101")) -> list[dict[str, Any]]:
    """One row per (month, line), months in order, each of ``lines`` in every month that has calls
    (a line with none that month reads as zeros, so a month's return is always whole)."""
    months: dict[str, dict[str, Tally]] = {}
    for day, summary in days.items():
        month = months.setdefault(day[:7], {})
        for line, tally in summary.lines.items():
            month.setdefault(line, Tally()).merge(tally)
    return [tallies.get(line, Tally()).row(month, line)
            for month, tallies in sorted(months.items()) for line in sorted({*lines, *tallies})]


# Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
def misuse(days: Mapping[str, DaySummary]) -> dict[str, Any]:
    """999 calls graded, by month, local hour and grading: ``rows`` has one row per (month, hour,
    grading) with calls (none for a zero), ``months`` each month's totals and its share not an
    emergency; ``called_back``, in both, those graded by a call-back to an abandoned call."""
    counts: Counter[tuple[str, int, str]] = Counter()
    called_back: Counter[tuple[str, int, str]] = Counter()
    for day, summary in days.items():
        for (hour, grading), n in summary.graded.items():
            counts[(day[:7], hour, grading)] += n
        for (hour, grading), n in summary.called_back.items():
            called_back[(day[:7], hour, grading)] += n
    order = {g: i for i, g in enumerate(GRADINGS)}
    rows = [{"month": m, "hour": h, "grading": g, "calls": n, "called_back": called_back[(m, h, g)]}
            for (m, h, g), n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], len(order))))]
    totals: dict[str, Counter[str]] = {}
    for (m, _, g), n in counts.items():
        totals.setdefault(m, Counter())[g] += n
    months = []
    for m in sorted(totals):
        graded = sum(totals[m].values())
        not_emergency = graded - totals[m]["emergency"]
        months.append({"month": m, "graded": graded, "not_emergency": not_emergency,
                       "not_emergency_pct": _pct(not_emergency, graded),
                       "by_grading": {g: totals[m][g] for g in GRADINGS},
                       "called_back": sum(n for (cm, _, _), n in called_back.items() if cm == m)})
    return {"rows": rows, "months": months}


# Any: a JSON view (plain values, as the wire carries them)
def as_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV in the documented column order: a header line, CRLF line ends, an absent
    figure (a percentage of nothing) as an empty field."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in columns})
    return out.getvalue()
