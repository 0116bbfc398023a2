"""How many handlers were signed in to each line: the samples staffing sets its handlers needed
against (:class:`intake.core.demand.SignedIn`, docs/staffing.md).

A handler is signed in to a line while they are a member of any of the line's queues, whatever
they are doing there: ready, ringing, on a call, in wrap-up or not ready (a pause is time the
room paid for). Logged out is the only state that does not count.

Pure: the registry's handlers in, counts out. :class:`SignedInSampler` says when a sample is due:
one per minute of the clock (the minute's start is its time, so every 15, 30 or 60 minute
interval holds whole minutes), and again within the minute when a count changed, so the
minute's sample is the count it ended with (the store keeps one per line and minute).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping

from intake.core.demand import SignedIn
from intake.core.handlers import Handler

SAMPLE_SECONDS = 60


def signed_in(handlers: Iterable[Handler], lines: Mapping[str, Collection[str]]) -> dict[str, int]:
    """Each line's handlers signed in (``lines``: each line's queues); every line, nobody's too."""
    counts = dict.fromkeys(lines, 0)
    for handler in handlers:
        for line, queues in lines.items():
            if any(queue in handler.memberships for queue in queues):
                counts[line] += 1
    return counts


class SignedInSampler:
    """The samples due now: the counts at the first look of each minute, and at any later look in
    that minute that finds them changed."""

    def __init__(self, lines: Mapping[str, Collection[str]]) -> None:
        self.lines = {line: frozenset(queues) for line, queues in lines.items()}
        self._last: tuple[float, dict[str, int]] | None = None

    def sample(self, now: float, handlers: Iterable[Handler]) -> list[SignedIn]:
        minute = math.floor(now / SAMPLE_SECONDS) * SAMPLE_SECONDS
        counts = signed_in(handlers, self.lines)
        if self._last == (minute, counts):
            return []
        self._last = (minute, counts)
        return [SignedIn(float(minute), line, n) for line, n in counts.items()]
