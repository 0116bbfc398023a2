"""Each line's demand as today's calls come, and the handlers Erlang A says it needs now: the
wallboard's "needed now".

Pure and fed by the registry's notices (the engine's subscriber, like the pops): a call that
joins a line's queue is an arrival; its outcome and its talk, once over, tell the line's handle
time and its callers' patience. The arrival rate is today's calls over the last half hour (over
less since midnight, early in the day); handle time (talk + wrap-up: the wrap-ups measured today,
:class:`~intake.core.notices.WrappedUp`, else the line's configured one) and patience are
today's so far, the ``[staffing]`` stand-ins until a call has shown them. A line's goal is its
own: ``goal_percent`` of calls answered within ``target_seconds``.

What a restart loses: the arrivals of the half hour before it (the journal keeps settled calls,
not this window); the needed-now reads low until the window has filled again.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from intake.core.calls import CallView
from intake.core.config import IntakeConfig
from intake.core.erlang import Demand, Goal, handlers_needed
from intake.core.metrics import Settlement, local_day
from intake.core.notices import Finished, Notice, Queued, Settled, WrappedUp

WINDOW_SECONDS = 1800.0
"""How far back the arrival rate looks: long enough to be more than noise on a quiet line, short
enough that a surge shows within minutes."""


@dataclass(frozen=True, slots=True)
class LineNow:
    line: str
    arrivals_per_hour: float
    handle_seconds: float
    patience_seconds: float
    needed: int


@dataclass(slots=True)
class _Line:
    day: str = ""
    arrivals: deque[tuple[float, str]] = field(default_factory=deque)  # (queue entry, call id), oldest first
    seen: set[str] = field(default_factory=set)  # call ids in ``arrivals`` (a resync's Queued is not a new call)
    talked: float = 0.0
    talks: int = 0
    waited: float = 0.0
    abandoned: int = 0
    wrapped: float = 0.0
    wrapups: int = 0  # measured today

    def today(self, day: str) -> None:
        if day != self.day:
            self.day, self.talked, self.talks, self.waited, self.abandoned = day, 0.0, 0, 0.0, 0
            self.wrapped, self.wrapups = 0.0, 0


def _midnight(at: float) -> float:
    t = time.localtime(at)
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))


class LiveDemand:
    def __init__(self, config: IntakeConfig, day_of: Callable[[float], str] = local_day,
                 midnight: Callable[[float], float] = _midnight) -> None:
        self.goals: dict[str, Goal] = {}
        self.wrapups: dict[str, float] = {}
        for line in config.lines:  # several sites' lines of one name: one demand, held to the highest goal
            if line.goal_percent < 100:
                goal = Goal(line.target_seconds, line.goal_percent / 100)
                known = self.goals.get(line.name)
                self.goals[line.name] = goal if known is None or goal.fraction > known.fraction else known
            self.wrapups[line.name] = max(self.wrapups.get(line.name, 0.0), line.wrapup_seconds)
        self.handle_default = config.staffing.handle_seconds
        self.patience_default = config.staffing.patience_seconds
        self.day_of = day_of
        self.midnight = midnight
        self.lines: dict[str, _Line] = {}

    def handle(self, notices: Iterable[Notice]) -> None:
        """The engine's subscriber: arrivals, outcomes, talk times and measured wrap-ups of counted calls."""
        for n in notices:
            if isinstance(n, Queued | Settled | Finished) and n.call.counted:
                _STEP[type(n)](self, n.call)
            elif isinstance(n, WrappedUp) and n.call.counted:
                line = self._line(n.call.line, n.call.queued_at)
                line.wrapped += n.seconds
                line.wrapups += 1

    def _arrived(self, call: CallView) -> None:
        line = self._line(call.line, call.queued_at)
        if call.call_id not in line.seen:
            line.seen.add(call.call_id)
            line.arrivals.append((call.queued_at, call.call_id))

    def _settled(self, call: CallView) -> None:
        line = self._line(call.line, call.queued_at)
        settled = Settlement.of(call)  # as the figures count it
        line.waited += max(0.0, settled.waited)
        line.abandoned += settled.disposition == "abandoned"

    def _finished(self, call: CallView) -> None:
        if call.answered_at is not None and call.talk_seconds is not None:
            line = self._line(call.line, call.queued_at)
            line.talked += call.talk_seconds
            line.talks += 1

    def _line(self, name: str, at: float) -> _Line:
        line = self.lines.setdefault(name, _Line())
        line.today(self.day_of(at))
        return line

    def now(self, at: float) -> dict[str, LineNow]:
        """Each line with a goal: the arrival rate, handle time and patience it shows now, and the
        handlers Erlang A needs for them."""
        found = {}
        for name, goal in self.goals.items():
            line = self.lines.get(name) or _Line()
            since = at - min(WINDOW_SECONDS, max(1.0, at - self.midnight(at)))
            while line.arrivals and line.arrivals[0][0] <= at - WINDOW_SECONDS:
                line.seen.discard(line.arrivals.popleft()[1])
            arrived = sum(1 for queued_at, _ in line.arrivals if since < queued_at <= at)
            today = line.day == self.day_of(at)
            wrapup = line.wrapped / line.wrapups if today and line.wrapups else self.wrapups.get(name, 0.0)
            handle = (line.talked / line.talks + wrapup) if today and line.talks else self.handle_default
            patience = line.waited / line.abandoned if today and line.abandoned else self.patience_default
            rate = arrived / (at - since)
            found[name] = LineNow(name, round(rate * 3600, 1), round(handle, 1), round(patience, 1),
                                  handlers_needed(Demand(rate, handle, patience), goal))
        return found


_STEP: dict[type, Callable[[LiveDemand, CallView], None]] = {
    Queued: LiveDemand._arrived,
    Settled: LiveDemand._settled,
    Finished: LiveDemand._finished,
}
