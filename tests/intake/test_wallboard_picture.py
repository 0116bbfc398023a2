"""The wallboard's own rules: goals, counts of handlers by state, abandoned share, time in state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from intake.app.wallboard import StateClocks, abandoned_pct, counts, goal_tone
from intake.core import config
from intake.core.errors import ConfigError
from tests.intake.two_sites import two_sites
from tests.waiting import eventually, patience


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


async def test_the_pictures_trend_and_shares_add_up_the_sites_and_handlers_count_by_site(redis_client: Any):
    async with two_sites(redis_client) as rig:
        rig.sims["north"].place_call("emergency", "07700900211", "North Caller")
        south = rig.sims["south"].place_call("emergency", "07700900311", "South Caller")
        await eventually(lambda: rig.server.sites["south"].registry.calls, 10, "south's call queued")
        rig.sims["south"].hangup_caller(south)
        await eventually(lambda: rig.server.sites["south"].registry.metrics.lines["999"].abandoned == 1, 10, "south's abandon")
        await rig.sims["north"].wait_ringing("PJSIP/handler-1", patience(10))
        rig.sims["north"].answer("PJSIP/handler-1")
        await eventually(lambda: rig.server.sites["north"].registry.metrics.lines["999"].answered == 1, 10, "north's answer")

        picture = rig.server.picture()
        json.dumps(picture)  # the wire carries it as it is
        line = picture["lines"]["999"]
        assert (line["goal_percent"], line["abandoned_pct"]) == (90.0, 50.0)
        assert line["today_tone"] == "red"  # 1 of 2 within target
        trend = line["trend"]
        assert sum(settled for _, settled, _ in trend) == 2 and sum(within for _, _, within in trend) == 1
        assert 1 <= len(trend) <= 2  # the quarter hour (or two, across a boundary) of both calls
        north, south_queue = (picture["sites"][s]["queues"]["emergency"] for s in ("north", "south"))
        assert north["handlers"]["on-call"] == 1 and south_queue["handlers"]["on-call"] == 0
        assert line["handlers"]["on-call"] == 1
        assert (north["abandoned_pct"], south_queue["abandoned_pct"]) == (0.0, 100.0)
        assert all(isinstance(h["state_since"], float) for h in picture["handlers"])
        assert picture["handler_names"]["n1"] == "north 1"
        # needed now: both sites' 999 arrivals in one rate; working counts everyone not away
        needed = line["needed_now"]
        assert needed["arrivals_per_hour"] > 0 and needed["needed"] >= 1
        assert needed["working"] == sum(line["handlers"][s] for s in ("ready", "ringing", "on-call", "wrap-up"))
        assert needed["short"] == max(0, needed["needed"] - needed["working"])
        assert needed["tone"] == ("red" if needed["short"] else "")
