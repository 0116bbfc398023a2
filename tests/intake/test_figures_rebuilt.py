"""Today's figures survive a restart: rebuilt from the call journal at start-up, each call counted
once, whether it had settled, was talking or was still waiting when intake stopped."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from intake.app.journal import CallJournal, JournalRecord
from intake.core.metrics import local_day
from intake.core.registry import Registry, Settled
from telephony import events as ev
from tests.intake.timeline import T0, Timeline, member

QUEUES = {"emergency": ("999", 12.0), "non-emergency": ("101", 60.0)}
H1, H2 = "PJSIP/handler-1", "PJSIP/handler-2"
RESTART = 30.0  # seconds after T0: intake stops here and is back at RESTART + 2

pytestmark = pytest.mark.redis


def registry() -> Registry:
    return Registry(QUEUES, handlers={H1: ("h1", "Alice"), H2: ("h2", "Bob")})


def the_day() -> list[ev.DomainEvent]:
    """a: 999 answered and over before the restart; b: 999 abandoned before it; c: 101 answered
    before it and talking across it; d: 999 waiting across it, answered after; e: 101 after it."""
    calls = [
        Timeline(call_id="a").arrive(0).join(0.5).ring(1, H1).answer(3, H1, hold=2.5).complete(20, H1, talk=17),
        Timeline(call_id="b", number="07700900002").join(2).abandon(8, hold=6),
        Timeline(call_id="c", queue="non-emergency", number="07700900003").join(21).ring(22, H1)
        .answer(25, H1, hold=4).complete(60, H1, talk=35),
        Timeline(call_id="d", number="07700900004").join(27).ring(39, H2).answer(40, H2, hold=13).complete(50, H2, talk=10),
        Timeline(call_id="e", queue="non-emergency", number="07700900005").join(45).ring(46, H2)
        .answer(52, H2, hold=7).complete(58, H2, talk=6),
    ]
    return sorted((e for t in calls for e in t.events), key=lambda e: e.at)


def resync_at(s: float) -> list[ev.DomainEvent]:
    """What the PBX shows a restarted intake: d waiting, c talking to h1."""
    at = T0 + s
    return [ev.SnapshotStarted(at),
            ev.MemberSeen(at, member(s, "emergency", H1, device=ev.MemberDevice.INUSE)),
            ev.MemberSeen(at, member(s, "emergency", H2)),
            ev.WaitingCallSeen(at, "d", "emergency", "07700900004", "Caller", 1, s - 27, "PJSIP/caller-4-1"),
            ev.ChannelSeen(at, "c", "c", "PJSIP/caller-3-1", "07700900003", "Caller", "Queue", "non-emergency", True, s - 21, "bridge-c"),
            ev.ChannelSeen(at, "h1leg", "c", H1 + "-00000003", "", "", "AppQueue", "", True, s - 25, "bridge-c"),
            ev.SnapshotCompleted(at)]


def report(reg: Registry) -> dict[str, Any]:
    return reg.report(T0 + 70)


async def test_figures_after_a_restart_equal_those_of_an_intake_that_never_stopped(redis_client):
    events = the_day()
    never_stopped = registry()
    for e in events:
        never_stopped.apply(e)

    journal = CallJournal(redis_client, "test:")
    first = registry()
    for e in (e for e in events if e.at < T0 + RESTART):
        for n in first.apply(e):
            if isinstance(n, Settled):  # what the server journals, as soon as the outcome is known
                await journal.append(JournalRecord.of(n.call))

    restarted = registry()
    seeded = restarted.metrics.seed(r.settlement() for r in await journal.day(date.fromisoformat(local_day(T0))))
    assert seeded == 3  # a, b and c: d had no outcome yet
    for e in resync_at(RESTART + 2) + [e for e in events if e.at > T0 + RESTART + 2]:
        restarted.apply(e)

    assert report(restarted) == report(never_stopped)
    assert report(restarted)["queues"]["emergency"]["offered"] == 3 and report(restarted)["queues"]["non-emergency"]["offered"] == 2


async def test_a_record_written_twice_counts_once(redis_client):
    journal = CallJournal(redis_client, "test:")
    reg = registry()
    settled = []
    for e in Timeline(call_id="a").join(0).ring(1, H1).answer(3, H1, hold=3).complete(20, H1, talk=17).events:
        settled += [n for n in reg.apply(e) if isinstance(n, Settled)]
    assert len(settled) == 1 and settled[0].call.answered_at == T0 + 3  # at the answer, not the hang-up
    await journal.append(JournalRecord.of(settled[0].call))
    await journal.append(JournalRecord.of(settled[0].call))  # a retried write
    again = registry()
    assert again.metrics.seed(r.settlement() for r in await journal.day(date.fromisoformat(local_day(T0)))) == 1
    assert again.report(T0 + 30)["queues"]["emergency"]["answered"] == 1


def test_a_record_of_a_queue_no_longer_configured_is_skipped():
    reg = registry()
    record = JournalRecord(call_id="x", line="999", queue="retired", target_seconds=12, queued_at=T0, settled="answered",
                           waited_seconds=3.0)
    assert reg.metrics.seed([record.settlement()]) == 0
    assert reg.report(T0 + 10)["lines"]["999"]["offered"] == 0
