"""The server's collector policy holds while it runs and is undone when it stops."""

from __future__ import annotations

import gc

from intake.app import heap


def test_the_collector_is_restored_as_it_was_when_the_server_stops() -> None:
    before = gc.get_threshold()
    kept = heap.settle()
    try:
        assert kept == before
        assert gc.get_threshold() == heap.SAFETY_NET and gc.get_freeze_count() > 0
    finally:
        heap.restore(kept)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def run(beats: range, quiet_at: set[int]) -> list[tuple[int, int]]:
    """(beat, generation) of every collection above the young one."""
    out, overdue = [], None
    for beat in beats:
        generation, overdue = heap.generation_due(beat, overdue, beat in quiet_at)
        if generation:
            out.append((beat, generation))
    return out


def test_middle_collections_come_on_their_beat_and_a_full_one_waits_for_a_quiet_floor() -> None:
    full, middle = heap.FULL_EVERY, heap.MIDDLE_EVERY
    done = run(range(1, full + 50), quiet_at={full + 7})
    assert [b for b, g in done if g == 2] == [full + 7]  # due at FULL_EVERY, run when the floor went quiet
    assert all(b % middle == 0 for b, g in done if g == 1)


def test_a_floor_that_never_goes_quiet_still_gets_a_full_collection_one_period_late() -> None:
    full = heap.FULL_EVERY
    assert [b for b, g in run(range(1, 4 * full + 1), quiet_at=set()) if g == 2] == [2 * full, 4 * full]
