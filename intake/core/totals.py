"""Every site's figures added up: the total a control room over two PBX sites is judged on.

Each site measures its own calls against its own targets (:mod:`intake.core.metrics`); the total
adds what they counted: offered, answered, abandoned, answered within target (each against its
site's target), and merges the answer times' 0.1 s bins, so the total's mean and 90th percentile
are as exact as a site's. A queue name means one line on every site (the configuration checks
it), so a total per queue adds the sites' queues of that name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from intake.core.calls import Call
from intake.core.metrics import (
    AnswerTimes,
    Basis,
    DayTally,
    Figures,
    QueueMetrics,
    RollingWindow,
)
from intake.core.trend import DayTrend


def _times(parts: Iterable[AnswerTimes]) -> AnswerTimes:
    total = AnswerTimes()
    for p in parts:
        total.bins.update(p.bins)
        total.count += p.count
        total.total += p.total
    return total


def _basis(parts: Sequence[Basis]) -> Basis:
    return Basis(answered=sum(p.answered for p in parts), within_target=sum(p.within_target for p in parts),
                 under_10s=sum(p.under_10s for p in parts), from_10s_to_60s=sum(p.from_10s_to_60s for p in parts),
                 over_60s=sum(p.over_60s for p in parts), times=_times(p.times for p in parts))


def _today(parts: Sequence[DayTally]) -> DayTally:
    day = max((p.day for p in parts), default="")  # a site that has had no call today still has yesterday's
    today = [p for p in parts if p.day == day]
    return DayTally(parts[0].day_of, day, sum(p.settled for p in today), sum(p.within for p in today))


def added(parts: Sequence[Figures], now: float) -> Figures:
    """One figure of several sites' (``parts``, at least one); the target shown is the first's."""
    return Figures(parts[0].target_seconds, offered=sum(p.offered for p in parts), answered=sum(p.answered for p in parts),
                   abandoned=sum(p.abandoned for p in parts), left_other=sum(p.left_other for p in parts),
                   waited_over_2min=sum(p.waited_over_2min for p in parts),
                   from_queue=_basis([p.from_queue for p in parts]), from_arrival=_basis([p.from_arrival for p in parts]),
                   last_15min=RollingWindow.added([p.last_15min for p in parts], now), today=_today([p.today for p in parts]),
                   trend=DayTrend.added([p.trend for p in parts], now))


# Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
def total_report(sites: Sequence[tuple[QueueMetrics, list[Call]]], now: float) -> dict[str, Any]:
    """The report of :meth:`QueueMetrics.report`'s shape over every site: (its figures, its
    waiting calls) each."""
    queues: dict[str, list[Figures]] = {}
    lines: dict[str, list[Figures]] = {}
    line_of: dict[str, str] = {}
    for metrics, _ in sites:
        for name, fig in metrics.queues.items():
            queues.setdefault(name, []).append(fig)
            line_of.setdefault(name, metrics.line_of(name))
        for name, fig in metrics.lines.items():
            lines.setdefault(name, []).append(fig)
    waiting = [call for _, calls in sites for call in calls]
    return {
        "queues": {q: {"line": line_of[q], **added(figs, now).report([c for c in waiting if c.queue == q], now)}
                   for q, figs in queues.items()},
        "lines": {line: added(figs, now).report([c for c in waiting if c.line == line], now) for line, figs in lines.items()},
    }
