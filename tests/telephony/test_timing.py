from __future__ import annotations

import random

import pytest

from telephony.timing import Backoff, PbxClock, Throttle


def test_backoff_with_a_seeded_rng_grows_with_full_jitter_and_is_capped() -> None:
    backoff = Backoff(0.5, 8.0, random.Random(42))
    delays = [backoff.next() for _ in range(12)]
    ceilings = [min(8.0, 0.5 * 2**n) for n in range(12)]
    assert all(0.0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[5:]) <= 8.0


def test_backoff_is_reproducible_with_the_same_seed_and_restarts_after_reset() -> None:
    one, two = Backoff(1, 30, random.Random(7)), Backoff(1, 30, random.Random(7))
    assert [one.next() for _ in range(6)] == [two.next() for _ in range(6)]
    one.reset()
    assert one.attempt == 0 and one.ceiling(one.attempt) == 1


def test_backoff_survives_a_very_long_outage() -> None:
    backoff = Backoff(0.5, 30.0, random.Random(1))
    backoff.attempt = 10_000
    assert 0.0 <= backoff.next() <= 30.0


def test_backoff_refuses_a_maximum_below_initial() -> None:
    with pytest.raises(ValueError):
        Backoff(5, 1)


def test_pbx_clock_takes_the_least_delayed_recent_sample() -> None:
    local = [1000.0]
    clock = PbxClock(window=4, now=lambda: local[0])
    assert clock.now() == 1000.0  # no samples: our own clock
    for ts in (1001.8, 1001.9, 1001.5):  # the PBX runs ~2 s ahead; transit delays vary
        clock.observe(ts)
    assert clock.offset == pytest.approx(1.9)
    local[0] = 1010.0
    assert clock.now() == pytest.approx(1011.9)


# --- the PBX's Timestamp at the edge: one rule, clock injected -----------------------------------

LOCAL = 1_800_000_000.0
YEAR = 366 * 86400.0


@pytest.mark.parametrize("raw", ["inf", "-inf", "nan", "1e300", "-5", "0", "yesterday", "", f"{LOCAL + YEAR:.6f}",
                                 f"{LOCAL - 301:.6f}", f"{LOCAL + 301:.6f}"])
def test_an_absurd_or_distant_timestamp_is_replaced_by_the_estimate_counted_and_never_sampled(raw: str) -> None:
    local = [LOCAL]
    clock = PbxClock(now=lambda: local[0], max_skew=300)
    assert clock.stamp(f"{LOCAL + 2:.6f}") == LOCAL + 2  # the PBX runs 2 s ahead
    assert clock.stamp(raw) == pytest.approx(LOCAL + 2)  # our estimate of the PBX clock, not the frame's word
    assert (clock.rejected, clock.last_rejected) == (1, raw)
    local[0] += 10
    assert clock.now() == pytest.approx(LOCAL + 12)  # the offset is untouched by the bad frame


@pytest.mark.parametrize("skew", [-299.0, 0.0, 299.0])
def test_a_timestamp_within_the_allowed_skew_is_the_events_time_and_a_clock_sample(skew: float) -> None:
    clock = PbxClock(now=lambda: LOCAL, max_skew=300)
    assert clock.stamp(f"{LOCAL + skew:.6f}") == pytest.approx(LOCAL + skew)
    assert clock.rejected == 0 and clock.offset == pytest.approx(skew)


def test_the_clock_refuses_an_out_of_bounds_sample_given_directly() -> None:
    clock = PbxClock(now=lambda: LOCAL, max_skew=300)
    for value in (float("inf"), float("nan"), LOCAL + YEAR, -5.0):
        assert not clock.observe(value)
    assert clock.offset == 0.0 and clock.now() == LOCAL


def test_the_clock_refuses_a_skew_that_is_not_a_positive_number() -> None:
    for skew in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError):
            PbxClock(max_skew=skew)


def test_a_flood_of_bad_timestamps_is_logged_once_a_while_not_once_a_frame() -> None:
    mono = [0.0]
    throttle = Throttle(60.0, now=lambda: mono[0])
    due = [throttle.due() for _ in range(1000)]
    assert due.count(True) == 1 and due[0]
    mono[0] = 61.0
    assert throttle.due() and not throttle.due()
