"""Erlang A's recommendation against the simulated PBX: the busy-hour replay (the production
routing path on a virtual clock, routing/scenario/replay.py) staffed with the handlers Erlang A
says a 999 line needs meets the line's goal, and with one handler fewer it does not.

The hours are the model's own assumptions as far as the simulator plays them: Poisson arrivals at
a steady rate, exponential talk, wrap-up and patience. What the model does not see is the
simulator's, as a PBX's: the phone rings for a second before the answer (counted in the caller's
wait and in the handler's time), and app_queue's retry after a handler frees up. The runs are
deterministic per seed (the calls are drawn once, and both runs replay the same callers).
"""

from __future__ import annotations

from pathlib import Path

from intake.core.config import read_toml
from intake.core.erlang import Demand, Goal, handlers_needed, performance
from routing.scenario.load import draw_calls
from routing.scenario.profile import Profile
from routing.scenario.replay import replay, staffed

REPO = Path(__file__).resolve().parents[2]
CALLS_PER_HOUR = 50
HOURS = 8
RING, TALK, WRAPUP, PATIENCE = 1.0, 120.0, 30.0, 60.0


def _hours(handlers: int) -> Profile:
    steady = [CALLS_PER_HOUR] * HOURS
    return Profile.model_validate({
        "name": "steady 999 evening", "seed": 1, "interval_seconds": 3600,
        "ring_seconds": {"distribution": "fixed", "seconds": RING},
        "handlers": {"only_999": handlers, "only_101": 0, "both": 0},
        "lines": {
            "999": {"arrivals_per_hour": steady,
                    "talk_seconds": {"distribution": "exponential", "mean": TALK},
                    "wrapup_seconds": {"distribution": "exponential", "mean": WRAPUP},
                    "patience_seconds": {"distribution": "exponential", "mean": PATIENCE}},
            "101": {"arrivals_per_hour": [0] * HOURS,
                    "talk_seconds": {"distribution": "fixed", "seconds": 60},
                    "wrapup_seconds": {"distribution": "fixed", "seconds": 5},
                    "patience_seconds": {"distribution": "fixed", "seconds": 60}},
        },
    })


def _simulated_service_level(handlers: int) -> float:
    profile = _hours(handlers)
    config = staffed(read_toml(REPO / "config" / "intake.toml"), profile, "config/intake.toml")
    line = replay(config, profile, draw_calls(profile), policy=False)["lines"]["999"]
    assert line["offered"] > CALLS_PER_HOUR * HOURS * 0.8
    return float(line["answered_within_target"]) / float(line["offered"])


def test_the_handlers_erlang_a_recommends_meet_the_goal_in_the_simulator_and_one_fewer_do_not() -> None:
    config = read_toml(REPO / "config" / "intake.toml")
    target = next(float(line["target_seconds"]) for line in config["lines"] if line["name"] == "999")
    # 80% rather than 999's 90%: the model's step from one handler to the next must stand clear of
    # an evening's chance (seeds 1-3 of this hour put the simulated level 0.85-0.89 with the
    # recommendation and 0.70-0.75 with one fewer; the model says 0.88 and 0.74).
    goal = Goal(within_seconds=target - RING, fraction=0.8)  # the ring is part of the caller's wait
    demand = Demand(CALLS_PER_HOUR / 3600, handle_seconds=RING + TALK + WRAPUP, patience_seconds=PATIENCE)
    needed = handlers_needed(demand, goal)
    assert needed == 4  # the figure the model gives for this hour: a change in the model shows here first

    recommended, one_fewer = _simulated_service_level(needed), _simulated_service_level(needed - 1)
    assert recommended >= goal.fraction > one_fewer
    for handlers, simulated in ((needed, recommended), (needed - 1, one_fewer)):
        assert abs(simulated - performance(handlers, demand, goal.within_seconds).service_level) < 0.05
