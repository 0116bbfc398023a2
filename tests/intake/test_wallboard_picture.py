"""The wallboard's own rules: goals, counts of handlers by state, abandoned share, time in state."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.app.wallboard import StateClocks, abandoned_pct, counts, goal_tone
from intake.core import config
from intake.core.errors import ConfigError


@pytest.mark.parametrize(("share", "goal", "tone"), [
    (None, 90.0, ""),  # no call settled yet: nothing to colour
    (95.0, None, ""),
    (90.0, 90.0, "ok"),
    (100.0, 90.0, "ok"),
    (89.9, 90.0, "amber"),
    (85.0, 90.0, "amber"),
    (84.9, 90.0, "red"),
    (0.0, 90.0, "red"),
])
def test_a_share_is_coloured_against_its_goal(share, goal, tone):
    assert goal_tone(share, goal) == tone


def test_on_call_means_talking_only_and_every_state_is_counted_once():
    handlers = [{"state": s} for s in ("ringing", "on-call", "on-call", "wrap-up", "not-ready", "ready", "logged-out")]
    assert counts(handlers) == {"ready": 1, "ringing": 1, "on-call": 2, "wrap-up": 1, "not-ready": 1}


@pytest.mark.parametrize(("answered", "abandoned", "left", "pct"), [
    (0, 0, 0, None), (9, 1, 0, 10.0), (6, 3, 1, 30.0), (0, 2, 0, 100.0),
])
def test_abandoned_share_is_of_settled_calls(answered, abandoned, left, pct):
    assert abandoned_pct({"answered": answered, "abandoned": abandoned, "left_other": left}) == pct


def test_time_in_state_starts_when_the_state_changes_and_a_gone_handler_is_forgotten():
    clocks = StateClocks()
    h1 = {"site": "a", "member": "PJSIP/1"}
    assert clocks.stamp([{**h1, "state": "ready"}], 100.0)[0]["state_since"] == 100.0
    assert clocks.stamp([{**h1, "state": "ready"}], 130.0)[0]["state_since"] == 100.0
    assert clocks.stamp([{**h1, "state": "on-call"}], 140.0)[0]["state_since"] == 140.0
    clocks.stamp([], 150.0)
    assert clocks.stamp([{**h1, "state": "on-call"}], 160.0)[0]["state_since"] == 160.0


@pytest.mark.parametrize("goal", [0, -5, 100.5, "ninety"])
def test_a_goal_outside_0_to_100_is_refused_with_its_key(goal):
    raw = {"ami": {"secret": "env:X"}, "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"], "goal_percent": goal}]}
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    assert [p.path for p in caught.value.problems] == ["lines[0].goal_percent"]


def test_the_goal_defaults_to_90_and_the_shipped_config_sets_it():
    raw = {"ami": {"secret": "env:X"}, "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]}]}
    assert config.parse(raw).lines[0].goal_percent == 90.0
    shipped = config.load(Path(__file__).resolve().parents[2] / "config" / "intake.toml")
    assert {line.name: line.goal_percent for line in shipped.lines} == {"999": 90.0, "101": 80.0}
