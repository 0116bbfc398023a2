from __future__ import annotations

import random

import pytest

from telephony.timing import Backoff, PbxClock


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
