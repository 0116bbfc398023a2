"""The server's collector policy holds while it runs and is undone when it stops."""

from __future__ import annotations

import gc

from intake import heap


def test_the_collector_is_restored_as_it_was_when_the_server_stops() -> None:
    before = gc.get_threshold()
    kept = heap.settle()
    try:
        assert kept == before
        assert gc.get_threshold() == heap.SAFETY_NET and gc.get_freeze_count() > 0
    finally:
        heap.restore(kept)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
