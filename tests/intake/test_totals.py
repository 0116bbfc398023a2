"""The total over PBX sites is what one site would show had it seen every site's calls: counts
added, the answer times' distribution merged (so the mean and 90th percentile are exact), the
last 15 minutes and today added."""

from __future__ import annotations

import time

import pytest

from intake.core.metrics import QueueMetrics, Settlement
from intake.core.totals import total_report

QUEUES = {"emergency": ("999", 12.0), "non-emergency": ("101", 60.0)}
NOW = time.time()

NORTH = [Settlement("emergency", "answered", NOW - 30, 4.0, 6.0, 12.0),
         Settlement("emergency", "answered", NOW - 20, 15.0, 16.0, 12.0),
         Settlement("emergency", "abandoned", NOW - 10, 30.0, None, 12.0),
         Settlement("non-emergency", "answered", NOW - 1000, 70.0, None, 60.0)]
SOUTH = [Settlement("emergency", "answered", NOW - 25, 2.5, 3.0, 12.0),
         Settlement("emergency", "left", NOW - 5, 130.0, None, 12.0),
         Settlement("non-emergency", "abandoned", NOW - 40, 9.0, None, 60.0)]


def site(settled: list[Settlement]) -> QueueMetrics:
    metrics = QueueMetrics(QUEUES)
    metrics.seed(settled)
    return metrics


@pytest.mark.parametrize(("north", "south"), [(NORTH, SOUTH), (NORTH, []), ([], SOUTH), ([], [])],
                         ids=["both", "north only", "south only", "none"])
def test_the_total_of_two_sites_is_one_site_that_saw_every_call(north: list[Settlement], south: list[Settlement]):
    total = total_report([(site(north), []), (site(south), [])], NOW)
    assert total == site(north + south).report([], NOW)


def test_the_total_names_each_queue_s_line_and_adds_a_site_s_queue_the_other_has_not():
    only_north = QueueMetrics({"emergency": ("999", 12.0), "north-101": ("101", 60.0)})
    total = total_report([(only_north, []), (site(SOUTH), [])], NOW)
    assert {q: f["line"] for q, f in total["queues"].items()} == {"emergency": "999", "north-101": "101", "non-emergency": "101"}
    assert total["lines"]["101"]["abandoned"] == 1
