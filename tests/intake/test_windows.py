"""The wallboard's "last 15 minutes" and "today" figures: pure structures fed with PBX times."""

from __future__ import annotations

from intake.core.metrics import DayTally, RollingWindow


def test_rolling_window_counts_calls_of_the_last_15_minutes_only():
    window = RollingWindow(seconds=900, step=10)
    window.add(1000.0, True)
    window.add(1005.0, False)
    window.add(1600.0, True)
    assert window.counts(1600.0) == (3, 2)
    assert window.counts(1000.0 + 900 + 10) == (1, 1)  # the first bucket has aged out
    assert window.report(3000.0) == {"settled": 0, "answered_within_target": 0, "answered_within_target_pct": None}


def test_rolling_window_keeps_a_late_call_in_order_and_reports_a_percentage():
    window = RollingWindow(seconds=60, step=10)
    window.add(120.0, True)
    window.add(100.0, False)  # arrived after a later one: still counted, still expires in turn
    assert window.report(125.0) == {"settled": 2, "answered_within_target": 1, "answered_within_target_pct": 50.0}
    assert window.counts(165.0) == (1, 1)


def test_day_tally_starts_again_on_a_new_day_and_reads_zero_once_the_day_is_over():
    tally = DayTally(day_of=lambda at: f"day{int(at // 100)}")
    tally.add(10, True)
    tally.add(20, False)
    assert tally.report(50) == {"day": "day0", "settled": 2, "answered_within_target": 1, "answered_within_target_pct": 50.0}
    assert tally.report(150)["settled"] == 0  # nothing yet today
    tally.add(160, True)
    assert tally.report(170) == {"day": "day1", "settled": 1, "answered_within_target": 1, "answered_within_target_pct": 100.0}


def test_a_window_nobody_reads_keeps_only_its_last_fifteen_minutes_of_buckets():
    window = RollingWindow(seconds=900, step=10)
    for second in range(0, 24 * 3600, 5):  # a day of calls, one every five seconds, never read
        window.add(1_790_000_000 + second, within=True)
    assert len(window._buckets) <= 91
    settled, _ = window.counts(1_790_000_000 + 24 * 3600)
    assert 900 / 5 - 2 <= settled <= 900 / 5 + 2  # 15 minutes' calls, to within a bucket
