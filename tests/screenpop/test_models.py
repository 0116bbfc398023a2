"""Models refuse what should never get in: oversized text, wrong types, unknown fields."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from screenpop.models import ContactRecord, Marker, Outcome, describe, is_history_number
from tests.screenpop.builders import contact, marker, outcome


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
                        "disposition: 'dropped' is not one of 'answered', 'abandoned' or 'left'"]


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
