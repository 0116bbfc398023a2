"""The engine on a fake clock: who hears an event and in what order, what it asks the app to do,
when it evaluates the floor (coalesced), when it ticks, settles and publishes, and what it says
its next deadline is. No asyncio, no Redis: the engine has none."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from intake.core import outputs as out
from intake.core.calls import (
    CALL_TABLE,
    TRANSITIONS,
    CallState,
    Effect,
    Step,
    call_table,
)
from intake.core.engine import (
    POLICY_COALESCE,
    REFRESH,
    TICK,
    Engine,
    Evaluator,
    Notices,
    On,
)
from intake.core.notices import (
    Answered,
    Finished,
    HandlerChanged,
    Queued,
    Ringing,
    Settled,
)
from intake.core.registry import Registry
from telephony import events as ev
from tests.intake.timeline import T0, Timeline

H1 = "PJSIP/h1"


class FakeClock:
    def __init__(self, at: float = 100.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


class Ear:
    """A subscriber that writes down what it hears, under its name."""

    def __init__(self, name: str, heard: list[tuple[str, Any]], clock: FakeClock | None = None) -> None:
        self.name, self.heard, self.clock = name, heard, clock

    def handle(self, notices: list[Any]) -> None:
        self.heard.append((self.name, [type(n).__name__ for n in notices]))

    def event(self, e: Any) -> None:
        self.heard.append((self.name, e.call_id))

    def evaluate(self) -> None:
        assert self.clock is not None
        self.heard.append((self.name, self.clock.at))


def engine(clock: FakeClock, heard: list[tuple[str, Any]] | None = None, **kwargs: Any) -> Engine:
    registry = Registry({"emergency": ("999", 12.0)}, handlers={H1: ("h1", "Handler One")})
    heard = heard if heard is not None else []
    subs = (Notices("first", Ear("first", heard)), On("by-kind", ev.CallQueued, Ear("by-kind", heard), "event"),
            Notices("second", Ear("second", heard)))
    evaluations: list[float] = kwargs.pop("evaluations", [])
    policy = Ear("policy", [], clock)
    policy.evaluate = lambda: evaluations.append(clock.at)  # type: ignore[method-assign]
    return Engine(registry, clock=clock, pbx_now=lambda: T0 + clock.at, subscriptions=subs,
                  evaluators=(Evaluator("policy", policy),), **kwargs)


def test_subscribers_hear_each_event_in_the_declared_order_and_the_records_come_out_as_data() -> None:
    heard: list[tuple[str, Any]] = []
    e = engine(FakeClock(), heard)
    t = Timeline().arrive(0).join(1)
    outputs = [e.feed(x) for x in t.events]
    # the arrival gives no notice: nobody hears it (no subscriber of ChannelCreated)
    assert heard == [("first", ["Queued"]), ("second", ["Queued"]), ("by-kind", t.call_id)]
    assert list(outputs[0]) == []
    [keep] = outputs[1]
    assert isinstance(keep, out.KeepInProgress) and keep.record.call_id == t.call_id and keep.record.arrived_at == T0


def test_a_notice_holds_the_call_as_it_stood_frozen_while_the_registry_moves_on() -> None:
    seen: list[Any] = []
    e = engine(FakeClock())
    e.subscribe(Notices("keeper", seen, "extend"))
    for x in Timeline().join(0).ring(1, H1).answer(3, H1, 2).complete(30, H1, 27).events:
        e.feed(x)
    ringing = next(n for n in seen if isinstance(n, Ringing))
    answered = next(n for n in seen if isinstance(n, Answered))
    finished = next(n for n in seen if isinstance(n, Finished))
    assert ringing.call.state is CallState.RINGING and ringing.call.ringing == frozenset({H1})
    assert answered.call.state is CallState.ANSWERED and answered.call.answered_at == T0 + 3 and answered.call.ended_at is None
    assert finished.call.state is CallState.COMPLETED and finished.call.ended_at == T0 + 30
    with pytest.raises(dataclasses.FrozenInstanceError):
        answered.member = "someone else"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        answered.call.state = CallState.QUEUED  # type: ignore[misc]


def test_an_answered_call_gives_its_journal_record_then_at_the_end_its_contact_record_and_is_remembered_for_outcomes() -> None:
    e = engine(FakeClock())
    given = [o for x in Timeline().join(0).ring(1, H1).answer(3, H1, 2).complete(30, H1, 27).events for o in e.feed(x)]
    assert [type(o) for o in given] == [out.KeepInProgress, out.Journal, out.CallOver]
    assert given[1].call.answered_at == T0 + 3  # type: ignore[union-attr]
    assert e.answered(Timeline().call_id) == ("h1", "07700900001")
    assert e.answered("no-such-call") is None


def test_the_first_login_asks_for_the_pbx_check_once_and_a_resync_resumes_wrapups() -> None:
    e = engine(FakeClock())
    assert list(e.feed(ev.PbxLinkUp(T0, "22.0.0"))) == [out.CheckPbx()]
    assert list(e.feed(ev.PbxLinkDown(T0 + 1, "lost"))) == []
    assert list(e.feed(ev.PbxLinkUp(T0 + 2, "22.0.0"))) == []
    assert list(e.feed(ev.SnapshotStarted(T0 + 2))) == []
    assert list(e.feed(ev.SnapshotCompleted(T0 + 3))) == [out.ResumeWrapUps()]


@pytest.mark.parametrize(("case", "events_at", "expected_evaluations"), [
    ("one event: evaluated once, a coalescing delay later", [0.0], [POLICY_COALESCE]),
    ("a burst shares one evaluation", [0.0, 0.01, 0.1, 0.2], [POLICY_COALESCE]),
    # the tick at 0.5 found no evaluation within a tick: it evaluates, and the event's is not needed
    ("an event after the evaluation is evaluated by the next tick", [0.0, 0.3], [POLICY_COALESCE, 2 * TICK]),
])
def test_events_that_move_the_floor_are_evaluated_once_per_coalescing_window(case: str, events_at: list[float],
                                                                              expected_evaluations: list[float]) -> None:
    clock = FakeClock(0.0)
    evaluations: list[float] = []
    e = engine(clock, evaluations=evaluations)
    calls = [Timeline(call_id=f"1700000000.{i}") for i in range(len(events_at))]
    pending = sorted(zip(events_at, calls, strict=True), key=lambda p: p[0])
    # Drive the engine as the app does: each event at its time, and a wake at each deadline,
    # stopping before the first tick (0.25 s) could evaluate on its own.
    horizon = max(events_at) + POLICY_COALESCE
    while pending or clock.at < horizon:
        next_event = pending[0][0] if pending else float("inf")
        deadline = e.deadline()
        if next_event <= deadline:
            clock.at = next_event
            _, call = pending.pop(0)
            e.feed(call.join(0).events[-1])
        elif deadline <= horizon:
            clock.at = deadline
            e.wake()
        else:
            break
    # ticks found an evaluation within the last tick: none of their own before the horizon
    assert [round(t, 6) for t in evaluations] == [round(t, 6) for t in expected_evaluations], case


def test_an_event_with_no_notice_asks_for_no_evaluation() -> None:
    clock = FakeClock(0.0)
    e = engine(clock)
    e.feed(ev.ChannelCreated(T0, "x.1", "x.1", "PJSIP/c-1", "07700900001"))
    assert e.deadline() == TICK  # only the tick


def test_the_tick_settles_a_call_that_left_without_an_answer_after_the_grace_and_evaluates_when_nothing_else_did() -> None:
    clock = FakeClock(0.0)
    evaluations: list[float] = []
    e = engine(clock, evaluations=evaluations)
    t = Timeline(t0=T0)
    for x in t.join(0).leave(0).events:  # PBX time T0 (pbx_now is T0 + clock)
        e.feed(x)
    given: list[out.Output] = []
    while clock.at < 3.0:
        clock.at = e.deadline()
        given += e.wake()
    # the grace is 2 s of PBX time: settled at the first tick at or past it, as left
    journals = [o for o in given if isinstance(o, out.Journal)]
    assert len(journals) == 1 and journals[0].call.state is CallState.LEFT and journals[0].call.ended_at == T0 + 2.0
    assert [o for o in given if isinstance(o, out.CallOver)] and not e.registry.calls
    # one evaluation per tick once nothing else ran one: waits grow by themselves
    assert len(evaluations) == round(3.0 / TICK)


def test_the_wallboard_is_published_when_something_changed_and_every_second_while_calls_wait() -> None:
    clock = FakeClock(0.0)
    e = engine(clock)
    published: list[float] = []

    def run_until(t: float) -> None:
        while e.deadline() <= t:
            clock.at = e.deadline()
            if out.Publish() in e.wake():
                published.append(round(clock.at, 6))

    run_until(1.0)
    assert published == [TICK]  # once at start (nothing shown yet), then nothing changed, nobody waits
    e.feed(Timeline().join(0).events[-1])  # at 1.0: a call waits
    run_until(4.0)
    assert published == [TICK, 1.25] + [round(1.25 + REFRESH * k, 6) for k in (1, 2)]
    e.changed()  # a call-back task changed: at the next tick
    run_until(4.25)
    assert published[-1] == 4.25


def test_a_failing_subscriber_is_the_guards_and_the_others_still_hear_every_notice() -> None:
    failures: list[str] = []

    def guard(name: str, step: Any) -> None:
        try:
            step()
        except ZeroDivisionError:
            failures.append(name)

    heard: list[tuple[str, Any]] = []
    e = engine(FakeClock(), heard, guard=guard)

    broken = Ear("broken", heard)
    broken.handle = lambda notices: 1 / 0  # type: ignore[assignment, method-assign]
    e.subscribe(Notices("broken", broken))
    e.subscribe(Notices("last", Ear("last", heard)))
    given = e.feed(Timeline().join(0).events[-1])
    assert failures == ["broken"] and ("last", ["Queued"]) in heard and isinstance(given[0], out.KeepInProgress)


# --- the call table: every state change goes through it, with its effects -------------------------


def test_the_call_table_lists_every_transition_with_the_effects_of_entering_a_new_state() -> None:
    rows = list(call_table())
    assert {(s, step): n for s, step, n, _ in rows} == TRANSITIONS
    for state, step, target, effects in rows:
        if target is state:
            assert effects == (), (state, step)  # staying put does nothing
        elif target.final:
            assert effects[-1] is Effect.FINISH, (state, step)  # a call that ends is no longer followed
    assert CALL_TABLE[(CallState.QUEUED, Step.ANSWERED)].effects == (
        Effect.ANSWER, Effect.RINGS_ANSWERED_ELSEWHERE, Effect.TAKE, Effect.SETTLE)
    # a call found talking on a resync is taken, but no answer is stamped and nothing is settled
    assert CALL_TABLE[(CallState.QUEUED, Step.FOUND_TALKING)] == (CallState.ANSWERED, (Effect.TAKE_UNSEEN,))
    assert CALL_TABLE[(CallState.RINGING, Step.VANISHED)].effects[2] is Effect.RINGS_VANISHED


def test_a_call_found_talking_by_a_resync_is_answered_through_the_table_and_counts_in_no_figure() -> None:
    e = engine(FakeClock())
    seen: list[Any] = []
    e.subscribe(Notices("keeper", seen, "extend"))
    e.feed(ev.PbxLinkUp(T0, "22.0.0"))
    e.feed(ev.SnapshotStarted(T0))
    e.feed(ev.ChannelSeen(T0, "1700000000.9", "1700000000.9", "PJSIP/caller-1", "07700900009", "", "Queue", "emergency",
                          True, 30.0, "b1"))
    e.feed(ev.ChannelSeen(T0, "1700000000.10", "1700000000.9", H1 + "-0001", "", "", "AppQueue", "", True, 29.0, "b1"))
    given = e.feed(ev.SnapshotCompleted(T0 + 0.1))
    [queued] = [n for n in seen if isinstance(n, Queued)]
    assert queued.call.state is CallState.ANSWERED and queued.call.answered_by == H1 and queued.call.answered_at is None
    assert not [n for n in seen if isinstance(n, Answered | Settled)] and HandlerChanged(H1) in seen
    assert e.registry.handlers[H1].on_call == "1700000000.9"
    assert [o for o in given if not isinstance(o, out.ResumeWrapUps)] == []  # no record: in no figure
