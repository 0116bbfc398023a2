"""The SLA clock's arithmetic: per queue and per line figures, from settled calls.

Definitions (design.md): *answered within target* counts against every offered call that has
settled, abandoned ones included, because a 999 caller who gave up was not answered in time
(Asterisk's ServicelevelPerf leaves abandons out and flatters the service). Waits are measured
on the PBX's clock from queue entry, and separately from the call's arrival at the PBX where the
events show it (the Home Office measures from the caller's dial, in buckets <10 s, 10-60 s, >=60 s).

Answer times are kept in 0.1 s bins so that the mean and 90th percentile stay exact to a tenth
of a second at any volume, in constant memory.

Times come checked from the AMI edge (telephony.translate, telephony.timing); still, a figure
that cannot be placed (a time that is not finite, a wait longer than a day) is left out of the
structure it cannot go in rather than raise: the report is read by the wallboard on every tick,
and one odd call must not cost the control room its figures.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from intake.core.calls import Call, CallFacts, CallState
from intake.core.trend import DayTrend

BIN = 0.1
LONG_WAIT_SECONDS = 120.0
PLAUSIBLE_WAIT_SECONDS = 86_400.0
"""A longer "wait" is a clock fault, not a wait: counted as answered, left out of answer times."""
UNDATED = "undated"
"""The day of a time no calendar can show."""


@dataclass(slots=True)
class AnswerTimes:
    bins: Counter[int] = field(default_factory=Counter)
    count: int = 0
    total: float = 0.0

    def add(self, seconds: float) -> None:
        if not 0.0 <= seconds <= PLAUSIBLE_WAIT_SECONDS:  # NaN fails too
            return
        self.bins[int(seconds / BIN)] += 1
        self.count += 1
        self.total += seconds

    def mean(self) -> float | None:
        return round(self.total / self.count, 3) if self.count else None

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile, reported as the upper edge of its 0.1 s bin."""
        if not self.count:
            return None
        rank = max(1, -(-self.count * p // 100))
        seen = 0
        for b in sorted(self.bins):
            seen += self.bins[b]
            if seen >= rank:
                return round((b + 1) * BIN, 1)
        raise AssertionError("unreachable: rank beyond count")


def _share(settled: int, within: int) -> dict[str, Any]:
    return {"settled": settled, "answered_within_target": within,
            "answered_within_target_pct": round(100 * within / settled, 1) if settled else None}


@dataclass(slots=True)
class RollingWindow:
    """Settled calls and those answered within target over the last ``seconds``.

    Counts are kept in ``step``-second buckets, so memory stays constant at any volume and a call
    leaves the window up to one step late: a wallboard figure, not an audit one (the journal is).
    """

    seconds: float = 900.0
    step: float = 10.0
    _buckets: deque[list[int]] = field(default_factory=deque)  # [bucket index, settled, within]

    def add(self, at: float, within: bool) -> None:
        if not math.isfinite(at):
            return  # no bucket holds it
        index = int(at // self.step)
        self._prune(at)  # also when nobody reads the window: memory stays bounded
        last = self._buckets[-1] if self._buckets else None
        bucket = last if last is not None and last[0] == index else next((b for b in reversed(self._buckets) if b[0] == index), None)
        if bucket is None:
            bucket = [index, 0, 0]
            # Events come in PBX-time order, but keep the deque sorted if one arrives late.
            position = len(self._buckets)
            while position and self._buckets[position - 1][0] > index:
                position -= 1
            self._buckets.insert(position, bucket)
        bucket[1] += 1
        bucket[2] += within

    def buckets(self, now: float) -> list[tuple[int, int, int]]:
        """(bucket index, settled, answered within target) in the window ending at ``now``."""
        self._prune(now)
        return [(b[0], b[1], b[2]) for b in self._buckets]

    @classmethod
    def added(cls, parts: list[RollingWindow], now: float) -> RollingWindow:
        """Several windows of one length (several sites') as one."""
        total = cls(parts[0].seconds, parts[0].step)
        buckets: dict[int, list[int]] = {}
        for p in parts:
            for index, settled, within in p.buckets(now):
                bucket = buckets.setdefault(index, [index, 0, 0])
                bucket[1] += settled
                bucket[2] += within
        total._buckets.extend(buckets[i] for i in sorted(buckets))
        return total

    def counts(self, now: float) -> tuple[int, int]:
        """(settled, answered within target) in the window ending at ``now``."""
        self._prune(now)
        return sum(b[1] for b in self._buckets), sum(b[2] for b in self._buckets)

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def report(self, now: float) -> dict[str, Any]:
        return _share(*self.counts(now))

    def _prune(self, now: float) -> None:
        if not math.isfinite(now):
            return
        oldest = int((now - self.seconds) // self.step)
        while self._buckets and self._buckets[0][0] <= oldest:
            self._buckets.popleft()


def local_day(at: float) -> str:
    try:
        return time.strftime("%Y-%m-%d", time.localtime(at))
    except (OverflowError, ValueError, OSError):  # NaN, infinities, beyond the platform's time_t
        return UNDATED


@dataclass(slots=True)
class DayTally:
    """Settled calls and those answered within target since local midnight (the control room's
    "today"); starts again at the first call of a new day, and reads as zero once the day is over."""

    day_of: Callable[[float], str] = local_day
    day: str = ""
    settled: int = 0
    within: int = 0

    def add(self, at: float, within: bool) -> None:
        day = self.day_of(at)
        if day == UNDATED:
            return  # not today's, nor any day's: it must not start a new "today"
        if day != self.day:
            self.day, self.settled, self.within = day, 0, 0
        self.settled += 1
        self.within += within

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def report(self, now: float) -> dict[str, Any]:
        if self.day_of(now) != self.day:
            return {"day": self.day_of(now), **_share(0, 0)}
        return {"day": self.day, **_share(self.settled, self.within)}


@dataclass(slots=True)
class Basis:
    """Answer-time figures measured from one starting point (queue entry, or PBX arrival)."""

    answered: int = 0
    within_target: int = 0
    under_10s: int = 0
    from_10s_to_60s: int = 0
    over_60s: int = 0
    times: AnswerTimes = field(default_factory=AnswerTimes)

    def add(self, waited: float, target: float) -> None:
        self.answered += 1
        self.within_target += waited <= target
        if waited < 10:
            self.under_10s += 1
        elif waited < 60:
            self.from_10s_to_60s += 1
        else:
            self.over_60s += 1
        self.times.add(waited)

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def report(self, settled: int) -> dict[str, Any]:
        return {
            "answered": self.answered,
            "answered_within_target": self.within_target,
            "answered_within_target_pct": round(100 * self.within_target / settled, 1) if settled else None,
            "buckets": {"under_10s": self.under_10s, "10s_to_60s": self.from_10s_to_60s, "60s_and_over": self.over_60s},
            "mean_answer_seconds": self.times.mean(),
            "p90_answer_seconds": self.times.percentile(90),
        }


Disposition = Literal["answered", "abandoned", "left"]


@dataclass(frozen=True, slots=True)
class Settlement:
    """A call's outcome in its queue, as the figures count it: from a live call, or from its
    journal record when the figures are rebuilt at start-up."""

    queue: str
    disposition: Disposition
    at: float  # PBX clock: the answer, or leaving the queue
    waited: float  # queue entry to answer (answered) or to leaving the queue
    waited_from_arrival: float | None  # the call's arrival at the PBX to the same, where seen
    target_seconds: float

    @classmethod
    def of(cls, call: CallFacts) -> Settlement:
        at = call.answered_at or call.left_at or call.ended_at or call.queued_at
        disposition: Disposition = "answered" if call.answered_at is not None else (
            "abandoned" if call.state is CallState.ABANDONED else "left")
        return cls(call.queue, disposition, at, call.waited(at), call.waited_from_arrival(at), call.target_seconds)


@dataclass(slots=True)
class Figures:
    """Counts for one queue or one line: since local midnight of the day the server started
    (rebuilt from the call journal at start-up, :meth:`QueueMetrics.seed`), then every call on
    its watch."""

    target_seconds: float
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    left_other: int = 0
    waited_over_2min: int = 0
    from_queue: Basis = field(default_factory=Basis)
    from_arrival: Basis = field(default_factory=Basis)
    last_15min: RollingWindow = field(default_factory=RollingWindow)
    today: DayTally = field(default_factory=DayTally)
    trend: DayTrend = field(default_factory=DayTrend)  # the wallboard's plot; not in report()

    @property
    def settled(self) -> int:
        return self.answered + self.abandoned + self.left_other

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def report(self, waiting: list[Call], now: float) -> dict[str, Any]:
        longest = max((w for c in waiting if math.isfinite(w := c.waited(now))), default=0.0)
        return {
            "target_seconds": self.target_seconds,
            "waiting": len(waiting),
            "longest_wait_seconds": round(longest, 1),
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "left_other": self.left_other,
            "waited_over_2min": self.waited_over_2min,
            "from_queue_entry": self.from_queue.report(self.settled),
            "from_arrival": self.from_arrival.report(self.settled),
            "last_15min": self.last_15min.report(now),
            "today": self.today.report(now),
        }


class QueueMetrics:
    """Figures per queue and per line, fed by the registry as calls are offered and settle."""

    def __init__(self, queues: dict[str, tuple[str, float]]) -> None:
        """``queues`` maps queue name -> (line name, target seconds)."""
        self._line_of = {q: line for q, (line, _) in queues.items()}
        self.queues = {q: Figures(target) for q, (_, target) in queues.items()}
        self.lines: dict[str, Figures] = {}
        for line, target in queues.values():
            self.lines.setdefault(line, Figures(target))

    def line_of(self, queue: str) -> str:
        return self._line_of[queue]

    def _both(self, call: Call) -> tuple[Figures, Figures]:
        return self.queues[call.queue], self.lines[call.line]

    def offered(self, call: Call) -> None:
        for fig in self._both(call):
            fig.offered += 1

    def settled(self, call: Call) -> None:
        """Count a call whose outcome in the queue is known: answered, abandoned or left."""
        self._count(Settlement.of(call), self._line_of[call.queue])

    def seed(self, settled: Iterable[Settlement]) -> int:
        """Count calls settled before this server started (today's journal), each as offered
        and settled, so that a restart never takes a figure back. Calls still waiting are not
        in it: the first resync offers them. Returns how many were counted; a queue no longer
        configured is skipped."""
        counted = 0
        for s in sorted(settled, key=lambda s: s.at):
            line = self._line_of.get(s.queue)
            if line is None:
                continue
            self.queues[s.queue].offered += 1
            self.lines[line].offered += 1
            self._count(s, line)
            counted += 1
        return counted

    def _count(self, s: Settlement, line: str) -> None:
        for fig in (self.queues[s.queue], self.lines[line]):
            if s.disposition == "answered":
                fig.answered += 1
                fig.from_queue.add(s.waited, s.target_seconds)
                if s.waited_from_arrival is not None:
                    fig.from_arrival.add(s.waited_from_arrival, s.target_seconds)
            elif s.disposition == "abandoned":
                fig.abandoned += 1
            else:
                fig.left_other += 1
            fig.waited_over_2min += s.waited > LONG_WAIT_SECONDS
            within = s.disposition == "answered" and s.waited <= s.target_seconds
            fig.last_15min.add(s.at, within)
            fig.today.add(s.at, within)
            fig.trend.add(s.at, within)

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def report(self, waiting: list[Call], now: float) -> dict[str, Any]:
        by_queue: dict[str, list[Call]] = {q: [] for q in self.queues}
        by_line: dict[str, list[Call]] = {line: [] for line in self.lines}
        for call in waiting:
            by_queue.setdefault(call.queue, []).append(call)
            by_line.setdefault(call.line, []).append(call)
        return {
            "queues": {q: {"line": self._line_of[q], **fig.report(by_queue[q], now)} for q, fig in self.queues.items()},
            "lines": {line: fig.report(by_line[line], now) for line, fig in self.lines.items()},
        }
