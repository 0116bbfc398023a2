"""The straightforward search for the handlers a line needs, kept as the reference the fast one
(:func:`intake.core.erlang.handlers_needed`) is checked against: the full :func:`performance` at
every step, from the offered load (or a guess) outwards, galloping then bisecting."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from intake.core.demand import IntervalDemand, IntervalStaffing
from intake.core.erlang import MAX_HANDLERS, Demand, Goal, Model, performance
from intake.core.errors import StaffingError


def handlers_needed(demand: Demand, goal: Goal, model: Model = "erlang-a", near: int | None = None) -> int:
    """The fewest handlers whose service level meets the goal (0 for no calls)."""
    if demand.arrivals_per_second == 0:
        return 0

    def meets(n: int) -> bool:
        return performance(n, demand, goal.within_seconds, model).service_level >= goal.fraction

    start = max(1, near if near is not None else math.ceil(demand.erlangs))
    if meets(start):
        low, high, step = 0, start, 1
        while start - step > 0 and meets(start - step):
            high, step = start - step, step * 2
        low = max(low, start - step)
    else:
        low, step = start, 1
        while not meets(start + step):
            low, step = start + step, step * 2
            if start + step > MAX_HANDLERS:
                raise StaffingError("handlers", start + step, f"no more than {MAX_HANDLERS} for one interval of one line")
        high = start + step
    while high - low > 1:
        mid = (low + high) // 2
        if meets(mid):
            high = mid
        else:
            low = mid
    return high


def staffing(demand: Iterable[IntervalDemand], goals: Mapping[str, Goal], handle_seconds: Mapping[str, float],
             patience_seconds: Mapping[str, float | None]) -> list[IntervalStaffing]:
    """:func:`intake.core.demand.staffing` as it was: each search started at the interval before's
    answer, the signed-in service level from the full :func:`performance`."""
    rows = []
    last: dict[tuple[str, str], int] = {}
    for d in demand:
        goal = goals.get(d.line)
        if goal is None:
            continue
        model = d.demand(handle_seconds[d.line], patience_seconds.get(d.line))
        needed = last[(d.line, "a")] = handlers_needed(model, goal, near=last.get((d.line, "a")))
        needed_c = last[(d.line, "c")] = handlers_needed(model, goal, "erlang-c", near=last.get((d.line, "c")))
        with_signed_in = needed if d.signed_in is None else math.floor(d.signed_in)
        rows.append(IntervalStaffing(d, needed, needed_c, performance(with_signed_in, model, goal.within_seconds).service_level))
    return rows
