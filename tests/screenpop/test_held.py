"""A history looked up as the call arrives stands for a lookup at the ring only while it may:
young enough, not overtaken by a write, not failed."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from screenpop.held import HeldHistories
from screenpop.models import CallerHistory

NUMBER = "+447700900123"


class Lookups:
    """Counts lookups; each returns a history whose count_24h is the lookup's number."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, float, dict[str, float]]] = []
        self.fail = fail

    async def __call__(self, number: str, now: float, calling: Mapping[str, float]) -> CallerHistory:
        self.calls.append((number, now, dict(calling)))
        if self.fail:
            raise ConnectionError("redis went away")
        return CallerHistory(number=number, recent=(), count_24h=len(self.calls), count_30d=0, markers=(),
                             calls_in_window=0, window_seconds=3600.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def held_histories(hold: float = 3.0, fail: bool = False) -> tuple[HeldHistories, Lookups, Clock]:
    lookups, clock = Lookups(fail), Clock()
    return HeldHistories(lookups, hold, clock=clock), lookups, clock


async def test_a_ring_within_the_hold_takes_the_lookup_made_on_arrival() -> None:
    held, lookups, clock = held_histories()
    held.fetch(NUMBER, "c1", 1_700_000_000.0, {"c1": 1_700_000_000.0})
    clock.now += 2.9
    task = held.take(NUMBER)
    assert task is not None
    assert (await task).count_24h == 1
    assert held.take(NUMBER) is task  # a second handler rung for the same call: no second lookup
    assert lookups.calls == [(NUMBER, 1_700_000_000.0, {"c1": 1_700_000_000.0})]
    assert (held.counters.taken_in_flight, held.counters.taken_ready) == (1, 1)


async def test_a_caller_who_waited_longer_than_the_hold_is_looked_up_again_at_the_ring() -> None:
    held, _, clock = held_histories(hold=3.0)
    held.fetch(NUMBER, "c1", 1.0, {})
    await asyncio.sleep(0)
    clock.now += 3.1
    assert held.take(NUMBER) is None
    assert held.counters.missed == 1


async def test_a_write_to_the_number_has_it_read_again_even_in_flight() -> None:
    held, lookups, clock = held_histories()
    held.fetch(NUMBER, "c1", 1_700_000_000.0, {"c1": 1_700_000_000.0})
    first = held.take(NUMBER)
    clock.now += 2.0
    held.changed(NUMBER)
    held.changed(NUMBER)  # the same write's other keys, reported in the same pass: read once
    held.changed("+447700900999")  # another caller's history: nothing held, nothing looked up
    again = held.take(NUMBER)
    assert again is not None and again is not first
    assert (await again).count_24h == 2  # the second lookup's answer, made after the write
    assert lookups.calls[1] == (NUMBER, 1_700_000_002.0, {"c1": 1_700_000_000.0})
    assert len(lookups.calls) == 2 and held.take(NUMBER) is again


async def test_a_finished_call_lets_go_of_its_history_but_not_of_a_later_calls() -> None:
    held, lookups, _ = held_histories()
    held.fetch(NUMBER, "c1", 1.0, {"c1": 1.0})
    held.finished(NUMBER, "c1")
    held.changed(NUMBER)  # its contact record is written: nobody is calling, nothing to read again
    assert held.take(NUMBER) is None and len(lookups.calls) == 0
    held.fetch(NUMBER, "c2", 2.0, {"c2": 2.0})
    held.fetch(NUMBER, "c3", 3.0, {"c2": 2.0, "c3": 3.0})  # the caller rings again while c2 waits
    held.finished(NUMBER, "c2")
    assert held.take(NUMBER) is not None


async def test_a_failed_lookup_is_not_used() -> None:
    held, _, _ = held_histories(fail=True)
    held.fetch(NUMBER, "c1", 1.0, {})
    await asyncio.sleep(0)
    assert held.take(NUMBER) is None


async def test_a_newer_call_from_the_number_replaces_the_older_lookup() -> None:
    held, lookups, _ = held_histories()
    held.fetch(NUMBER, "c1", 1.0, {"c1": 1.0})
    held.fetch(NUMBER, "c2", 2.0, {"c1": 1.0, "c2": 2.0})
    task = held.take(NUMBER)
    assert task is not None and (await task).count_24h == 2
    await asyncio.sleep(0)
    assert len(lookups.calls) == 2


async def test_hold_zero_never_looks_up_ahead() -> None:
    held, lookups, _ = held_histories(hold=0)
    held.fetch(NUMBER, "c1", 1.0, {})
    assert held.take(NUMBER) is None and lookups.calls == []


async def test_what_is_held_stays_bounded() -> None:
    lookups, clock = Lookups(), Clock()
    held = HeldHistories(lookups, 3.0, clock=clock, limit=100)
    for i in range(250):
        held.fetch(f"+4477009{i:05d}", f"c{i}", 1.0, {})
    assert len(held) <= 100
    await asyncio.sleep(0)
