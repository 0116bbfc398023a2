"""``[location]``: every problem named with its key, and the shipped file's settings."""

from __future__ import annotations

from typing import Any

import pytest

from intake.core import config
from intake.core.errors import ConfigError

BASE: dict[str, Any] = {"ami": {"secret": "env:X"}, "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]}]}


@pytest.mark.parametrize(("location", "path", "says"), [
    ({"order": ["call", "call"]}, "location.order", "names a source twice"),
    ({"order": ["call", "gps"]}, "location.order[1]", "'call', 'service' or 'history'"),
    ({"service_url": "ftp://els.example/{number}"}, "location.service_url", "must start with https://"),
    ({"service_url": "https://els.example/location"}, "location.service_url", "must hold {number} once"),
    ({"timeout_seconds": 0}, "location.timeout_seconds", "greater than 0"),
    ({"timeout_seconds": 120}, "location.timeout_seconds", "less than or equal to 30"),
    ({"history_max_age_days": -1}, "location.history_max_age_days", "greater than 0"),
    ({"servce_url": "https://els.example/?n={number}"}, "location.servce_url", "unknown key"),
])
def test_a_bad_location_setting_is_named(location: dict[str, Any], path: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse({**BASE, "location": location})
    (problem,) = caught.value.problems
    assert problem.path == path and says in str(caught.value)


def test_the_defaults_rank_the_call_first_and_ask_no_service() -> None:
    parsed = config.parse(BASE).location
    assert parsed.order == ("call", "service", "history") and not parsed.service_on
    on = config.parse({**BASE, "location": {"service_url": "https://els.example/v1?number={number}"}}).location
    assert on.service_on
    left_out = config.parse({**BASE, "location": {"service_url": "https://els.example/v1?number={number}",
                                                  "order": ["call", "history"]}}).location
    assert not left_out.service_on  # configured but not ranked: never asked


def test_the_shipped_file_ranks_the_sources_as_documented() -> None:
    shipped = config.load("config/intake.toml").location
    assert shipped.order == ("call", "service", "history") and shipped.service_url == ""
