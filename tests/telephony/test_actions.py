from __future__ import annotations

import pytest

from telephony import actions
from telephony.errors import RefusedValue, UnsafeActionValue
from telephony.frames import parse_frame


def fields_of(action: actions.Action) -> dict[str, str]:
    wire = action.encode()
    assert wire.endswith(b"\r\n\r\n")
    return dict(parse_frame(wire[:-4]))


def test_each_action_gets_a_fresh_action_id() -> None:
    assert actions.ping().action_id != actions.ping().action_id


def test_queue_add_writes_only_the_fields_given_with_amis_booleans() -> None:
    action = actions.queue_add("999", "PJSIP/handler-1", member_name="Handler One", penalty=0, paused=True, reason="login")
    assert fields_of(action) == {
        "Action": "QueueAdd", "ActionID": action.action_id, "Queue": "999", "Interface": "PJSIP/handler-1",
        "MemberName": "Handler One", "Penalty": "0", "Paused": "true", "Reason": "login",
    }


def test_queue_pause_without_a_queue_pauses_everywhere() -> None:
    assert "Queue" not in fields_of(actions.queue_pause("PJSIP/handler-1", paused=False))


def test_originate_is_async_and_repeats_variable_per_item() -> None:
    action = actions.originate("Local/s@callback", "callback", "s", caller_id='"999 callback" <999>', timeout_ms=30000,
                               variables={"CALL_ID": "1700000000.41", "LINE": "999"})
    frame = parse_frame(action.encode()[:-4])
    assert frame["Async"] == "true"
    assert frame.values("Variable") == ["CALL_ID=1700000000.41", "LINE=999"]


@pytest.mark.parametrize(("action", "list_end"), [
    (actions.queue_status(), "QueueStatusComplete"),
    (actions.core_show_channels(), "CoreShowChannelsComplete"),
    (actions.queue_add("999", "PJSIP/h"), None),
    (actions.redirect("PJSIP/x", "overflow", "101"), None),
    (actions.hangup("PJSIP/x"), None),
    (actions.queue_remove("999", "PJSIP/h"), None),
    (actions.queue_penalty("PJSIP/h", 3), None),
    (actions.logoff(), None),
])
def test_each_action_knows_whether_its_answer_is_a_list(action: actions.Action, list_end: str | None) -> None:
    assert action.list_end == list_end


def test_a_login_never_shows_its_secret_in_repr() -> None:
    action = actions.login("intake", "hunter2")
    assert "hunter2" not in repr(action)
    assert fields_of(action)["Secret"] == "hunter2"


def test_a_pause_reason_with_a_newline_cannot_inject_a_second_action() -> None:
    with pytest.raises(UnsafeActionValue):
        actions.queue_pause("PJSIP/h", True, reason="break\r\nAction: Hangup").encode()


@pytest.mark.parametrize(("build", "action", "field", "why"), [
    # A caller's "number" as the call-back's extension: an extra phone in the dialplan's Dial().
    (lambda: actions.originate("PJSIP/handler-1", "callback", "caller-7&PJSIP/x"), "Originate", "Exten", "contains '&'"),
    (lambda: actions.originate("PJSIP/handler-1", "callback", "07700900999;x"), "Originate", "Exten", "contains ';'"),
    (lambda: actions.originate("PJSIP/handler-1&PJSIP/handler-2", "callback", "s"), "Originate", "Channel", "contains '&'"),
    (lambda: actions.originate("PJSIP/handler-1", "callback", "s", variables={"A": "1,B=2"}), "Originate", "Variable", "contains ','"),
    (lambda: actions.originate("PJSIP/handler-1", "callback", "s", caller_id="x\x00"), "Originate", "CallerID", "contains a control"),
    (lambda: actions.queue_pause("PJSIP/h", True, reason="break\x00"), "QueuePause", "Reason", "contains a control character (U+0000)"),
    (lambda: actions.queue_pause("PJSIP/h", True, reason="é" * 40), "QueuePause", "Reason", "is 80 bytes long"),
    (lambda: actions.queue_add("999", "PJSIP/h", paused=True, reason="meal|x"), "QueueAdd", "Reason", "contains '|'"),
    (lambda: actions.queue_add("999,x", "PJSIP/h"), "QueueAdd", "Queue", "contains ','"),
    (lambda: actions.queue_add("999", "PJSIP/h", penalty=True), "QueueAdd", "Penalty", "is not a whole number"),
    (lambda: actions.queue_penalty("PJSIP/h", -3), "QueuePenalty", "Penalty", "is -3, outside"),
    (lambda: actions.redirect("PJSIP/x", "overflow", "101&1"), "Redirect", "Exten", "contains '&'"),
    (lambda: actions.hangup("PJSIP/x", cause=500), "Hangup", "Cause", "is 500, outside 0 to 127"),
    (lambda: actions.Action("QueuePause", (("Interface", "PJSIP/h"), ("Reason", "a\x00"))), "QueuePause", "Reason", "contains a control"),
    (lambda: actions.Action("QueuePause", (("Interface", "PJSIP/h"), ("Extra", "x"))), "QueuePause", "Extra", "is not a field of QueuePause"),
    (lambda: actions.Action("Command", (("Command", "core stop now"),)), "Command", "Action", "is not an action intake knows"),
])
def test_an_action_with_a_value_breaking_its_fields_rule_cannot_be_made(build, action, field, why) -> None:
    with pytest.raises(RefusedValue) as refused:
        build()
    assert (refused.value.action, refused.value.field) == (action, field)
    assert refused.value.why.startswith(why)
    assert str(refused.value).startswith(f"refusing to send {action}: {field} ")


def test_a_refused_secret_is_not_quoted_in_the_error() -> None:
    with pytest.raises(RefusedValue) as refused:
        actions.login("intake", "hunter2\x00")
    assert "hunter2" not in str(refused.value) and refused.value.value == "***"


def test_a_colon_in_a_pause_reason_goes_through_as_written() -> None:
    assert fields_of(actions.queue_pause("PJSIP/h", True, "999", "lunch: 30 min"))["Reason"] == "lunch: 30 min"
