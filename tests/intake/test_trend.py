"""The day's trend per quarter hour: what the wallboard's plot is drawn from."""

from __future__ import annotations

import math

import pytest

from intake.core.trend import DayTrend, local_slot


def clock(day: str, hour: int, minute: int) -> float:
    """A fake PBX time that the test's slot_of reads back as (day, quarter hour)."""
    return int(day.replace("-", "")) * 10_000 + hour * 100 + minute


def slot_of(at: float) -> tuple[str, int]:
    if not math.isfinite(at):
        return "", -1
    whole = int(at)
    day, hhmm = divmod(whole, 10_000)
    d = str(day)
    return f"{d[:4]}-{d[4:6]}-{d[6:]}", (hhmm // 100) * 4 + (hhmm % 100) // 15


@pytest.mark.parametrize(("calls", "now", "points"), [
    ([], ("2026-12-02", 9, 0), []),
    # two in the 09:00 quarter hour (one within target), one at 09:20
    ([(("2026-12-02", 9, 1), True), (("2026-12-02", 9, 14), False), (("2026-12-02", 9, 20), True)],
     ("2026-12-02", 9, 30), [(36, 2, 1), (37, 1, 1)]),
    # a new day starts afresh
    ([(("2026-12-01", 23, 50), True), (("2026-12-02", 0, 5), False)], ("2026-12-02", 0, 6), [(0, 1, 0)]),
    # a late call of yesterday's does not wipe today's
    ([(("2026-12-02", 0, 5), True), (("2026-12-01", 23, 59), False)], ("2026-12-02", 0, 6), [(0, 1, 1)]),
    # once the day is over the trend reads empty (the wallboard at 00:01 shows the new day)
    ([(("2026-12-01", 23, 50), True)], ("2026-12-02", 0, 1), []),
])
def test_the_trend_counts_each_quarter_hour_of_today(calls, now, points):
    trend = DayTrend(slot_of)
    for at, within in calls:
        trend.add(clock(*at), within)
    assert trend.points(clock(*now)) == points


def test_a_time_no_calendar_shows_is_left_out():
    trend = DayTrend()
    for odd in (math.nan, math.inf, -math.inf, 1e300):
        trend.add(odd, True)
    assert trend.slots == {} and trend.day == ""
    assert local_slot(math.nan) == ("", -1)


def test_at_most_96_points_a_day_whatever_the_volume():
    trend = DayTrend(slot_of)
    for minute in range(24 * 60):
        for _ in range(5):
            trend.add(clock("2026-12-02", minute // 60, minute % 60), minute % 2 == 0)
    points = trend.points(clock("2026-12-02", 23, 59))
    assert len(points) == 96 and all(settled == 75 for _, settled, _ in points)


def test_sites_trends_add_up_for_today_only():
    north, south = DayTrend(slot_of), DayTrend(slot_of)
    north.add(clock("2026-12-02", 9, 0), True)
    south.add(clock("2026-12-02", 9, 5), False)
    south.add(clock("2026-12-02", 10, 0), True)
    stale = DayTrend(slot_of)
    stale.add(clock("2026-12-01", 9, 0), True)
    total = DayTrend.added([north, south, stale], clock("2026-12-02", 10, 1))
    assert total.points(clock("2026-12-02", 10, 1)) == [(36, 2, 1), (40, 1, 1)]
