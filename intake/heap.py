"""The server's heap after start-up: what the garbage collector should and should not look at.

A running server holds a large, long-lived heap (configuration, handlers, sockets, compiled code)
and allocates small, short-lived objects per event. CPython's collector walks every tracked object
of a generation each time it collects it, so with the default thresholds the long-lived heap is
walked again and again, and each walk stops the event loop: measured in scripts/bench.py as GC
pauses of tens of ms (gen 1) landing in the middle of a pop's path. Freezing the heap built at
start-up takes it out of every later collection, and a larger young-generation threshold makes
collections rarer without making them longer (most young objects die by reference count before
the collector ever sees them).
"""

from __future__ import annotations

import gc

# (gen0, gen1, gen2): gen0 runs after this many net container allocations; gen1 and gen2 after
# that many collections of the generation below.
THRESHOLDS = (20_000, 20, 20)


def settle() -> None:
    """Call once the server has started: collect, freeze what is left, raise the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
