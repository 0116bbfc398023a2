"""The fast search for the handlers needed gives the figures of the straightforward one
(tests/support/erlang_reference.py), to the handler and to the last bit of the service level,
whatever the demand, the goal and the beta it starts from."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from intake.core.demand import IntervalDemand, staffing
from intake.core.erlang import Demand, Goal, handlers_needed, performance, service_level
from tests.support import erlang_reference

demands = st.builds(Demand, st.floats(0.0005, 0.5), st.floats(20, 900),
                    st.one_of(st.none(), st.floats(2, 1200)))
goals = st.builds(Goal, st.floats(0, 120), st.floats(0.3, 0.99))
models = st.sampled_from(["erlang-a", "erlang-c"])
betas = st.one_of(st.none(), st.floats(-60, 60), st.sampled_from([math.inf, -math.inf, math.nan]))


@settings(max_examples=300, deadline=None)
@given(demands, goals, models, betas)
def test_the_fast_search_needs_the_handlers_the_reference_does(demand: Demand, goal: Goal, model: str, beta: float | None) -> None:
    assert handlers_needed(demand, goal, model, beta) == erlang_reference.handlers_needed(demand, goal, model)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(demands, st.integers(0, 400), st.floats(0, 120), models)
def test_the_service_level_alone_is_performances_to_the_bit(demand: Demand, handlers: int, within: float, model: str) -> None:
    assert service_level(handlers, demand, within, model) == performance(handlers, demand, within, model).service_level  # type: ignore[arg-type]


interval = st.tuples(st.sampled_from(["999", "101"]), st.integers(0, 120), st.one_of(st.none(), st.floats(30, 600)),
                     st.integers(0, 30), st.one_of(st.none(), st.floats(0, 80)))


@settings(max_examples=60, deadline=None)
@given(st.lists(interval, min_size=1, max_size=40))
def test_a_days_staffing_is_the_references(rows: list[tuple[str, int, float | None, int, float | None]]) -> None:
    demand = [IntervalDemand(line, 900.0 * n, 900, offered, offered, abandoned, 0, handle,
                             None if not abandoned else 40.0 * abandoned, 40.0 * abandoned, signed_in)
              for n, (line, offered, handle, abandoned, signed_in) in enumerate(rows)]
    goals_ = {"999": Goal(10, 0.9), "101": Goal(60, 0.8)}
    args = (demand, goals_, {"999": 240.0, "101": 360.0}, {"999": 30.0, "101": None})
    assert staffing(*args) == erlang_reference.staffing(*args)
