"""The call-back task's status table, row by row, and every pair it has no row for."""

from __future__ import annotations

import itertools

import pytest

from routing.callback_status import TRANSITIONS, Effect, Status, TaskEvent, allows, step
from routing.errors import IllegalStep, IllegalTaskStep

O, CA, CL = Status.OPEN, Status.CALLING, Status.CLOSED
E = TaskEvent
SHOWN = "shown"  # the card as it stands on the handler's desktop, saved, supervisors told
OFF = "off"  # the card taken off the desktop, saved, supervisors told (offered again)
DONE = "done"  # the card off, the task out of the open ones, saved, supervisors told
SAVED = "saved"  # saved only: the handler hears from the answer to their own click
QUIET = ""  # nothing outward
REDRAWN = "redrawn"  # the card shown again, nothing saved (a restart)

ROWS = [
    (O, E.OFFERED, O, SHOWN),
    (O, E.TAKEN_BACK, O, OFF),
    (O, E.ESCALATED, O, SHOWN),
    (O, E.STARTED, CA, QUIET),
    (O, E.SENT, O, SHOWN),
    (O, E.OUTCOME_FILED, CL, DONE),
    (O, E.CALLED_AGAIN, CL, DONE),
    (O, E.RESTARTED, O, QUIET),
    (CA, E.ESCALATED, CA, SHOWN),
    (CA, E.SENT, CA, SHOWN),
    (CA, E.NOT_SENT, O, SAVED),
    (CA, E.UNCONFIRMED, O, SHOWN),
    (CA, E.PHONE_ANSWERED, CA, SHOWN),
    (CA, E.PHONE_FAILED, O, SHOWN),
    (CA, E.OUTCOME_FILED, CL, DONE),
    (CA, E.CALLED_AGAIN, CL, DONE),
    (CA, E.RESTARTED, CA, REDRAWN),
]
EFFECTS = {
    SHOWN: (Effect.SHOW, Effect.SAVE, Effect.PUBLISH),
    OFF: (Effect.TAKE_BACK, Effect.SAVE, Effect.PUBLISH),
    DONE: (Effect.CLOSE_CARD, Effect.FORGET, Effect.SAVE, Effect.PUBLISH),
    SAVED: (Effect.SAVE,),
    QUIET: (),
    REDRAWN: (Effect.SHOW,),
}


@pytest.mark.parametrize(("status", "event", "after", "outward"), ROWS, ids=lambda v: getattr(v, "value", v))
def test_each_row_of_the_table(status: Status, event: TaskEvent, after: Status, outward: str) -> None:
    move = step("t1", status, event)
    assert (move.next, move.effects) == (after, EFFECTS[outward])
    assert allows(status, event)


def test_the_table_has_no_row_beyond_these() -> None:
    assert set(TRANSITIONS) == {(s, e) for s, e, _, _ in ROWS}


ILLEGAL = sorted(set(itertools.product(Status, TaskEvent)) - {(s, e) for s, e, _, _ in ROWS}, key=lambda p: (p[0].value, p[1].value))


@pytest.mark.parametrize(("status", "event"), ILLEGAL, ids=lambda v: v.value)
def test_a_pair_without_a_row_is_an_error_naming_the_task_its_status_and_the_event(status: Status, event: TaskEvent) -> None:
    assert not allows(status, event)
    with pytest.raises(IllegalTaskStep) as caught:
        step("1700000000.42", status, event)
    assert (caught.value.task_id, caught.value.state, caught.value.event) == ("1700000000.42", status.value, event.value)
    assert isinstance(caught.value, IllegalStep)
    assert str(caught.value) == f"call-back task '1700000000.42': no step for event {event.value!r} in state {status.value!r}"


def test_a_closed_task_takes_no_step_at_all() -> None:
    assert [e for e in TaskEvent if allows(CL, e)] == []


def test_a_task_being_called_is_never_taken_back_nor_offered_again() -> None:
    assert not allows(CA, E.TAKEN_BACK) and not allows(CA, E.OFFERED) and not allows(CA, E.STARTED)
