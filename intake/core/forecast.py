"""The next days' calls per line and interval, from the journal's history: a weekday x interval
profile with a weekly trend, and how good it has been (back-testing on held-back weeks).

Pure: :class:`~intake.core.demand.IntervalDemand` history in, :class:`Forecast` rows out. The model
is the one control rooms already reason in: a Friday 22:00 is like the last Fridays 22:00, scaled
by how the line has grown week on week (999 volumes rise ~5% a year). Its quality is measured
the only honest way: fit on all but the last ``held_back`` weeks, forecast those, and report the
error per interval of the day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from intake.core.demand import IntervalDemand

WEEK = 7 * 86_400


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
    """Epoch the history's last week started at: forecasts are scaled from there."""


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
    weighted_absolute_percentage_error: float
    """Sum of absolute errors over sum of actual calls (WAPE): a figure that quiet night intervals
    cannot blow up as a mean of percentages would."""


def fit(history: Sequence[IntervalDemand], seconds: int) -> dict[str, LineProfile]:
    """Each line's profile from its history (intervals of ``seconds``)."""
    raise NotImplementedError


def forecast(profiles: dict[str, LineProfile], start: float, end: float) -> list[Forecast]:
    """Every line's intervals from ``start`` to ``end`` (epochs), in order."""
    raise NotImplementedError


def backtest(history: Sequence[IntervalDemand], seconds: int, held_back: int = 2) -> list[Backtest]:
    """Fit on all but the last ``held_back`` weeks, forecast those, compare; one Backtest per line."""
    raise NotImplementedError
