"""A call offered before intake was killed, whose outcome came while it was down: the restarted
intake learns it from the calls in progress it kept (intake.core.in_progress) and the first resync
settles it, counted once and journalled once, with what is unknown said so."""

from __future__ import annotations

import asyncio
import secrets as token_source
from datetime import date
from typing import Any

import pytest

from intake.app.journal import CallJournal, JournalRecord
from intake.core.in_progress import InProgress, InProgressStore
from intake.core.metrics import local_day
from intake.core.registry import (
    UNSEEN_WHILE_DOWN,
    Finished,
    Notice,
    Queued,
    Registry,
    Settled,
)
from telephony import events as ev
from telephony.simulator import SimConfig, SimulatedPbx
from tests.intake.test_supervised_server import serving_on, until
from tests.intake.timeline import T0, Timeline, member

QUEUES = {"emergency": ("999", 12.0), "non-emergency": ("101", 60.0)}
H1 = "PJSIP/handler-1"
KILL, BACK = 10.0, 14.0  # seconds after T0: intake killed, and back with its first resync


def registry() -> Registry:
    return Registry(QUEUES, handlers={H1: ("h1", "Alice")})


def before_the_kill() -> tuple[list[Notice], InProgress]:
    """The first run: the call arrives at 0, joins at 1 and rings h1 at 2; intake is killed at 10."""
    first = registry()
    notices: list[Notice] = []
    for e in Timeline().arrive(0).join(1).ring(2, H1).events:
        notices += first.apply(e)
    queued = [n.call for n in notices if isinstance(n, Queued)]
    assert len(queued) == 1 and queued[0].counted
    return notices, InProgress.of(queued[0])


def resync(*items: ev.DomainEvent) -> list[ev.DomainEvent]:
    at = T0 + BACK
    return [ev.PbxLinkUp(at, "22.0.0"), ev.SnapshotStarted(at),
            ev.MemberSeen(at, member(BACK, "emergency", H1, device=ev.MemberDevice.INUSE)), *items,
            ev.SnapshotCompleted(at)]


def restarted(*items: ev.DomainEvent) -> tuple[Registry, list[Notice]]:
    _, kept = before_the_kill()
    reg = registry()
    assert reg.adopt_in_progress([kept]) == 1
    notices: list[Notice] = []
    for e in resync(*items):
        notices += reg.apply(e)
    return reg, notices


def settled(notices: list[Notice]) -> list[JournalRecord]:
    return [JournalRecord.of(n.call) for n in notices if isinstance(n, Settled)]


def figures(reg: Registry) -> dict[str, int]:
    q = reg.report(T0 + 60)["queues"]["emergency"]
    return {k: q[k] for k in ("offered", "answered", "abandoned", "left_other", "waiting")}


def test_a_call_still_waiting_at_the_resync_is_followed_counted_once_with_its_true_queue_entry():
    reg, notices = restarted(ev.WaitingCallSeen(T0 + BACK, "1700000000.1", "emergency", "07700900001", "Caller", 1,
                                                BACK - 1, "PJSIP/caller-1-0001"))
    assert settled(notices) == []
    assert figures(reg) == {"offered": 1, "answered": 0, "abandoned": 0, "left_other": 0, "waiting": 1}
    call = reg.calls["1700000000.1"]
    assert call.queued_at == T0 + 1 and call.arrived_at == T0  # from the kept record, not the snapshot's whole seconds

    later: list[Notice] = []
    for e in Timeline().answer(20, H1, hold=19).complete(40, H1, talk=20).events:
        later += reg.apply(e)
    (record,) = settled(later)
    assert record.settled == "answered" and record.waited_seconds == 19.0 and record.outcome_seen
    assert figures(reg) == {"offered": 1, "answered": 1, "abandoned": 0, "left_other": 0, "waiting": 0}


def test_a_call_answered_while_intake_was_down_is_journalled_answered_with_the_wait_bounded_by_the_resync():
    reg, notices = restarted(
        ev.ChannelSeen(T0 + BACK, "1700000000.1", "1700000000.1", "PJSIP/caller-1-0001", "07700900001", "Caller",
                       "Queue", "emergency", True, BACK - 1, "bridge-1"),
        ev.ChannelSeen(T0 + BACK, "h1leg", "1700000000.1", H1 + "-0002", "", "", "AppQueue", "", True, 5, "bridge-1"))
    (record,) = settled(notices)
    assert record.settled == "answered" and record.outcome_seen is False
    assert record.queued_at == T0 + 1 and record.waited_seconds == BACK - 1  # an upper bound: the resync's time
    assert figures(reg) == {"offered": 1, "answered": 1, "abandoned": 0, "left_other": 0, "waiting": 0}
    call = reg.calls["1700000000.1"]
    assert call.answered_by == H1 and reg.handlers[H1].on_call == call.call_id and call.counted


def test_a_call_gone_when_intake_came_back_is_counted_and_journalled_as_left_unseen():
    reg, notices = restarted()
    (record,) = settled(notices)
    assert record.settled == "left" and record.outcome_seen is False and record.end_reason == UNSEEN_WHILE_DOWN
    assert record.queued_at == T0 + 1
    assert figures(reg) == {"offered": 1, "answered": 0, "abandoned": 0, "left_other": 1, "waiting": 0}
    assert "1700000000.1" not in reg.calls and any(isinstance(n, Finished) for n in notices)


def test_a_call_in_no_configured_queue_or_with_an_unusable_id_is_not_adopted():
    _, kept = before_the_kill()
    reg = registry()
    assert reg.adopt_in_progress([kept.model_copy(update={"queue": "retired"}),
                                  kept.model_copy(update={"call_id": "not an id"})]) == 0
    for e in resync():
        reg.apply(e)
    assert figures(reg)["offered"] == 0


@pytest.mark.redis
async def test_journal_and_calls_in_progress_add_up_to_one_count_per_call(redis_client):
    """a settled before the kill (journalled, no longer in progress); b waiting at the kill,
    answered while intake was down: the restart counts each once."""
    journal, store = CallJournal(redis_client, "test:"), InProgressStore(redis_client, "test:")
    first = registry()
    for e in sorted(Timeline(call_id="1700000000.2").join(0).abandon(3, hold=3).events
                    + Timeline().join(1).ring(2, H1).events, key=lambda e: e.at):
        for n in first.apply(e):
            async with redis_client.pipeline(transaction=True) as tx:  # as the server stages them
                if isinstance(n, Queued):
                    store.stage(tx, InProgress.of(n.call))
                elif isinstance(n, Settled):
                    journal.stage(tx, JournalRecord.of(n.call))
                    store.stage_done(tx, n.call.call_id)
                await tx.execute()

    kept = await store.load()
    assert [r.call_id for r in kept] == ["1700000000.1"]
    reg = registry()
    reg.metrics.seed(r.settlement() for r in await journal.day(date.fromisoformat(local_day(T0))))
    reg.adopt_in_progress(kept)
    for e in resync(ev.ChannelSeen(T0 + BACK, "1700000000.1", "1700000000.1", "PJSIP/caller-1-0001", "07700900001",
                                   "Caller", "Queue", "emergency", True, BACK - 1, "bridge-1")):
        reg.apply(e)
    assert figures(reg) == {"offered": 2, "answered": 1, "abandoned": 1, "left_other": 0, "waiting": 0}


# --- the server: one run stopped while a call waits, the PBX settles it, another run starts ---------

async def a_call_waiting_when_intake_stops(sim: Any, redis_client: Any) -> str:
    """A 999 call rings h1 at a running intake, which then stops (its calls' state goes with it)."""
    async with serving_on(sim, redis_client) as served:
        call_id = sim.place_call("emergency", "07700900201", "Waiting Caller")
        await until(lambda: sim.ringing(H1) == call_id and call_id in served.server.registry.calls)
        await asyncio.wait_for(served.server.writes.flush(), 10)
        assert await redis_client.hexists(served.server.in_progress.key, call_id)
    return call_id


async def journalled(server: Any, call_id: str) -> list[JournalRecord]:
    await asyncio.wait_for(server.writes.flush(), 10)
    return [r for r in await server.journal.day(date.fromtimestamp(server.pbx_now())) if r.call_id == call_id]


@pytest.mark.redis
async def test_a_call_answered_while_intake_was_stopped_is_journalled_once_as_answered(redis_client: Any):
    async with SimulatedPbx(SimConfig(traffic=None, members_at_start=True, secret=token_source.token_urlsafe(12),
                                      tick=0.005)) as sim:
        call_id = await a_call_waiting_when_intake_stops(sim, redis_client)
        assert sim.answer(H1) == call_id  # while no intake watches
        async with serving_on(sim, redis_client) as served:
            server = served.server
            [record] = await journalled(server, call_id)
            assert (record.settled, record.outcome_seen, record.queue) == ("answered", False, "emergency")
            assert server.registry.calls[call_id].answered_by == H1
            assert not await redis_client.hexists(server.in_progress.key, call_id)
            sim.hangup_handler(H1)
            await until(lambda: call_id not in server.registry.calls)
            assert len(await journalled(server, call_id)) == 1  # its end writes no second record
            figures = server.queue_report()["queues"]["emergency"]
            assert (figures["offered"], figures["answered"], figures["waiting"]) == (1, 1, 0), figures


@pytest.mark.redis
async def test_a_call_abandoned_while_intake_was_stopped_is_journalled_once_as_left_unseen(redis_client: Any):
    async with SimulatedPbx(SimConfig(traffic=None, members_at_start=True, secret=token_source.token_urlsafe(12),
                                      tick=0.005)) as sim:
        call_id = await a_call_waiting_when_intake_stops(sim, redis_client)
        sim.hangup_caller(call_id)  # while no intake watches
        async with serving_on(sim, redis_client) as served:
            server = served.server
            [record] = await journalled(server, call_id)
            assert (record.settled, record.outcome_seen, record.end_reason) == ("left", False, UNSEEN_WHILE_DOWN)
            assert not await redis_client.hexists(server.in_progress.key, call_id)
            figures = server.queue_report()["queues"]["emergency"]
            assert (figures["offered"], figures["left_other"], figures["waiting"]) == (1, 1, 0), figures
        async with serving_on(sim, redis_client) as served:  # and a third run counts it once, from the journal
            assert len(await journalled(served.server, call_id)) == 1
            figures = served.server.queue_report()["queues"]["emergency"]
            assert (figures["offered"], figures["left_other"]) == (1, 1), figures
