"""Models refuse what should never get in: oversized text, wrong types, unknown fields."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from screenpop.models import ContactRecord, Marker, Outcome, describe, is_history_number
from tests.screenpop.builders import called_back, contact, marker, outcome


def _problems(model: type[Any], data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return describe(caught.value)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"notes": "x" * 4001}, "notes: longer than 4000 characters"),
        ({"thrive": {"harm": "x" * 501}}, "thrive.harm: longer than 500 characters"),
        ({"thrive": {"harms": "typo"}}, "thrive.harms: unknown field"),
        ({"grading": "urgent"}, "grading: 'urgent' is not one of 'emergency', 'priority', 'scheduled' or 'resolved'"),
        ({"at": "1790000000"}, "at: Input should be a valid number"),
        ({"call_id": "a b"}, "call_id: 'a b' is not in the expected form"),
        ({"handled_by": "h-2"}, "handled_by: unknown field"),
    ],
)
def test_outcome_refuses(change: dict[str, Any], problem: str) -> None:
    assert _problems(Outcome, outcome().model_dump() | change) == [problem]


def test_a_missing_field_is_named() -> None:
    data = outcome().model_dump()
    del data["grading"]
    assert _problems(Outcome, data) == ["grading: required"]


def test_contact_records_are_strict_about_line_and_disposition() -> None:
    problems = _problems(ContactRecord, contact().model_dump() | {"line": 999, "disposition": "dropped"})
    assert problems == ["line: 999 is not one of '999' or '101'",
                        "disposition: 'dropped' is not one of 'answered', 'abandoned', 'left' or 'called back'"]


def test_models_are_frozen() -> None:
    with pytest.raises(ValidationError):
        marker().detail = "changed"


def test_a_marker_is_current_until_its_expiry() -> None:
    lasting, brief = marker(), marker(expires_at=100.0)
    assert lasting.is_current(1e12) and brief.is_current(99.9) and not brief.is_current(100.0)


def test_marker_kinds_are_a_closed_vocabulary() -> None:
    assert _problems(Marker, marker().model_dump() | {"kind": "firearm"})[0].startswith("kind: 'firearm' is not one of")


@pytest.mark.parametrize(("number", "usable"), [("+447700900123", True), ("01632960001", True), ("999", True),
                                               ("anonymous", False), ("", False), ("12", False), ("+44 7700", False)])
def test_history_is_kept_only_for_dialable_numbers(number: str, usable: bool) -> None:
    assert is_history_number(number) is usable


def test_a_call_back_carries_what_came_of_it_and_only_a_call_back_does() -> None:
    assert called_back().callback is not None
    mismatch = "callback: given exactly when the disposition is 'called back'"
    assert _problems(ContactRecord, called_back().model_dump() | {"callback": None}) == [mismatch]
    assert _problems(ContactRecord, contact().model_dump() | {"callback": called_back().callback.model_dump()}) == [mismatch]


def test_a_call_backs_outcome_is_checked_like_the_one_the_handler_files() -> None:
    reached_ungraded = called_back().model_dump()
    reached_ungraded["callback"]["outcome"] = {"contact": "reached", "grading": None, "notes": ""}
    assert _problems(ContactRecord, reached_ungraded) == ["callback.outcome: grading: required when the caller was reached"]
    long_name = called_back().model_dump()
    long_name["callback"]["handler_name"] = "x" * 121
    assert _problems(ContactRecord, long_name) == ["callback.handler_name: longer than 120 characters"]


def test_a_contact_stored_before_call_backs_existed_still_reads() -> None:
    stored = ('{"call_id":"1790000000.1","number":"+447700900123","at":1790000000.0,"line":"999","queue":"999-north",'
              '"handler_id":"h-ana","waited_seconds":4.5,"talked_seconds":120.0,"disposition":"answered"}')
    assert ContactRecord.model_validate_json(stored) == contact()
