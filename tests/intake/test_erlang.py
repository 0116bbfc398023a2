"""Erlang C and Erlang A against published worked examples, against GMR's own formulas, and
against a second computation of the same queue by a different method.

Published examples (figures quoted to the digits the source prints):
- Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example": 100 calls
  per half hour, 180 s handle time, 20 s target, 80% goal -> 10 erlangs; with 11 agents the
  probability a call waits is 68.21% and the service level 39.0%; 14 agents is the first to reach
  80% (88.8%).
- Westbay Engineers / I. Angus, "The Erlang-C formula" (the step-by-step page most calculators
  cite): 360 calls per half hour, 240 s, 55 agents, 15 s target -> E_C = 0.2387, mean wait
  8.184 s, service level 84.59%.
- Garnett, Mandelbaum & Reiman (2002), "Designing a Call Center with Impatient Customers", MSOM
  4(3), and Mandelbaum & Zeltyn, "The Palm/Erlang-A Queue" (2005), section 4: with
  A(x, y) = x e^y y^-x gamma(x, y) and E the Erlang B blocking of n servers,
  P(W>0) = A E / (1 + (A - 1) E) and P(Ab) = (1/(rho A) + 1 - 1/rho) P(W>0), rho = lambda/(n mu).
"""

from __future__ import annotations

import math
import random

import pytest

from intake.core.erlang import (
    Demand,
    Goal,
    erlang_b,
    erlang_c,
    handlers_needed,
    performance,
)
from intake.core.errors import StaffingError


def test_call_centre_helpers_worked_example() -> None:
    demand = Demand(arrivals_per_second=100 / 1800, handle_seconds=180)
    assert demand.erlangs == pytest.approx(10)
    eleven = performance(11, demand, 20, "erlang-c")
    assert round(eleven.p_wait, 4) == 0.6821
    assert round(100 * eleven.service_level, 1) == 39.0
    assert round(100 * performance(14, demand, 20, "erlang-c").service_level, 1) == 88.8
    assert handlers_needed(demand, Goal(20, 0.8), "erlang-c") == 14


def test_westbays_worked_example() -> None:
    demand = Demand(arrivals_per_second=360 / 1800, handle_seconds=240)
    fifty_five = performance(55, demand, 15, "erlang-c")
    assert round(fifty_five.p_wait, 4) == 0.2387
    assert round(fifty_five.mean_wait_seconds, 3) == 8.184
    assert round(fifty_five.service_level, 4) == 0.8459
    assert round(fifty_five.occupancy, 4) == round(48 / 55, 4)


def _gmr_a(x: float, y: float) -> float:
    """GMR's A(x, y) by direct quadrature of gamma(x, y) (a different route from the module's)."""
    steps = 200_000
    if x < 1:
        # gamma(x, y) = y^x / x * integral of e^(-y v^(1/x)) over v in [0, 1] (t = y v^(1/x) takes
        # away the singularity of t^(x-1) at 0); the midpoint rule
        scaled = sum(math.exp(-y * ((i + 0.5) / steps) ** (1 / x)) for i in range(steps)) / steps
        return math.exp(y) * scaled
    h = y / steps  # the midpoint rule on t^(x-1) e^-t, smooth for x >= 1
    gamma = sum(math.exp((x - 1) * math.log((i + 0.5) * h) - (i + 0.5) * h) for i in range(steps)) * h
    return x * math.exp(y) * y ** -x * gamma


@pytest.mark.parametrize(("calls_per_hour", "handle", "patience", "handlers"), [
    (200, 180, 120, 10),   # Call Centre Helper's load, callers who give up after two minutes
    (200, 180, 600, 12),
    (60, 300, 60, 4),      # a small line, impatient callers
    (150, 200, 90, 6),     # overloaded: more erlangs (8.3) than handlers
])
def test_erlang_a_agrees_with_garnett_mandelbaum_reimans_formulas(calls_per_hour: float, handle: float, patience: float,
                                                                   handlers: int) -> None:
    demand = Demand(calls_per_hour / 3600, handle, patience)
    got = performance(handlers, demand, 10)
    lam, mu, theta = demand.arrivals_per_second, 1 / handle, 1 / patience
    a = _gmr_a(handlers * mu / theta, lam / theta)
    e = erlang_b(handlers, demand.erlangs)
    p_wait = a * e / (1 + (a - 1) * e)
    rho = lam / (handlers * mu)
    assert got.p_wait == pytest.approx(p_wait, rel=1e-6)
    assert got.p_abandon == pytest.approx((1 / (rho * a) + 1 - 1 / rho) * p_wait, rel=1e-6)


def _erlang_a_by_chain(handlers: int, demand: Demand, t: float) -> tuple[float, float, float]:
    """(P(wait), P(abandon), answered within t) of Palm's queue by brute force: the birth-death
    chain truncated far out, and each arriving caller followed through the queue by
    uniformization (no incomplete gamma, no closed form)."""
    lam, mu = demand.arrivals_per_second, 1 / demand.handle_seconds
    assert demand.patience_seconds is not None
    theta = 1 / demand.patience_seconds
    n, c = handlers, handlers * mu
    depth = 400
    log_w = [0.0]
    for k in range(1, n + depth + 1):
        log_w.append(log_w[-1] + math.log(lam) - math.log(min(k, n) * mu + max(0, k - n) * theta))
    top = max(log_w)
    w = [math.exp(v - top) for v in log_w]
    total = sum(w)
    pi = [v / total for v in w]
    p_wait = sum(pi[n:])
    p_abandon = sum(pi[n + j] * (1 - c / (c + (j + 1) * theta)) for j in range(depth))
    # v[i]: probability a caller with i ahead has been answered, after k uniformized steps
    rate = c + (depth + 1) * theta
    v = [0.0] * depth
    answered = [0.0] * depth
    poisson = math.exp(-rate * t)
    k = 0
    while True:
        for i in range(depth):
            answered[i] += poisson * v[i]
        k += 1
        if k > rate * t + 12 * math.sqrt(rate * t) + 20:
            break
        poisson *= rate * t / k
        v = [((c + i * theta) / rate) * (1.0 if i == 0 else v[i - 1]) + (1 - (c + (i + 1) * theta) / rate) * v[i]
             for i in range(depth)]
    within = (1 - p_wait) + sum(pi[n + j] * answered[j] for j in range(depth))
    return p_wait, p_abandon, within


@pytest.mark.parametrize(("calls_per_hour", "handle", "patience", "handlers", "t"), [
    (200, 180, 120, 10, 20),
    (200, 180, 120, 13, 10),
    (60, 300, 60, 4, 10),
    (150, 200, 90, 6, 12),   # overloaded
    (40, 240, 3600, 4, 10),  # patient callers: near Erlang C
])
def test_erlang_a_agrees_with_the_queue_computed_another_way(calls_per_hour: float, handle: float, patience: float,
                                                             handlers: int, t: float) -> None:
    demand = Demand(calls_per_hour / 3600, handle, patience)
    got = performance(handlers, demand, t)
    p_wait, p_abandon, within = _erlang_a_by_chain(handlers, demand, t)
    assert got.p_wait == pytest.approx(p_wait, abs=1e-9)
    assert got.p_abandon == pytest.approx(p_abandon, abs=1e-9)
    assert got.service_level == pytest.approx(within, abs=1e-7)


def test_callers_who_never_give_up_make_erlang_a_into_erlang_c() -> None:
    patient = Demand(100 / 1800, 180, patience_seconds=1e7)
    for n in (11, 12, 14):
        a, c = performance(n, patient, 20), performance(n, patient, 20, "erlang-c")
        assert a.p_wait == pytest.approx(c.p_wait, rel=1e-3)
        assert a.service_level == pytest.approx(c.service_level, rel=1e-3)


def test_callers_who_hang_up_need_fewer_handlers_than_erlang_c_says() -> None:
    # A 999 line's busy hour: 150 calls an hour of 3 minutes (talk + wrap-up), 90% within 10 s.
    demand = Demand(150 / 3600, 180, patience_seconds=60)
    goal = Goal(10, 0.9)
    a, c = handlers_needed(demand, goal), handlers_needed(demand, goal, "erlang-c")
    assert a < c
    assert performance(a, demand, 10).service_level >= 0.9 > performance(a - 1, demand, 10).service_level


@pytest.mark.parametrize("handlers", [1000, 3000])
def test_thousands_of_handlers_stay_finite_and_meet_the_goal_at_the_first_that_does(handlers: int) -> None:
    # load ~97% of the handlers: numbers no factorial or power survives
    demand = Demand(arrivals_per_second=handlers * 0.97 / 300, handle_seconds=300, patience_seconds=120)
    goal = Goal(10, 0.9)
    needed = handlers_needed(demand, goal)
    at, below = performance(needed, demand, 10), performance(needed - 1, demand, 10)
    assert all(math.isfinite(v) for v in (at.p_wait, at.service_level, at.p_abandon, at.mean_wait_seconds))
    assert at.service_level >= 0.9 > below.service_level
    c_needed = handlers_needed(demand, goal, "erlang-c")
    assert erlang_c(c_needed, demand.erlangs) < 1
    assert c_needed >= needed


@pytest.mark.parametrize("seed", range(4))
def test_the_search_finds_the_first_that_meets_the_goal_from_any_beta(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        demand = Demand(rng.uniform(0.001, 0.2), rng.uniform(30, 400), rng.choice([None, rng.uniform(5, 600)]))
        goal = Goal(rng.uniform(0, 30), rng.uniform(0.5, 0.99))
        for model in ("erlang-a", "erlang-c"):
            first = 0  # by counting up, one handler at a time
            while performance(first, demand, goal.within_seconds, model).service_level < goal.fraction:
                first += 1
            for beta in (None, -50.0, -1.0, 0.0, 0.5, 1.0, 2.0, 40.0, math.inf, math.nan):
                assert handlers_needed(demand, goal, model, beta) == first, (demand, goal, model, beta)


def test_an_overloaded_line_in_erlang_c_waits_for_ever() -> None:
    demand = Demand(100 / 1800, 180)
    ten = performance(10, demand, 20, "erlang-c")
    assert (ten.p_wait, ten.service_level, ten.mean_wait_seconds) == (1.0, 0.0, math.inf)


def test_no_calls_need_no_handlers() -> None:
    assert handlers_needed(Demand(0, 180, 60), Goal(10, 0.9)) == 0


@pytest.mark.parametrize(("make", "field"), [
    (lambda: Demand(-1, 180), "arrivals_per_second"),
    (lambda: Demand(1, 0), "handle_seconds"),
    (lambda: Demand(1, 180, 0), "patience_seconds"),
    (lambda: Goal(10, 1.2), "fraction"),
    (lambda: Goal(-1, 0.9), "within_seconds"),
])
def test_a_figure_no_model_takes_is_refused_by_name(make: object, field: str) -> None:
    with pytest.raises(StaffingError) as refused:
        make()  # type: ignore[operator]
    assert refused.value.field == field
