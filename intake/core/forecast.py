"""The next days' calls per line and interval, from the journal's history: a weekday x interval
profile with a weekly trend, and how good it has been (back-testing on held-back weeks).

Pure: :class:`~intake.core.demand.IntervalDemand` history in, :class:`Forecast` rows out. The model
is the one control rooms already reason in: a Friday 22:00 is like the last Fridays 22:00, scaled
by how the line has grown week on week (999 volumes rise ~5% a year). Its quality is measured
the only honest way: fit on all but the last ``held_back`` weeks, forecast those, and report the
error per interval of the day.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from intake.core.demand import IntervalDemand, interval_start
from intake.core.errors import StaffingError

WEEK = 7 * 86_400
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class LineProfile:
    """One line's fitted model."""

    line: str
    seconds: int
    """The interval length the profile is in."""
    weeks: int
    """How many weeks of history it was fitted on."""
    offered: dict[tuple[int, int], float]
    """(weekday 0=Monday, interval of the day) -> mean calls offered, at the history's last week."""
    handle_seconds: dict[tuple[int, int], float]
    patience_seconds: dict[tuple[int, int], float]
    weekly_growth: float
    """Factor the line's volume grows by each week (1.0: flat; 1.05 ** (1 / 52): 5% a year)."""
    last_week_start: float
    """An epoch in the history's last week (its last interval's start): forecasts are scaled by
    the trend from that week on."""


@dataclass(frozen=True, slots=True)
class Forecast:
    """One line's interval ahead."""

    line: str
    start: float
    seconds: int
    offered: float
    handle_seconds: float | None
    patience_seconds: float | None


@dataclass(frozen=True, slots=True)
class IntervalError:
    """How far the forecast was from what happened, for one interval of the day over the held-back weeks."""

    line: str
    weekday: int
    interval: int
    forecast: float
    actual: float
    absolute_error: float


@dataclass(frozen=True, slots=True)
class Backtest:
    line: str
    held_back_weeks: int
    errors: tuple[IntervalError, ...]
    mean_absolute_error: float
    """Calls per interval."""
    weighted_absolute_percentage_error: float | None
    """Sum of absolute errors over sum of actual calls (WAPE): a figure that quiet night intervals
    cannot blow up as a mean of percentages would. None when the held-back weeks had no call (no
    percentage of nothing)."""


def fit(history: Sequence[IntervalDemand], seconds: int, days: tuple[date, date] | None = None) -> dict[str, LineProfile]:
    """Each line's profile from its history (intervals of ``seconds``) over the local ``days``
    (first, last: whole days; default the first and last days the history has a call on)."""
    by_line: dict[str, list[IntervalDemand]] = {}
    for d in history:
        if d.seconds != seconds:
            raise StaffingError("seconds", d.seconds, f"the history's intervals all of {seconds} s")
        by_line.setdefault(d.line, []).append(d)
    return {line: _fit_line(line, rows, seconds, _covered(rows, days)) for line, rows in sorted(by_line.items())}


def forecast(profiles: dict[str, LineProfile], start: float, end: float) -> list[Forecast]:
    """Every line's intervals from ``start`` to ``end`` (epochs), by line then start."""
    rows = []
    for line, p in sorted(profiles.items()):
        at = interval_start(start, p.seconds)
        while at < end:
            week, weekday, slot = _position(at, p.seconds)
            key = (weekday, slot)
            ahead = week - _week_of(p.last_week_start)
            rows.append(Forecast(line, at, p.seconds, p.offered.get(key, 0.0) * p.weekly_growth ** ahead,
                                 p.handle_seconds.get(key), p.patience_seconds.get(key)))
            at = interval_start(at + p.seconds + 1, p.seconds)  # + 1: a DST change's repeated hour moves on
    return rows


def backtest(history: Sequence[IntervalDemand], seconds: int, held_back: int = 2,
             days: tuple[date, date] | None = None) -> list[Backtest]:
    """Fit on all but the last ``held_back`` weeks, forecast those, compare; one Backtest per line
    (a line with fewer weeks than ``held_back`` + 1 has nothing to learn from and is left out)."""
    if held_back < 1:
        raise StaffingError("held_back", held_back, "1 week or more")
    results = []
    by_line: dict[str, list[IntervalDemand]] = {}
    for d in history:
        by_line.setdefault(d.line, []).append(d)
    for line, rows in sorted(by_line.items()):
        covered = _covered(rows, days)
        first, last = covered[0][0], covered[-1][0]
        cut = last - held_back + 1
        if cut <= first:
            continue
        training = [d for d in rows if _position(d.start, seconds)[0] < cut]
        if not training:
            continue
        profile = _fit_line(line, training, seconds, [c for c in covered if c[0] < cut])
        actual: dict[tuple[int, int, int], float] = {}
        for d in rows:
            key = _position(d.start, seconds)
            actual[key] = actual.get(key, 0) + d.offered
        slots: dict[int, set[int]] = {}
        for weekday, slot in profile.offered.keys() | {(wd, sl) for _, wd, sl in actual}:
            slots.setdefault(weekday, set()).add(slot)
        sums: dict[tuple[int, int], list[float]] = {}
        for week, weekday in covered:
            if week < cut:
                continue
            for slot in slots.get(weekday, ()):
                predicted = profile.offered.get((weekday, slot), 0.0) * profile.weekly_growth ** (week - (cut - 1))
                happened = actual.get((week, weekday, slot), 0.0)
                s = sums.setdefault((weekday, slot), [0.0, 0.0, 0.0, 0.0])
                s[0] += predicted
                s[1] += happened
                s[2] += abs(predicted - happened)
                s[3] += 1
        errors = tuple(IntervalError(line, wd, sl, f / n, a / n, e / n) for (wd, sl), (f, a, e, n) in sorted(sums.items()))
        total_error = sum(e.absolute_error for e in errors)
        total_actual = sum(e.actual for e in errors)
        results.append(Backtest(line, held_back, errors, total_error / len(errors) if errors else 0.0,
                                total_error / total_actual if total_actual else None))
    return results


def unseen_weekdays(history_days: tuple[date, date] | None, first: date, last: date) -> list[str]:
    """The weekdays of the days ``first`` to ``last`` that the history's days (first, last; None:
    no history) hold none of, Monday first: the profile knows nothing of them, and forecasts them
    as no calls."""
    seen = set() if history_days is None else {
        date.fromordinal(o).weekday() for o in range(history_days[0].toordinal(), min(history_days[1].toordinal(),
                                                                                      history_days[0].toordinal() + 6) + 1)}
    asked = {date.fromordinal(o).weekday() for o in range(first.toordinal(), min(last.toordinal(), first.toordinal() + 6) + 1)}
    return [WEEKDAYS[d] for d in sorted(asked - seen)]


def _week_of(at: float) -> int:
    return (date.fromtimestamp(at).toordinal() - 1) // 7  # 0001-01-01 was a Monday: weeks run Monday-Sunday


def _position(at: float, seconds: int) -> tuple[int, int, int]:
    """(week, weekday, interval of the day) of an epoch on the local clock."""
    t = time.localtime(at)
    return _week_of(at), t.tm_wday, (t.tm_hour * 3600 + t.tm_min * 60 + t.tm_sec) // seconds


def _covered(rows: Sequence[IntervalDemand], days: tuple[date, date] | None) -> list[tuple[int, int]]:
    """(week, weekday) of every day the history covers (``days``, or its first interval's day to
    its last's): a day in that span with no call in an interval counts 0 there; a day outside it
    counts nowhere. A day the history has only part of would read as a quiet day: give ``days``."""
    if days is not None:
        first_day, last_day = days[0].toordinal(), days[1].toordinal()
    else:
        first_day = date.fromtimestamp(min(d.start for d in rows)).toordinal()
        last_day = date.fromtimestamp(max(d.start for d in rows)).toordinal()
    return [((o - 1) // 7, (o - 1) % 7) for o in range(first_day, last_day + 1)]


def _fit_line(line: str, rows: Sequence[IntervalDemand], seconds: int, covered: list[tuple[int, int]]) -> LineProfile:
    counts: dict[tuple[int, int, int], int] = {}
    handle: dict[tuple[int, int], list[float]] = {}
    patience: dict[tuple[int, int], list[float]] = {}
    for d in rows:
        week, weekday, slot = _position(d.start, seconds)
        counts[(week, weekday, slot)] = counts.get((week, weekday, slot), 0) + d.offered
        if d.handle_seconds is not None:
            h = handle.setdefault((weekday, slot), [0.0, 0.0])
            h[0] += d.handle_seconds * d.answered
            h[1] += d.answered
        p = patience.setdefault((weekday, slot), [0.0, 0.0])
        p[0] += d.waited_seconds
        p[1] += d.abandoned
    first, last = covered[0][0], covered[-1][0]
    # Each week's level: its calls over what its days bring on average (a partial first or last
    # week, or one without its Friday, is measured against the days it has).
    day_total = {(w, wd): 0.0 for w, wd in covered}
    for (w, wd, _), n in counts.items():
        day_total[(w, wd)] = day_total.get((w, wd), 0.0) + n
    weekday_mean = {wd: sum(day_total[(w, d)] for w, d in covered if d == wd) / sum(1 for _, d in covered if d == wd)
                    for wd in {d for _, d in covered}}
    level = {w: sum(day_total[(wk, wd)] for wk, wd in covered if wk == w)
               / (sum(weekday_mean[wd] for wk, wd in covered if wk == w) or 1.0) for w in range(first, last + 1)}
    growth = _weekly_growth(level)
    # Each (weekday, interval)'s mean over the weeks that cover that weekday, every week brought to
    # the last week's level by the trend.
    offered = {}
    for weekday, slot in {(wd, sl) for _, wd, sl in counts}:
        weeks = [wk for wk, wd in covered if wd == weekday]
        offered[(weekday, slot)] = sum(counts.get((w, weekday, slot), 0) * growth ** (last - w) for w in weeks) / len(weeks)
    return LineProfile(line, seconds, last - first + 1, offered,
                       {k: h / n for k, (h, n) in handle.items() if n},
                       {k: w / n for k, (w, n) in patience.items() if n},
                       growth, max(d.start for d in rows))


def _weekly_growth(level: dict[int, float]) -> float:
    """The week-on-week factor of a log-linear fit to each week's level; 1.0 with fewer than two weeks."""
    weeks = [w for w, n in sorted(level.items()) if n > 0]
    if len(weeks) < 2:
        return 1.0
    xs = [float(w) for w in weeks]
    ys = [math.log(level[w]) for w in weeks]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return math.exp(slope)
