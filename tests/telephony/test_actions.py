from __future__ import annotations

import pytest

from telephony import actions
from telephony.errors import UnsafeActionValue
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
