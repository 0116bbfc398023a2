"""[staffing]: defaults, and every bad value named by its key path."""

from __future__ import annotations

from typing import Any

import pytest

from intake.core import config
from intake.core.errors import ConfigError

BASE: dict[str, Any] = {"ami": {"secret": "env:X"}, "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]}]}


def test_staffing_has_defaults_a_control_room_can_start_from() -> None:
    s = config.parse(BASE).staffing
    assert (s.interval_minutes, s.handle_seconds, s.patience_seconds, s.history_weeks, s.held_back_weeks) == (15, 240, 120, 8, 2)


@pytest.mark.parametrize(("staffing", "path", "says"), [
    ({"interval_minutes": 20}, "staffing.interval_minutes", "15 or 30"),
    ({"handle_seconds": 0}, "staffing.handle_seconds", "greater than 0"),
    ({"patience_seconds": -1}, "staffing.patience_seconds", "greater than 0"),
    ({"history_weeks": 4, "held_back_weeks": 4}, "staffing", "fewer than history_weeks"),
    ({"goal": 90}, "staffing.goal", "unknown key"),  # the goal is each line's own goal_percent
])
def test_a_bad_staffing_value_is_named_by_its_key(staffing: dict[str, Any], path: str, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        config.parse({**BASE, "staffing": staffing})
    [problem] = refused.value.problems
    assert problem.path == path and says in problem.message
