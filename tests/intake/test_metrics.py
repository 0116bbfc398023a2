"""The figures' arithmetic never raises on odd values already inside (defence in depth).

The AMI edge refuses absurd times and durations (tests/telephony); these tests show that if one
got in anyway (a bug, a replay of an old journal) the wallboard's report still answers with
finite, strict-JSON figures and the journal still files the record.
"""

from __future__ import annotations

import json
import time

import pytest

from intake.core.calls import Call, CallState
from intake.core.metrics import UNDATED, AnswerTimes, QueueMetrics, local_day

ODD = [float("inf"), float("-inf"), float("nan"), 1e300, -1e300]


def call(call_id: str, queued_at: float, **fields: object) -> Call:
    return Call(call_id=call_id, queue="emergency", line="999", target_seconds=12.0, caller_number="07700900111",
                caller_name="", channel=f"PJSIP/trunk-{call_id}", queued_at=queued_at, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("odd", ODD, ids=str)
def test_a_report_with_an_odd_time_inside_answers_with_strict_json_and_keeps_the_good_figures(odd: float) -> None:
    metrics = QueueMetrics({"emergency": ("999", 12.0)})
    t0 = time.time()
    answered = call("good", t0 - 30, answered_at=t0 - 25, state=CallState.ANSWERED)
    odd_answer = call("odd-answer", t0 - 20, answered_at=odd, state=CallState.ANSWERED)
    odd_abandon = call("odd-abandon", odd, left_at=t0, state=CallState.ABANDONED)
    for c in (answered, odd_answer, odd_abandon):
        metrics.offered(c)
        metrics.settled(c)
    waiting = [call("waits", t0 - 5), call("odd-wait", odd)]
    for now in (t0, odd):
        report = metrics.report(waiting, now)
        json.dumps(report, allow_nan=False)  # what /api/queues and the wallboard send
        emergency = report["queues"]["emergency"]
        assert (emergency["offered"], emergency["answered"], emergency["abandoned"]) == (3, 2, 1)
        assert emergency["waiting"] == 2
    assert report["lines"]["999"]["from_queue_entry"]["answered"] == 2


@pytest.mark.parametrize("odd", ODD, ids=str)
def test_answer_times_skip_a_wait_that_is_not_a_number_of_seconds(odd: float) -> None:
    times = AnswerTimes()
    times.add(4.0)
    times.add(odd)
    times.add(6.0)
    assert (times.mean(), times.percentile(90)) == (5.0, 6.1)


@pytest.mark.parametrize("odd", ODD, ids=str)
def test_the_day_of_an_odd_time_is_undated_not_an_error(odd: float) -> None:
    assert local_day(odd) == UNDATED
    assert local_day(1_790_000_000.0) == time.strftime("%Y-%m-%d", time.localtime(1_790_000_000.0))
