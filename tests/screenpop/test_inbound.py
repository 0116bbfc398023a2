"""Parsing a desktop's message: size first, then JSON and schema, each failure its own error code."""

from __future__ import annotations

import json

import pytest

from screenpop.errors import BadMessage
from screenpop.inbound import Ack, OutcomeSubmission, Pong, parse_client_message


def test_the_three_kinds_of_message() -> None:
    outcome = parse_client_message('{"type": "outcome", "call_id": "1.2", "grading": "resolved"}')
    assert isinstance(outcome, OutcomeSubmission) and outcome.notes == "" and outcome.thrive.harm == ""
    assert parse_client_message('{"type": "ack", "seq": 7}') == Ack(type="ack", seq=7)
    assert parse_client_message('{"type": "pong"}') == Pong(type="pong")


@pytest.mark.parametrize(
    ("raw", "code", "detail"),
    [
        ('{"type": "pong", "pad": "' + "x" * 100 + '"}', "too-large", "exceeds the 64-byte limit"),
        ('{"type": "pong", "pad": "' + "é" * 20 + '"}', "too-large", "message of 67 bytes exceeds"),
        ("{", "not-json", "not JSON (EOF while parsing"),
        ("[]", "invalid", "must be a JSON object"),
        ("{}", "unknown-type", 'needs a "type"'),
        ('{"type": "OUTCOME"}', "unknown-type", "'OUTCOME' is not one of 'outcome', 'ack' or 'pong'"),
        ('{"type": "ack", "seq": "7"}', "invalid", "seq: Input should be a valid integer"),
        ('{"type": "ack", "seq": true}', "invalid", "seq: Input should be a valid integer"),
        ('{"type": "pong", "handler_id": "bo"}', "invalid", "handler_id: unknown field"),
    ],
)
def test_a_bad_message_names_its_problem(raw: str, code: str, detail: str) -> None:
    with pytest.raises(BadMessage) as caught:
        parse_client_message(raw, limit=64)
    assert caught.value.code == code
    assert detail in caught.value.detail


def test_size_is_counted_in_utf8_bytes_not_characters() -> None:
    raw = json.dumps({"type": "pong"})
    assert parse_client_message(raw, limit=len(raw)) == Pong(type="pong")


@pytest.mark.parametrize(
    ("raw", "call_id"),
    [
        ('{"type": "outcome", "call_id": "1.2", "grading": "urgent"}', "1.2"),
        ('{"type": "outcome", "call_id": "1.2", "grading": "priority", "notes": "' + "x" * 4001 + '"}', "1.2"),
        ('{"type": "outcome", "call_id": "1 2", "grading": "priority"}', None),  # not an Ident: not echoed
        ('{"type": "outcome", "call_id": 12, "grading": "priority"}', None),
        ('{"type": "ack", "seq": -1, "call_id": "1.2"}', None),  # only an outcome names its call
    ],
)
def test_a_refused_outcome_says_which_call_it_named(raw: str, call_id: str | None) -> None:
    """The desktop shows the refusal under that call's outcome form, not as a page-level error
    (regression: the reply to a schema-refused outcome carried no call_id)."""
    with pytest.raises(BadMessage) as caught:
        parse_client_message(raw)
    assert caught.value.call_id == call_id
