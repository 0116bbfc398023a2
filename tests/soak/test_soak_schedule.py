"""The soak's fault schedule: every fault in the middle half of the run, the first and last
quarters left as baseline and steady state, intake killed only early enough that the process of
the last quarter has lived through it; bounded in count (scripts/soak.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from soak import CYCLE, schedule

KINDS = {"stalled_desktop", "slow_redis", "redis_kill", "pbx_restart", "intake_kill"}


@pytest.mark.parametrize("minutes", [1, 2, 30, 240])
def test_faults_fall_in_the_middle_half_and_intake_is_killed_early(minutes: float) -> None:
    seconds = minutes * 60
    faults = schedule(seconds)
    assert {f.kind for f in faults} == KINDS
    assert [f.at for f in faults] == sorted(f.at for f in faults)
    for f in faults:
        if f.kind != "stalled_desktop" or f.at != 5.0:  # the first stalled desktop opens with the run
            assert seconds / 4 <= f.at < seconds * 3 / 4, f
    kills = [f.at for f in faults if f.kind == "intake_kill"]
    assert kills[0] < seconds * 3 / 4 and all(at < seconds / 2 + CYCLE[-1][0] for at in kills[1:])
    assert len(faults) <= len(CYCLE) * (seconds / 80 + 1) + seconds / 80 + 1  # one round per 80 s at most
