"""The kinds of value intake sends to the PBX: what each accepts and what it refuses, and why."""

from __future__ import annotations

import pytest

from telephony import values as v

ACCEPTED = [
    (v.DIALABLE_NUMBER, "07700900042"),
    (v.DIALABLE_NUMBER, "+447700900042"),
    (v.DIALABLE_NUMBER, "999"),
    (v.DIALABLE_NUMBER, "1" * 20),
    (v.PAUSE_REASON, "break"),
    (v.PAUSE_REASON, "lunch: 30 min"),  # a colon is harmless in a value: the PBX reports it back intact
    (v.PAUSE_REASON, "rendez-vous à l'école"),
    (v.PAUSE_REASON, "é" * 39),  # 78 bytes
    (v.PAUSE_REASON, "x" * 79),
    (v.INTERFACE, "PJSIP/handler-1"),
    (v.INTERFACE, "Local/s@callback"),
    (v.INTERFACE, "Local/caller-7@callback/n"),
    (v.CHANNEL, "PJSIP/trunk-00000029"),
    (v.CHANNEL, "Local/s@intake-test-00000001;1"),
    (v.QUEUE, "emergency"),
    (v.QUEUE, "non-emergency"),
    (v.CONTEXT, "callback"),
    (v.EXTEN, "07700900007"),
    (v.EXTEN, "+447700900007"),
    (v.EXTEN, "caller-7"),
    (v.EXTEN, "s"),
    (v.CALLER_ID, "Call-back <07700900042>"),
    (v.VARIABLE, "INTAKE_CALLBACK=1700000000.41"),
    (v.MEMBER_NAME, "h1"),
    (v.PENALTY, "0"),
    (v.PRIORITY, "1"),
    (v.FLAG, "true"),
]

REFUSED = [
    (v.DIALABLE_NUMBER, "", "is empty (the caller's number was withheld)"),
    (v.DIALABLE_NUMBER, "anonymous", "is not a dialable number (digits with an optional leading +, 3 to 20 digits)"),
    (v.DIALABLE_NUMBER, "07700900999;x", "is not a dialable number"),
    (v.DIALABLE_NUMBER, "caller-7&PJSIP/x", "is not a dialable number"),
    (v.DIALABLE_NUMBER, "12", "is not a dialable number"),
    (v.DIALABLE_NUMBER, "1" * 21, "is not a dialable number"),
    (v.DIALABLE_NUMBER, "07700900042\x00", "contains a control character (U+0000)"),
    (v.DIALABLE_NUMBER, "٠٧٧٠٠٩٠٠٠٤٢", "is not a dialable number"),  # Arabic-Indic digits are not the PBX's
    (v.PAUSE_REASON, "", "is empty"),
    (v.PAUSE_REASON, "break\x00", "contains a control character (U+0000)"),
    (v.PAUSE_REASON, "break\r\nAction: Hangup", "contains a control character (U+000D)"),
    (v.PAUSE_REASON, "tab\there", "contains a control character (U+0009)"),
    (v.PAUSE_REASON, "bell\x07", "contains a control character (U+0007)"),
    (v.PAUSE_REASON, "del\x7f", "contains a control character (U+007F)"),
    (v.PAUSE_REASON, "line\u2028sep", "contains a control character (U+2028)"),
    (v.PAUSE_REASON, "zero\u200bwidth", "contains a control character (U+200B)"),
    (v.PAUSE_REASON, "meal;1", "contains ';': it separates fields of the PBX's saved queue members"),
    (v.PAUSE_REASON, "meal|1", "contains '|'"),
    (v.PAUSE_REASON, " break", "starts or ends with a space"),
    (v.PAUSE_REASON, "x" * 80, "is 80 bytes long (UTF-8); the PBX keeps 79"),
    (v.PAUSE_REASON, "é" * 40, "is 80 bytes long (UTF-8); the PBX keeps 79"),  # 40 characters
    (v.INTERFACE, "PJSIP/handler-1&PJSIP/handler-2", "contains '&': Dial() would ring each side of it"),
    (v.INTERFACE, "PJSIP/handler-1,30", "contains ','"),
    (v.INTERFACE, "handler-1", "is not Tech/resource"),
    (v.INTERFACE, "PJSIP/handler 1", "is not Tech/resource"),
    (v.CHANNEL, "PJSIP/a&PJSIP/b", "contains '&'"),
    (v.QUEUE, "emergency,r", "contains ','"),
    (v.QUEUE, "my queue", "is not printable ASCII without spaces"),
    (v.CONTEXT, "callback,s,1", "is not letters, digits, '_' and '-'"),
    (v.EXTEN, "07700900007&PJSIP/handler-2", "contains '&'"),
    (v.EXTEN, "07700900999;x", "contains ';'"),
    (v.EXTEN, "0770@trunk", "is not an extension"),
    (v.VARIABLE, "A=1,B=2", "contains ','"),  # Asterisk splits Originate's Variable on commas
    (v.VARIABLE, "1A=1", "is not NAME=value"),
    (v.PENALTY, "-1", "is -1, outside 0 to 1000000"),
    (v.PENALTY, "true", "is not a whole number"),
    (v.PENALTY, "5.5", "is not a whole number"),
    (v.PRIORITY, "0", "is 0, outside 1"),
    (v.FLAG, "yes", "is not one of false, true"),
    (v.PAUSE_REASON, 7, "is int, not text"),
]


@pytest.mark.parametrize(("kind", "value"), ACCEPTED)
def test_a_value_of_its_kind_is_accepted(kind: v.Kind, value: str) -> None:
    assert kind.problem(value) == ""


@pytest.mark.parametrize(("kind", "value", "why"), REFUSED)
def test_a_value_breaking_its_kinds_rule_is_refused_with_why(kind: v.Kind, value: object, why: str) -> None:
    assert kind.problem(value).startswith(why)


def test_a_secret_is_never_shown_and_a_long_value_is_cut_short() -> None:
    assert v.SECRET.shown("hunter2") == "***"
    assert len(v.PAUSE_REASON.shown("x" * 500)) <= 42
