"""The call journal in a real Redis, and the hourly report read back from it."""

from __future__ import annotations

import time
from datetime import date, datetime

import pytest

from intake.app.journal import CallJournal, JournalRecord, hourly_report, report_csv

pytestmark = pytest.mark.redis


def at(hour: int, minute: int = 0) -> float:
    return datetime(2025, 3, 4, hour, minute).timestamp()  # local time, as the report's hours are


def record(call_id: str, queued_at: float, settled: str, waited: float, *, line: str = "999",
           from_arrival: float | None = None) -> JournalRecord:
    return JournalRecord(call_id=call_id, line=line, queue="emergency" if line == "999" else "non-emergency",
                         target_seconds=12 if line == "999" else 60, queued_at=queued_at, settled=settled,  # type: ignore[arg-type]
                         waited_seconds=waited, waited_from_arrival=from_arrival)


async def test_records_survive_in_redis_by_day_and_the_report_counts_them_per_hour(redis_client):
    journal = CallJournal(redis_client, "test:")
    await journal.append(record("a", at(9, 5), "answered", 4.0, from_arrival=5.5))
    await journal.append(record("b", at(9, 40), "answered", 20.0))           # late, 10-60 s bucket
    await journal.append(record("c", at(9, 50), "abandoned", 130.0))         # abandoned after > 2 min
    await journal.append(record("d", at(14, 0), "answered", 70.0, line="101"))
    await journal.append(record("e", at(23, 59) + 120, "answered", 1.0))      # the next day
    rows = hourly_report(await CallJournal(redis_client, "test:").day(date(2025, 3, 4)))
    nine = rows[9]
    assert (nine["offered"], nine["answered"], nine["answered_within_target"], nine["abandoned"]) == (3, 2, 1, 1)
    assert nine["answered_within_target_pct"] == 33.3  # abandoned calls count against the target
    assert (nine["under_10s"], nine["10s_to_60s"], nine["60s_and_over"], nine["waited_over_2min"]) == (1, 1, 0, 1)
    assert rows[14]["60s_and_over"] == 1 and rows[14]["answered_within_target"] == 0
    assert sum(r["offered"] for r in rows) == 4
    assert sum(r["offered"] for r in hourly_report(await journal.day(date(2025, 3, 4)), line="101")) == 1
    assert await redis_client.ttl("test:journal:2025-03-04") > 0


def test_report_csv_has_a_header_and_a_row_per_hour_with_blank_for_no_percentage():
    rows = hourly_report([record("a", at(0, 1), "answered", 3.0)])
    lines = report_csv(rows).splitlines()
    assert lines[0].startswith("hour,offered,answered,answered_within_target,answered_within_target_pct")
    assert lines[1] == "0,1,1,1,100.0,1,0,0,0,0" and lines[2] == "1,0,0,0,,0,0,0,0,0" and len(lines) == 25


def test_a_settled_call_becomes_a_record_with_its_waits():
    from intake.core.calls import Call, CallState

    call = Call("9.9", "emergency", "999", 12, "07700900001", "", "PJSIP/c", queued_at=time.time() - 30, arrived_at=time.time() - 31)
    call.answered_at, call.state = call.queued_at + 8, CallState.COMPLETED
    r = JournalRecord.of(call)
    assert (r.settled, r.waited_seconds, r.waited_from_arrival, r.within_target) == ("answered", 8.0, 9.0, True)
