"""``[incidents]`` is checked with every fault named, and a pop never lists incidents already removed."""

from __future__ import annotations

import pytest

from intake.core import config
from intake.core.errors import ConfigError

LINES = [{"name": "999", "target_seconds": 12, "queues": ["emergency"]}]


@pytest.mark.parametrize(("incidents", "problem"), [
    ({"radius_m": 0}, "incidents.radius_m: Input should be greater than 0"),
    ({"radius_m": 50_000}, "incidents.radius_m: Input should be less than or equal to 20000"),
    ({"limit": 0}, "incidents.limit: Input should be greater than or equal to 1"),
    ({"retention_days": 0}, "incidents.retention_days: Input should be greater than 0"),
    ({"period_days": 120, "retention_days": 90},
     "incidents: period_days (120) may not be longer than retention_days (90): a pop would list incidents already removed"),
    ({"radius": 500}, "incidents.radius: unknown"),
])
def test_the_incidents_section_is_checked(incidents: dict[str, object], problem: str) -> None:
    raw = {"ami": {"secret": "env:X"}, "incidents": incidents, "lines": LINES}
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    (said,) = caught.value.problems
    assert f"{said.path}: {said.message}".startswith(problem), said


def test_without_the_section_a_pop_lists_incidents_within_500_m_and_90_days() -> None:
    parsed = config.parse({"ami": {"secret": "env:X"}, "lines": LINES})
    assert (parsed.incidents.radius_m, parsed.incidents.period_days, parsed.incidents.retention_days) == (500, 90, 400)
