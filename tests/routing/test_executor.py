"""What came of an action, as the desks see it: done, refused, not sent or unconfirmed; and what a
handler's actions' results come to (routing.handler_rules.failure_of)."""

from __future__ import annotations

import pytest

from routing.executor import ActionResult, Executor, Sent, result_of
from routing.handler_rules import failure_of
from telephony import actions
from telephony.actions import Action, Response
from telephony.errors import (
    ActionError,
    ActionFailed,
    ActionInterrupted,
    ActionTimeout,
    NotConnected,
    RefusedValue,
    UnsafeActionValue,
)
from telephony.frames import Frame

PAUSE = actions.queue_pause("PJSIP/handler-1", True, "emergency", "meal")
ADD = actions.queue_add("emergency", "PJSIP/handler-1", member_name="h1")
ORIGINATE = actions.originate("PJSIP/handler-1", "callback", "07700900001", caller_id="x", timeout_ms=1000)


@pytest.mark.parametrize(("error", "sent", "detail"), [
    (None, Sent.DONE, ""),
    (ActionFailed("QueuePause", "a-1", "Interface not found"), Sent.REFUSED, "Interface not found"),
    (NotConnected("QueuePause"), Sent.NOT_SENT, "no logged-in session"),
    (UnsafeActionValue("Queue", "a\r\nb"), Sent.NOT_SENT, "CR, LF"),
    (RefusedValue("QueuePause", "Queue", "'a,b'", "may not hold a comma"), Sent.NOT_SENT, "comma"),
    (ActionTimeout("QueuePause", "a-1", 5.0), Sent.UNCONFIRMED, "no response within 5 s"),
    (ActionInterrupted("QueuePause", "a-1", "link lost"), Sent.UNCONFIRMED, "interrupted: link lost"),
], ids=lambda v: type(v).__name__ if isinstance(v, Exception) or v is None else getattr(v, "value", str(v)))
def test_what_came_of_an_action_tells_the_pbxs_no_from_not_sent_from_nobody_knows(error: ActionError | None, sent: Sent, detail: str) -> None:
    result = result_of(PAUSE, error)
    assert (result.action, result.sent, result.done) == (PAUSE, sent, sent is Sent.DONE)
    assert detail.lower() in result.detail.lower()


class Pbx:
    """Answers each action in turn with the error given for it (None: success)."""

    def __init__(self, *answers: ActionError | None) -> None:
        self.answers, self.sent = list(answers), list[Action]()

    async def send(self, action: Action, timeout: float | None = None) -> Response:
        self.sent.append(action)
        error = self.answers.pop(0)
        if error is not None:
            raise error
        return Response(action.name, action.action_id, Frame((("Response", "Success"),)))


async def test_actions_are_sent_in_order_up_to_the_first_that_is_not_done() -> None:
    second = actions.queue_pause("PJSIP/handler-1", True, "non-emergency", "meal")
    pbx = Pbx(None, NotConnected("QueuePause"), None)
    results = await Executor(pbx).send_all([PAUSE, second, ADD])
    assert [(r.action, r.sent) for r in results] == [(PAUSE, Sent.DONE), (second, Sent.NOT_SENT)]
    assert pbx.sent == [PAUSE, second]  # the third would build on the second: never sent


@pytest.mark.parametrize(("results", "refused", "says"), [
    ([], None, None),
    ([ActionResult(PAUSE, Sent.DONE)], None, None),
    ([ActionResult(PAUSE, Sent.DONE), ActionResult(ADD, Sent.REFUSED, "Already there")], True,
     "the PBX refused QueueAdd: Already there (intake's picture of the queues was out of date and is being read again: try again)"),
    ([ActionResult(ORIGINATE, Sent.REFUSED, "Originate failed")], True, "the PBX refused Originate: Originate failed"),
    ([ActionResult(PAUSE, Sent.NOT_SENT, "not connected")], False, "the PBX could not be reached (not connected)"),
    ([ActionResult(PAUSE, Sent.UNCONFIRMED, "timed out")], False, "the PBX could not be reached (timed out)"),
], ids=["nothing-to-send", "done", "membership-refused", "other-refused", "not-sent", "unconfirmed"])
def test_a_handlers_results_come_to_a_failure_saying_whose_it_was(results: list[ActionResult], refused: bool | None, says: str | None) -> None:
    failed = failure_of("h1", "not-ready", results)
    if refused is None:
        assert failed is None
    else:
        assert failed is not None and (failed.refused, failed.detail) == (refused, says)
