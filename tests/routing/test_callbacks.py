"""Call-back rules: which task goes to which ready handler, when an offer is taken back,
escalation, linking a new call, and what a handler may file as the outcome."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from intake.core.handlers import HandlerState
from routing.callback_status import Status
from routing.callbacks import (
    CallbackOutcome,
    CallbackTask,
    Taker,
    escalations,
    history_entry,
    linked,
    originate_failure,
    ready,
    to_offer,
    withdrawals,
)
from screenpop.models import describe

READY, NOT_READY, LOGGED_OUT = HandlerState.READY, HandlerState.NOT_READY, HandlerState.LOGGED_OUT
ON_CALL, WRAP_UP, RINGING = HandlerState.ON_CALL, HandlerState.WRAP_UP, HandlerState.RINGING


def task(n: int, at: float, **more: object) -> CallbackTask:
    return CallbackTask(id=f"t{n}", number=f"0770090000{n}", queue="emergency", abandoned_at=at, waited_seconds=5, **more)


def test_oldest_tasks_go_to_ready_handlers_one_each_and_never_to_a_handler_already_offered_one():
    tasks = [task(2, 20.0), task(1, 10.0), task(3, 30.0, offered_to="h9"), task(4, 5.0, status="closed")]
    pairs = to_offer(tasks, ["h1", "h9", "h2"], {"t3": "h9"})
    assert [(t.id, h) for t, h in pairs] == [("t1", "h1"), ("t2", "h2")]


def test_nobody_ready_means_no_offer():
    assert to_offer([task(1, 10.0)], [], {}) == []


@pytest.mark.parametrize(("state", "desktop", "offered"), [
    (READY, True, True),
    (READY, False, False),  # no desktop to show the card on
    (NOT_READY, True, False),
    (LOGGED_OUT, True, False),
    (RINGING, True, False),  # taking a queue call: the next ready handler gets it
    (ON_CALL, True, False),
    (WRAP_UP, True, False),
])
def test_a_task_is_offered_only_to_a_ready_handler_with_a_desktop(state, desktop, offered):
    assert ready([Taker("h1", state, desktop)]) == (["h1"] if offered else [])


@pytest.mark.parametrize(("status", "state", "desktop", "taken_back_because"), [
    ("open", READY, True, None),
    ("open", ON_CALL, True, None),  # a queue call in between: the card waits for them
    ("open", RINGING, True, None),
    ("open", WRAP_UP, True, None),
    ("open", NOT_READY, True, "went not ready"),
    ("open", LOGGED_OUT, True, "logged out"),
    ("open", READY, False, "desktop disconnected"),
    ("open", NOT_READY, False, "went not ready"),
    ("calling", NOT_READY, True, None),  # the call-back is under way: it stays with its handler
    ("calling", LOGGED_OUT, False, None),
    ("calling", READY, False, None),
])
def test_an_offer_nobody_started_is_taken_back_when_its_handler_cannot_take_it(status, state, desktop, taken_back_because):
    offered = task(1, 0.0, offered_to="h1", status=status)
    got = withdrawals([offered], [Taker("h1", state, desktop), Taker("h2", READY, True)])
    assert got == ([] if taken_back_because is None else [(offered, taken_back_because)])


def test_an_offer_to_a_handler_no_longer_on_the_999_line_is_taken_back_and_unoffered_tasks_are_left_alone():
    gone, waiting = task(1, 0.0, offered_to="h7"), task(2, 0.0)
    assert withdrawals([gone, waiting], [Taker("h1", READY, True)]) == [(gone, "no longer works the 999 line")]


def test_a_task_taken_back_goes_to_the_next_ready_handler_not_the_one_who_left():
    t = task(1, 0.0, offered_to="h1")
    takers = [Taker("h1", NOT_READY, True), Taker("h2", READY, True)]
    for taken, _ in withdrawals([t], takers):
        taken.offered_to = None
    assert [(x.id, h) for x, h in to_offer([t], ready(takers), {})] == [("t1", "h2")]


def test_open_tasks_escalate_once_after_the_configured_time():
    tasks = [task(1, 0.0), task(2, 250.0), task(3, 0.0, escalated=True), task(4, 0.0, status="closed")]
    assert [t.id for t in escalations(tasks, 300.0, 300.0)] == ["t1"]


def test_a_new_call_from_the_number_links_to_its_open_tasks_only():
    tasks = [task(1, 0.0), task(2, 0.0), task(1, 5.0, status="closed")]
    assert [t.id for t in linked(tasks, "07700900001")] == ["t1"]
    assert linked(tasks, "") == []  # a withheld number links to nothing


def test_another_withheld_caller_does_not_close_a_withheld_callers_task():
    withheld = [task(1, 0.0).model_copy(update={"number": "anonymous"})]
    assert linked(withheld, "anonymous") == []  # "anonymous" says nothing of who is calling


async def test_an_unreadable_stored_task_is_reported_and_kept_and_the_readable_ones_still_load(redis_client) -> None:
    from routing.callbacks import CallbackStore

    store = CallbackStore(redis_client, "test-cb:")
    await store.save(task(1, 10.0))
    await store.save(task(2, 20.0, status="closed"))
    await redis_client.hset("test-cb:callbacks", "t3", '{"id": "t3", "from_a_newer_version": 1}')
    assert [t.id for t in await store.load_open()] == ["t1"]
    assert await redis_client.hexists("test-cb:callbacks", "t3")  # nothing accepted is lost


async def test_with_several_nodes_a_copy_that_has_not_seen_the_handlers_step_is_never_saved_over_it(redis_client) -> None:
    from routing.callbacks import CallbackStore
    from routing.fenced import Fence

    store = CallbackStore(redis_client, "test-cb:", Fence(redis_client, "test-cb:", "a"))
    leaders = task(1, 10.0).model_copy(update={"offered_to": "h2"})
    await save(store, leaders, token=1)
    # h2 files an outcome on the follower their desktop is on (a handler's step: unfenced, counted).
    followers = leaders.model_copy(update={"status": Status.CLOSED, "handled": 1, "offered_to": "h2"})
    await save(store, followers)
    # The leader, which never heard of it, takes its open copy back from h2 and saves it: refused.
    with pytest.raises(Exception, match="STALE"):
        await save(store, leaders.model_copy(update={"offered_to": None, "escalated": True}), token=1)
    stored = await store.load("t1")
    assert stored is not None and (stored.status, stored.handled, stored.offered_to) == ("closed", 1, "h2")
    # A copy that has seen as much is saved: the leader's next change, once it has the handler's step.
    await save(store, followers.model_copy(update={"escalated": True}), token=1)
    assert [t.escalated for t in await store.load_many(["t1", "t9"])] == [True]


async def save(store, task, token=None) -> None:
    """One save through the store's stage, as the write-behind makes it; Redis's refusal raised."""
    async with store.redis.pipeline(transaction=True) as pipe:
        store.stage(task, pipe, token)
        await pipe.execute()


@pytest.mark.parametrize(("reason", "words"), [
    (5, "your phone is busy"), (3, "your phone was not answered"), (0, "your phone could not be reached"),
    (42, "the PBX could not connect your phone (reason 42)"),
])
def test_a_failed_originate_is_told_in_the_handlers_words(reason, words):
    assert originate_failure(reason) == words


@pytest.mark.parametrize(("body", "problems"), [
    ({"contact": "reached", "grading": "priority", "notes": "pocket dial"}, None),
    ({"contact": "no-answer"}, None),
    ({"contact": "voicemail", "notes": "left a message"}, None),
    ({"contact": "reached"}, ["grading: required when the caller was reached"]),
    ({"contact": "spoke"}, ["contact: 'spoke' is not one of 'reached', 'no-answer', 'voicemail' or 'unobtainable'"]),
    ({"contact": "reached", "grading": "urgent"}, ["grading: 'urgent' is not one of 'emergency', 'priority', 'scheduled' or 'resolved'"]),
    ({"contact": "no-answer", "notes": "x" * 4001}, ["notes: longer than 4000 characters"]),
    ({"contact": "no-answer", "outcome": "x"}, ["outcome: unknown field"]),
    ({}, ["contact: required"]),
])
def test_a_call_back_outcome_uses_the_call_outcome_vocabulary_and_limits(body, problems):
    if problems is None:
        assert CallbackOutcome.model_validate(body).contact == body["contact"]
        return
    with pytest.raises(ValidationError) as caught:
        CallbackOutcome.model_validate(body)
    assert describe(caught.value) == problems


REACHED = CallbackOutcome(contact="reached", grading="priority", notes="pocket dial")


def test_a_closed_call_back_is_filed_as_called_back_when_it_was_started_by_whom_with_its_outcome():
    done = task(1, 100.0, called_at=160.5, outcome=REACHED)
    entry = history_entry(done, "h1", "Alice Hughes", now=400.0)
    assert entry is not None
    assert (entry.call_id, entry.number, entry.at, entry.line, entry.queue, entry.handler_id, entry.disposition) == (
        "callback:t1", "07700900001", 160.5, "999", "emergency", "h1", "called back")
    assert entry.waited_seconds == 60.5  # from the caller hanging up to our call-back
    assert entry.callback is not None and (entry.callback.task_id, entry.callback.handler_name, entry.callback.outcome) == (
        "t1", "Alice Hughes", REACHED)


def test_an_outcome_filed_without_a_call_back_started_from_the_desktop_is_dated_when_it_was_filed():
    entry = history_entry(task(1, 100.0, outcome=CallbackOutcome(contact="unobtainable")), "h1", "Alice Hughes", now=400.0)
    assert entry is not None and (entry.at, entry.waited_seconds) == (400.0, 300.0)


def test_no_history_entry_for_a_withheld_caller_or_a_task_without_an_outcome():
    withheld = task(1, 100.0, outcome=REACHED).model_copy(update={"number": "anonymous"})
    assert history_entry(withheld, "h1", "Alice Hughes", now=400.0) is None
    assert history_entry(task(1, 100.0), "h1", "Alice Hughes", now=400.0) is None
