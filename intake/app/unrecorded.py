"""Calls the history store may not hold yet, per number: so a repeat count does not miss them.

A call's contact record is written when the call ends, and then behind the event path
(:mod:`intake.app.write_behind`). A caller who rings again seconds after hanging up, or who has two
calls up at once, would be short of the calls Redis has not got yet. So each call is held here
from queue entry until its record is in Redis, or until it is clear none will be (not a counted
call, or the record was dropped), and a pop's lookup is given them beside what Redis holds. The
lookup counts each call id once, so a call written meanwhile is not counted twice.

Bounded by the calls in progress plus the write-behind's own bound.
"""

from __future__ import annotations

from screenpop.models import is_history_number


class UnrecordedCalls:
    def __init__(self) -> None:
        self._by_number: dict[str, dict[str, float]] = {}

    def __len__(self) -> int:
        return sum(map(len, self._by_number.values()))

    def add(self, number: str, call_id: str, queued_at: float) -> None:
        if is_history_number(number):  # a withheld caller has no history to count in
            self._by_number.setdefault(number, {})[call_id] = queued_at

    def recorded(self, number: str, call_id: str, queued_at: float) -> None:
        """The call's record is in Redis (or never will be). A channel that moved on to another
        queue is held again under the same id with a later queue entry: that one stays."""
        calls = self._by_number.get(number)
        if calls is None or calls.get(call_id) != queued_at:
            return
        del calls[call_id]
        if not calls:
            del self._by_number[number]

    def of(self, number: str) -> dict[str, float]:
        """Call id -> queue entry of the number's calls held here (a copy: the lookup runs later)."""
        return dict(self._by_number.get(number, ()))
