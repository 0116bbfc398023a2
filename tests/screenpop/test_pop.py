"""Pop composition: a call and a history in, the JSON a desktop reads out."""

from __future__ import annotations

import dataclasses
import json

from screenpop.messages import Snapshot
from screenpop.models import CallerHistory
from screenpop.pop import CallSnapshot, compose_answered, compose_closed, compose_pop
from tests.screenpop.builders import NUMBER, T0, called_back, contact, marker, outcome

CALL = CallSnapshot(call_id="1790000500.7", line="999", queue="999-north", caller_number=NUMBER,
                    caller_name="J SMITH", queued_at=T0 + 500, waited_so_far=3.25)


def _history(**over: object) -> CallerHistory:
    fields: dict[str, object] = {"number": NUMBER, "recent": (), "count_24h": 0, "count_30d": 0, "markers": (),
                                     "calls_in_window": 1, "window_seconds": 3600.0}
    return CallerHistory(**(fields | over))  # type: ignore[arg-type]


def test_a_pop_carries_the_call_and_the_callers_history() -> None:
    previous = contact("c1").model_copy(update={"outcome": outcome("c1")})
    pop = json.loads(compose_pop(CALL, _history(recent=(previous,), count_24h=1, count_30d=2, markers=(marker(),))).encode())
    assert pop == {
        "type": "pop", "seq": 0, "call_id": "1790000500.7", "line": "999", "queue": "999-north",
        "caller": {"number": NUMBER, "name": "J SMITH"}, "queued_at": T0 + 500, "waited_seconds": 3.25,
        "history_status": "ok", "flags": [], "repeat": None,
        "history": {
            "count_24h": 1, "count_30d": 2,
            "markers": [{"id": "m-1", "kind": "vulnerable adult", "detail": "dementia, may be confused",
                         "created_at": T0 - 1000, "expires_at": None}],
            "recent": [{"call_id": "c1", "at": T0, "line": "999", "queue": "999-north", "disposition": "answered",
                        "waited_seconds": 4.5, "talked_seconds": 120.0, "grading": "priority",
                        "notes_excerpt": "unit sent", "callback": None}],
        },
    }


def test_a_third_call_within_the_window_flags_a_repeat_caller_with_the_count_and_the_window() -> None:
    second, third = (compose_pop(CALL, _history(calls_in_window=n)) for n in (2, 3))
    assert (second.flags, second.repeat) == ((), None)
    assert json.loads(third.encode())["flags"] == ["repeat-caller"]
    assert json.loads(third.encode())["repeat"] == {"calls": 3, "window_seconds": 3600.0}


def test_the_repeat_threshold_is_the_configured_one() -> None:
    assert compose_pop(CALL, _history(calls_in_window=2), repeat_calls=1).flags == ("repeat-caller",)
    assert compose_pop(CALL, _history(calls_in_window=5), repeat_calls=5).flags == ()


def test_a_silent_repeat_caller_carries_both_flags() -> None:
    pop = compose_pop(dataclasses.replace(CALL, silent=True), _history(calls_in_window=4, window_seconds=1800.0))
    assert pop.flags == ("silent-call", "repeat-caller")
    assert pop.repeat is not None and (pop.repeat.calls, pop.repeat.window_seconds) == (4, 1800.0)


def test_without_history_there_is_no_repeat_flag() -> None:
    assert (compose_pop(CALL, None).flags, compose_pop(CALL, None).repeat) == ((), None)


def test_officer_safety_markers_come_first() -> None:
    markers = (marker("a", kind="repeat caller"), marker("b", kind="vulnerable adult"), marker("c", kind="firearms at address"))
    pop = compose_pop(CALL, _history(markers=markers))
    assert pop.history is not None
    assert [m.id for m in pop.history.markers] == ["c", "b", "a"]


def test_long_notes_become_an_excerpt() -> None:
    record = contact("c1").model_copy(update={"outcome": outcome("c1", notes="n" * 4000)})
    pop = compose_pop(CALL, _history(recent=(record,)))
    assert pop.history is not None
    excerpt = pop.history.recent[0].notes_excerpt
    assert len(excerpt) == 280 and excerpt.endswith("…")


def test_a_contact_without_an_outcome_shows_no_grading() -> None:
    pop = compose_pop(CALL, _history(recent=(contact("c1", disposition="abandoned", talked_seconds=None),)))
    assert pop.history is not None
    assert (pop.history.recent[0].grading, pop.history.recent[0].notes_excerpt) == (None, "")


def test_a_call_back_in_the_history_says_who_called_back_what_they_got_and_how_it_was_graded() -> None:
    pop = json.loads(compose_pop(CALL, _history(recent=(called_back("1790000000.1", at=T0 + 95),))).encode())
    assert pop["history"]["recent"] == [{
        "call_id": "callback:1790000000.1", "at": T0 + 95, "line": "999", "queue": "999-north",
        "disposition": "called back", "waited_seconds": 95.0, "talked_seconds": None, "grading": "priority",
        "notes_excerpt": "pocket dial, caller safe",
        "callback": {"task_id": "1790000000.1", "handler_id": "h-ana", "handler_name": "Ana Smith", "contact": "reached"}}]


def test_a_withheld_number_pops_without_history() -> None:
    withheld = dataclasses.replace(CALL, caller_number="anonymous", caller_name="")
    pop = compose_pop(withheld, None)
    assert (pop.history_status, pop.history) == ("withheld", None)


def test_a_failed_lookup_still_pops_and_says_so() -> None:
    pop = compose_pop(CALL, None)
    assert (pop.history_status, pop.history) == ("unavailable", None)


def test_answered_and_closed_updates() -> None:
    answered = json.loads(compose_answered("c1", answered_at=T0 + 9, handler_id="h-ana").encode())
    closed = json.loads(compose_closed("c1", "answered-elsewhere", at=T0 + 9).encode())
    assert answered == {"type": "pop.answered", "seq": 0, "call_id": "c1", "answered_at": T0 + 9, "handler_id": "h-ana"}
    assert closed == {"type": "pop.closed", "seq": 0, "call_id": "c1", "reason": "answered-elsewhere", "at": T0 + 9}


def test_a_snapshot_carries_whole_pops() -> None:
    pop = compose_pop(CALL, None).model_copy(update={"seq": 4})
    snapshot = json.loads(Snapshot(seq=5, pops=(pop,)).encode())
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == 5
    assert snapshot["pops"][0]["caller"] == {"number": NUMBER, "name": "J SMITH"}


def test_a_pop_carries_its_lines_answer_target_for_the_wait_clock() -> None:
    pop = json.loads(compose_pop(dataclasses.replace(CALL, target_seconds=10.0), None).encode())
    assert (pop["target_seconds"], pop["waited_seconds"]) == (10.0, 3.25)
    assert "target_seconds" not in json.loads(compose_pop(CALL, None).encode())  # as it was before targets
