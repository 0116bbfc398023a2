"""The server's heap: when the garbage collector runs, and what it looks at.

A running server holds a large, long-lived heap (configuration, handlers, thousands of desktop
sockets) and allocates small objects per event. CPython's collector stops the event loop for as
long as it walks a generation, and the walk is as long as the generation is big. Measured in
scripts/bench.py (GC callbacks in the server process under 50 calls/s and 2,000 desktops): left to
itself, the young generation grew to ~70,000 objects (its allocation count also goes *down* when
older objects die, so it does not trigger when it should) and single collections stopped the loop
for 45-60 ms, the largest share of the pop latency tail.

So: the heap built at start-up is frozen (never walked again), and collections run on a clock
instead of on allocation counts: the young generation every tenth of a second (small, well under
a millisecond), the middle one every fifth (a few milliseconds at most under the bench's load: at
half-second intervals it gathered twice as much and its pauses reached ~6 ms), a full one every
ten minutes, at a moment when no call is waiting or ringing if one comes within another ten. The
automatic collector stays on with high thresholds, as a net for a burst that allocates faster
than the clock.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
from collections.abc import Callable

YOUNG_EVERY_SECONDS = 0.1
MIDDLE_EVERY = 2  # young collections per collection of the middle generation (0.2 s)
FULL_EVERY = 6000  # young collections per full collection (10 min): cycles that lived long enough
SAFETY_NET = (50_000, 50, 50)


def settle() -> tuple[int, int, int]:
    """Once the server has started: collect, freeze what is left, raise the automatic thresholds.
    Returns the thresholds it replaced, for :func:`restore`."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SAFETY_NET)
    return before


def restore(thresholds: tuple[int, int, int]) -> None:
    """When the server stops: the process's collector as it was. The policy above holds only
    while :func:`collect_on_schedule` runs beside it; a process that goes on without the server
    (a test run, an embedding application) must not be left with a collector that rarely runs."""
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc.collect()


def generation_due(beat: int, full_due_since: int | None, quiet: bool) -> tuple[int, int | None]:
    """Which generation to collect at ``beat`` (1, 2, ...), and since when a full one is overdue.

    A full collection walks every object the start-up freeze did not cover: every desktop's
    sockets, tasks and buffers. scripts/bench.py measures it at 10,000 desktops (over a second),
    so once due it waits for a ``quiet`` beat (no call waiting or ringing: no pop can be held up)
    for up to another FULL_EVERY beats, and then runs regardless."""
    if beat % FULL_EVERY == 0 and full_due_since is None:
        full_due_since = beat
    if full_due_since is not None and (quiet or beat - full_due_since >= FULL_EVERY):
        return 2, None
    return (1 if beat % MIDDLE_EVERY == 0 else 0), full_due_since


async def collect_on_schedule(quiet: Callable[[], bool] = lambda: True) -> None:
    """Run until cancelled (one task per process); ``quiet()``: may a long pause come now?"""
    overdue: int | None = None
    for beat in itertools.count(1):
        await asyncio.sleep(YOUNG_EVERY_SECONDS)
        generation, overdue = generation_due(beat, overdue, quiet())
        gc.collect(generation)
