"""The weekday x interval profile with a weekly trend, its forecast, and its back-test."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date

import pytest

from intake.core.demand import IntervalDemand
from intake.core.errors import StaffingError
from intake.core.forecast import backtest, fit, forecast, unseen_weekdays

HOUR = 3600
# Monday 2025-03-03 00:00 local time, whatever the machine's zone
MONDAY = time.mktime((2025, 3, 3, 0, 0, 0, 0, 0, -1))


def _at(day: int, hour: int) -> float:
    return time.mktime((2025, 3, 3 + day, hour, 0, 0, 0, 0, -1))


def _history(days: int, calls: Callable[[int, int], int], first_day: int = 0, line: str = "999") -> list[IntervalDemand]:
    """Hourly intervals (the profile takes any length; hours keep the test small) over ``days``."""
    rows = []
    for day in range(first_day, first_day + days):
        for hour in range(24):
            n = calls(day, hour)
            if n:
                rows.append(IntervalDemand(line, _at(day, hour), HOUR, n, n, 0, n, 180.0, None, 0.0, None))
    return rows


def _weekly(day: int, hour: int) -> int:
    """Friday nights busy, quiet small hours, the same every week."""
    return (40 if day % 7 == 4 and hour >= 20 else 12) if hour >= 7 else 2


def test_a_history_that_repeats_every_week_is_forecast_exactly() -> None:
    history = _history(28, _weekly)
    [profile] = fit(history, HOUR).values()
    assert profile.weekly_growth == pytest.approx(1.0)
    ahead = forecast({"999": profile}, _at(28, 0), _at(35, 0))
    assert len(ahead) == 7 * 24
    assert [round(f.offered, 9) for f in ahead] == [_weekly(28 + i // 24, i % 24) for i in range(7 * 24)]
    assert ahead[0].handle_seconds == 180.0
    [test] = backtest(history, HOUR, held_back=2)
    assert test.mean_absolute_error == pytest.approx(0) and test.weighted_absolute_percentage_error == pytest.approx(0)
    assert len(test.errors) == 7 * 24


def test_a_line_that_grows_is_forecast_at_its_trend() -> None:
    growth = 1.05 ** (1 / 52) * 1.01  # 999's 5% a year, and a little more
    history = _history(42, lambda d, h: round(1000 * _weekly(d, h) * growth ** (d // 7)))
    [profile] = fit(history, HOUR).values()
    assert profile.weekly_growth == pytest.approx(growth, abs=1e-4)
    friday_night = next(f for f in forecast({"999": profile}, _at(42 + 4, 21), _at(42 + 4, 22)))
    assert friday_night.offered == pytest.approx(1000 * 40 * growth ** 6, rel=1e-3)


def test_a_history_that_starts_mid_week_does_not_dilute_the_days_it_missed() -> None:
    history = _history(15, _weekly, first_day=2)  # Wednesday to the Thursday two weeks on
    [profile] = fit(history, HOUR).values()
    monday_noon = next(f for f in forecast({"999": profile}, _at(21, 12), _at(21, 13)))
    assert monday_noon.offered == pytest.approx(12)


def test_a_history_cut_in_the_middle_of_a_day_is_read_over_the_whole_days_it_is_given() -> None:
    # the weeks from a Monday, and the last hour of the Sunday before: that part-day is no quiet day
    history = _history(28, _weekly) + [r for r in _history(1, _weekly, first_day=-1) if r.start >= _at(-1, 23)]
    days = (date.fromtimestamp(MONDAY), date.fromtimestamp(_at(27, 0)))
    [profile] = fit(history, HOUR, days).values()
    assert profile.weekly_growth == pytest.approx(1.0)
    [test] = backtest(history, HOUR, held_back=2, days=days)
    assert test.weighted_absolute_percentage_error == pytest.approx(0)
    # read over its own first and last days instead, the part-day pulls the first week down: a trend that is not there
    [guessed] = fit(history, HOUR).values()
    assert guessed.weekly_growth > 1.01


def test_the_back_test_says_how_far_off_each_interval_was() -> None:
    rng = random.Random(7)
    history = _history(56, lambda d, h: _poisson(rng, 10 * _weekly(d, h)))
    [test] = backtest(history, HOUR, held_back=2)
    assert test.held_back_weeks == 2
    # Poisson counts around a forecast that knows the profile: the error is the noise, ~sqrt(n)
    friday_22 = next(e for e in test.errors if (e.weekday, e.interval) == (4, 22))
    assert friday_22.actual > 300 and friday_22.absolute_error < 4 * 400 ** 0.5
    assert 0 < test.weighted_absolute_percentage_error < 0.15
    # A flat forecast (one mean for every interval) does worse: the profile is worth having
    flat = sum(e.actual for e in test.errors) / len(test.errors)
    flat_error = sum(abs(flat - e.actual) for e in test.errors) / sum(e.actual for e in test.errors)
    assert test.weighted_absolute_percentage_error < flat_error / 2


def test_too_short_a_history_is_not_back_tested_and_a_bad_hold_back_is_refused() -> None:
    assert backtest(_history(10, _weekly), HOUR, held_back=2) == []
    with pytest.raises(StaffingError):
        backtest(_history(28, _weekly), HOUR, held_back=0)


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method is slow for large means; a normal approximation is plenty above 30
    if mean > 30:
        return max(0, round(rng.gauss(mean, mean ** 0.5)))
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def test_held_back_weeks_without_a_call_have_no_percentage_error() -> None:
    # calls in the first two weeks, none in the two held back: nothing to be a percentage of
    history = _history(14, _weekly)
    days = (date.fromtimestamp(MONDAY), date.fromtimestamp(_at(27, 0)))
    [test] = backtest(history, HOUR, held_back=2, days=days)
    assert test.weighted_absolute_percentage_error is None
    assert test.mean_absolute_error > 0  # the forecast said calls would come: it was off by them
    assert all(e.actual == 0 for e in test.errors)


def test_the_weekdays_asked_that_the_history_never_saw_are_named() -> None:
    monday = date.fromtimestamp(MONDAY)
    four_days = (monday, date.fromordinal(monday.toordinal() + 3))  # Monday to Thursday
    next_week = (date.fromordinal(monday.toordinal() + 7), date.fromordinal(monday.toordinal() + 13))
    assert unseen_weekdays(four_days, *next_week) == ["Friday", "Saturday", "Sunday"]
    assert unseen_weekdays(four_days, next_week[0], next_week[0]) == []  # a Monday: seen
    assert unseen_weekdays((monday, date.fromordinal(monday.toordinal() + 30)), *next_week) == []
    assert unseen_weekdays(None, next_week[0], next_week[0]) == ["Monday"]  # no history at all
