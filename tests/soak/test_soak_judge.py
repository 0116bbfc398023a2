"""The soak's referee finds every way a journal can differ from queue_log, and excuses only calls
intake could not have seen (scripts/soak_judge.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from soak_judge import Outage, judge

from telephony.simulator.queue_log import QueueLogLine

ANSWERED = ["100|c1|emergency|NONE|ENTERQUEUE||07700900001|1", "104|c1|emergency|h1|CONNECT|4|c1.leg|3",
            "130|c1|emergency|h1|COMPLETEAGENT|4|26|1"]
ABANDONED = ["110|c2|non-emergency|NONE|ENTERQUEUE||07700900002|1", "119|c2|non-emergency|NONE|ABANDON|1|1|9"]


def lines(*texts: str) -> list[QueueLogLine]:
    return [QueueLogLine.parse(t) for t in texts]


def record(call_id: str, queue: str, settled: str, queued_at: float, waited: float) -> dict[str, Any]:
    return {"call_id": call_id, "queue": queue, "line": "999", "settled": settled, "queued_at": queued_at, "waited_seconds": waited}


GOOD = [record("c1", "emergency", "answered", 100.7, 4.2), record("c2", "non-emergency", "abandoned", 110.1, 9.3)]


def test_a_journal_that_agrees_holds_every_invariant() -> None:
    verdict = judge(lines(*ANSWERED, *ABANDONED), GOOD, [])
    assert all(v["held"] for v in verdict["invariants"].values()), verdict
    assert verdict["counts"]["followed"] == 2 and verdict["counts"]["outcomes"] == {"answered": 1, "abandoned": 1}


@pytest.mark.parametrize(("changed", "differs"), [
    (record("c1", "emergency", "abandoned", 100.7, 4.2), "outcome: queue_log answered, journal abandoned"),
    (record("c1", "emergency", "answered", 100.7, 5.0), "waited: queue_log 4 s, journal 5.000 s"),
    (record("c1", "emergency", "answered", 99.9, 4.2), "entered: queue_log 100, journal 99.900"),
    (record("c1", "emergency", "answered", 101.0, 4.2), "entered: queue_log 100, journal 101.000"),
])
def test_each_difference_is_named_with_the_call(changed: dict[str, Any], differs: str) -> None:
    verdict = judge(lines(*ANSWERED, *ABANDONED), [changed, GOOD[1]], [])
    held = verdict["invariants"]["journal_equals_queue_log"]
    assert not held["held"]
    assert [(m["call_id"], m["differs"]) for m in held["mismatches"]] == [("c1", [differs])]


def test_a_missing_record_of_a_call_intake_followed_is_a_mismatch() -> None:
    verdict = judge(lines(*ANSWERED, *ABANDONED), GOOD[1:], [])
    assert verdict["invariants"]["journal_equals_queue_log"]["mismatches"][0]["differs"] == ["missing from the journal"]


def test_a_call_talking_over_an_intake_kill_is_judged_apart_and_as_strictly() -> None:
    # c1 was answered at 104 and ended at 130; intake was dead from 120 to 125.
    verdict = judge(lines(*ANSWERED, *ABANDONED), GOOD[1:], [Outage(120.0, 125.0)])
    inv = verdict["invariants"]
    assert inv["journal_equals_queue_log"]["held"]
    assert not inv["across_intake_restart"]["held"]
    assert inv["across_intake_restart"]["mismatches"][0]["call_id"] == "c1"


def test_a_call_that_began_and_ended_while_intake_was_dead_may_be_absent() -> None:
    verdict = judge(lines(*ABANDONED), [], [Outage(109.5, 121.0)])
    assert all(v["held"] for v in verdict["invariants"].values()), verdict
    assert verdict["counts"]["invisible_absent_as_expected"] == 1


def test_a_record_settled_just_before_a_kill_counts_as_settled_unseen() -> None:
    # c2 abandoned at 119; intake killed at 120.5: its record may have been on its way to Redis.
    verdict = judge(lines(*ABANDONED), [], [Outage(120.5, 130.0)])
    assert verdict["counts"]["settled_unseen"] == 1
    inv = verdict["invariants"]
    assert inv["journal_equals_queue_log"]["held"] and not inv["outcome_recorded_when_settled_unseen"]["held"]


def test_a_call_answered_while_intake_was_dead_is_judged_on_its_outcome_only() -> None:
    # c1 answered at 104 while intake was dead (103-106): nobody can know its answer time afterwards.
    outage = [Outage(103.0, 106.0)]
    approximate = record("c1", "emergency", "answered", 100.7, 5.9)
    assert judge(lines(*ANSWERED), [approximate], outage)["invariants"]["outcome_recorded_when_settled_unseen"]["held"]
    wrong = record("c1", "emergency", "left", 100.7, 5.9)
    verdict = judge(lines(*ANSWERED), [wrong], outage)["invariants"]["outcome_recorded_when_settled_unseen"]
    assert verdict["mismatches"][0]["differs"] == ["outcome: queue_log answered, journal left"]


def test_a_call_gone_when_intake_came_back_may_say_its_outcome_is_unknown_but_not_claim_a_wrong_one() -> None:
    # c2 abandoned at 119 while intake was dead (118-125): the restarted intake found it gone.
    outage = [Outage(118.0, 125.0)]
    unknown = {**record("c2", "non-emergency", "left", 110.1, 15.0), "outcome_seen": False}
    verdict = judge(lines(*ABANDONED), [unknown], outage)
    assert verdict["invariants"]["outcome_recorded_when_settled_unseen"]["held"]
    assert verdict["counts"]["settled_unseen_outcome_unknown"] == 1
    claimed = {**record("c2", "non-emergency", "answered", 110.1, 15.0), "outcome_seen": False}
    assert not judge(lines(*ABANDONED), [claimed], outage)["invariants"]["outcome_recorded_when_settled_unseen"]["held"]
    followed = {**record("c2", "non-emergency", "left", 110.1, 9.3), "outcome_seen": False}  # intake was up: no excuse
    assert not judge(lines(*ABANDONED), [followed], [])["invariants"]["journal_equals_queue_log"]["held"]


def test_phantoms_duplicates_and_an_unfinished_queue_log_fail() -> None:
    phantom = record("c9", "emergency", "answered", 100.0, 1.0)
    verdict = judge(lines(*ANSWERED, ABANDONED[0]), [*GOOD, GOOD[0], phantom], [])
    inv = verdict["invariants"]
    assert inv["no_phantom_records"]["records"] == [phantom]
    assert [d["call_id"] for d in inv["no_duplicate_records"]["calls"]] == ["c1"]
    assert inv["queue_log_consistent"]["problems"] == ["c2: entered non-emergency at 110 and never ended"]


def test_an_abandoned_999_call_without_a_call_back_task_is_named() -> None:
    abandoned_999 = ["110|c3|emergency|NONE|ENTERQUEUE||07700900003|1", "115|c3|emergency|NONE|ABANDON|1|1|5"]
    journal = [*GOOD, record("c3", "emergency", "abandoned", 110.5, 5.1)]
    held = judge(lines(*ANSWERED, *ABANDONED, *abandoned_999), journal, [], callbacks={"c3"})["invariants"]
    assert held["callback_task_per_abandoned_999"]["held"]  # c2 abandoned 101: no task needed
    lost = judge(lines(*ANSWERED, *ABANDONED, *abandoned_999), journal, [], callbacks=set())["invariants"]
    assert lost["callback_task_per_abandoned_999"]["missing"] == [{"call_id": "c3", "queue": "emergency", "abandoned_at": 115}]
