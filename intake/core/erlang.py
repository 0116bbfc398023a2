"""How many handlers a line needs: Erlang C (callers wait for ever) and Erlang A (callers hang up).

Pure functions of one interval's demand: no clock, no I/O. Rates are per second.

Erlang C is the M/M/n queue; Erlang A (Palm's queue, M/M/n+M) adds callers who give up after an
exponential patience of mean ``patience_seconds`` (Garnett, Mandelbaum & Reiman, "Designing a
Call Center with Impatient Customers", MSOM 4(3), 2002; Mandelbaum & Zeltyn, "The Palm/Erlang-A
Queue, with Applications to Call Centers", 2005). Erlang A is the model staffing uses: a 999 line
that loses callers is not an M/M/n queue, and Erlang C overstates the handlers it needs.

Why ours and not a package (env's package lists, checked): erlangccmath, the one with Erlang X
(abandonment), posts every calculation to its vendor's web service under an account, and a
control room has no internet; pyworkforce's queueing is Erlang C, with pandas and OR-tools
behind it; erlanglib (last release 2023) and call-center-tools (a 1.0.0 of 2025) say nothing of
abandonment.
And the service level here is the Home Office's (answered within the target over every call
offered, abandoned ones included), which is a few lines once Erlang A's parts are at hand.

Numerics, stable for thousands of handlers: Erlang B by its recursion (never a factorial or a
power of the load); Erlang C from B; Erlang A in closed form through the regularized incomplete
gamma function, all in logarithms (an overloaded line's queue weight is e^hundreds). The
derivation, in the notation of Garnett et al.: with c = n*mu, x = c/theta, y = lambda/theta, the
stationary weight of the queue relative to "all n busy, nobody waiting" is
``S = x e^y y^-x gamma(x, y)``; a delayed caller finding j ahead is reached after a sum of
exponentials of rates c + i*theta (i = j..0), and summed over j with the stationary weights the
density of that offered wait is ``c exp(y - c s - y e^(-theta s))``; a caller is answered within t
when that wait is at most t and their patience outlasts it, which integrates to
``x e^y y^-(x+1) [gamma(x+1, y) - gamma(x+1, y e^(-theta t))]``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

from intake.core.errors import StaffingError

Model = Literal["erlang-a", "erlang-c"]

MAX_HANDLERS = 100_000
"""No interval of any force needs more; a search that gets here is told so, not looped."""


@dataclass(frozen=True, slots=True)
class Demand:
    """What one interval brings to one line, in the model's terms."""

    arrivals_per_second: float
    handle_seconds: float
    """Mean talk + wrap-up: the time a call takes a handler away from the queue."""
    patience_seconds: float | None = None
    """Mean time a caller waits before hanging up; None for callers who never do (Erlang C)."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.arrivals_per_second) and self.arrivals_per_second >= 0):
            raise StaffingError("arrivals_per_second", self.arrivals_per_second, "a rate of 0 or more")
        if not (math.isfinite(self.handle_seconds) and self.handle_seconds > 0):
            raise StaffingError("handle_seconds", self.handle_seconds, "a time above 0")
        if self.patience_seconds is not None and not (self.patience_seconds > 0):
            raise StaffingError("patience_seconds", self.patience_seconds, "a time above 0, or none")

    @property
    def erlangs(self) -> float:
        """The offered load: handlers kept busy on average if every call were answered."""
        return self.arrivals_per_second * self.handle_seconds


@dataclass(frozen=True, slots=True)
class Goal:
    """A line's service goal: ``fraction`` of calls offered answered within ``within_seconds``
    (abandoned calls count against it, as in the Home Office's measure)."""

    within_seconds: float
    fraction: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.within_seconds) and self.within_seconds >= 0):
            raise StaffingError("within_seconds", self.within_seconds, "a time of 0 or more")
        if not (0 < self.fraction < 1):
            raise StaffingError("fraction", self.fraction, "a fraction between 0 and 1 (0.9 for 90%)")


@dataclass(frozen=True, slots=True)
class Performance:
    """What ``handlers`` handlers give a line, by one model."""

    model: Model
    handlers: int
    erlangs: float
    p_wait: float
    """Probability a caller finds every handler busy."""
    service_level: float
    """Fraction of calls offered that are answered within the goal's time."""
    p_abandon: float
    """Fraction of callers who hang up before an answer (0 in Erlang C)."""
    mean_wait_seconds: float
    """Mean time in the queue, over every caller (abandoned ones until they hang up); inf when
    Erlang C's queue grows without end."""
    occupancy: float
    """Fraction of the handlers' time spent on calls."""


def erlang_b(handlers: int, erlangs: float) -> float:
    """Probability that all ``handlers`` are busy in the loss system (Erlang B), by recursion."""
    if handlers < 0:
        raise StaffingError("handlers", handlers, "0 or more")
    b = 1.0
    for k in range(1, handlers + 1):
        b = erlangs * b / (k + erlangs * b)
    return b


def erlang_c(handlers: int, erlangs: float) -> float:
    """Probability that a caller waits (Erlang C); 1 when the load is at or above the handlers."""
    if handlers <= erlangs:
        return 1.0
    b = erlang_b(handlers, erlangs)
    rho = erlangs / handlers
    return b / (1 - rho * (1 - b))


def performance(handlers: int, demand: Demand, within_seconds: float, model: Model = "erlang-a") -> Performance:
    """What ``handlers`` give this demand: Erlang A when callers hang up and the model is A,
    else Erlang C."""
    if handlers < 0:
        raise StaffingError("handlers", handlers, "0 or more")
    if model == "erlang-a" and demand.patience_seconds is not None and math.isfinite(demand.patience_seconds):
        return _erlang_a(handlers, demand, demand.patience_seconds, within_seconds)
    return _erlang_c(handlers, demand, within_seconds)


@functools.lru_cache(maxsize=64)
def service_level(handlers: int, demand: Demand, within_seconds: float, model: Model = "erlang-a") -> float:
    """:func:`performance`'s service level alone, the same figure to the last bit at about half
    its cost (the search's only test: it skips the answered and abandoned shares). The last few
    are remembered: staffing asks again for the one its search ended on."""
    if handlers < 0:
        raise StaffingError("handlers", handlers, "0 or more")
    if model == "erlang-a" and demand.patience_seconds is not None and math.isfinite(demand.patience_seconds):
        lam = demand.arrivals_per_second
        if lam == 0 or handlers == 0:
            return 1.0 if lam == 0 else 0.0
        return _unit(_erlang_a_parts(handlers, demand, demand.patience_seconds, within_seconds, answered=False)[2])
    return _erlang_c(handlers, demand, within_seconds).service_level


def staffing_beta(needed: int, demand: Demand) -> float:
    """The square-root staffing rule's beta (``handlers = erlangs + beta * sqrt(erlangs)``,
    Halfin & Whitt; Garnett et al.) of the last count that fell short of ``needed``: stable from one
    interval to the next, so the interval before's is the next search's start, which then most
    often falls short by one handler and is settled in two service levels."""
    a = demand.erlangs
    return (needed - 1 - a) / math.sqrt(a) if a > 0 else 0.0


def handlers_needed(demand: Demand, goal: Goal, model: Model = "erlang-a", beta: float | None = None) -> int:
    """The fewest handlers whose service level meets the goal (0 for no calls). ``beta``: the
    square-root staffing rule's (:func:`staffing_beta` of the interval before's answer, say); the
    search starts at ``erlangs + beta * sqrt(erlangs)`` and costs two service levels when that is
    right, a few more when it is close, O(log n) however far off it is."""
    if demand.arrivals_per_second == 0:
        return 0

    def meets(n: int) -> bool:
        return service_level(n, demand, goal.within_seconds, model) >= goal.fraction

    # The service level rises with every handler added: step from the estimate (1, 2, 4... away)
    # until the answer is bracketed, then bisect. Invariant: ``low`` fails (no handler answers
    # nobody), ``high`` meets.
    a = demand.erlangs
    guess = a + (beta if beta is not None else 0.0) * math.sqrt(a)
    start = max(1, min(MAX_HANDLERS, math.ceil(guess))) if math.isfinite(guess) else max(1, math.ceil(a))
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


def _erlang_c(handlers: int, demand: Demand, t: float) -> Performance:
    a, n = demand.erlangs, handlers
    if n == 0 or a >= n:
        return Performance("erlang-c", n, a, 1.0, 0.0 if a > 0 else 1.0, 0.0,
                           math.inf if a > 0 else 0.0, 1.0 if a > 0 else 0.0)
    c = erlang_c(n, a)
    drain = (n - a) / demand.handle_seconds  # rate at which the queue empties past the arrivals
    return Performance("erlang-c", n, a, c, 1 - c * math.exp(-drain * t), 0.0, c / drain, a / n)


def _erlang_a(handlers: int, demand: Demand, patience: float, t: float) -> Performance:
    lam, theta = demand.arrivals_per_second, 1 / patience
    n = handlers
    if lam == 0:
        return Performance("erlang-a", n, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
    if n == 0:
        # Nobody answers: every caller waits until they hang up.
        return Performance("erlang-a", 0, demand.erlangs, 1.0, 0.0, 1.0, patience, 0.0)
    p_wait, answered_delayed, service_level = _erlang_a_parts(n, demand, patience, t, answered=True)
    p_abandon = p_wait * (1.0 - answered_delayed)
    # Abandonment happens at rate theta per caller waiting: lambda*P(Ab) = theta*E[Q], and
    # Little's law gives the mean wait over every caller as E[Q]/lambda.
    mean_wait = p_abandon / theta
    occupancy = lam * (1 - p_abandon) / (n * (1 / demand.handle_seconds))
    return Performance("erlang-a", n, demand.erlangs, p_wait, _unit(service_level), _unit(p_abandon), mean_wait,
                       _unit(occupancy))


def _erlang_a_parts(n: int, demand: Demand, patience: float, t: float, *, answered: bool) -> tuple[float, float, float]:
    """P(wait), the share of delayed callers answered at all (nan unless ``answered``), and the
    service level unclipped, for n >= 1 handlers and calls arriving."""
    lam, mu, theta = demand.arrivals_per_second, 1 / demand.handle_seconds, 1 / patience
    y = lam / theta
    c = n * mu
    x = c / theta
    # Logarithms of the queue's weight S (relative to pi_n), of the weight of delayed callers who
    # are answered at all, and of those answered within t: each can be e^hundreds on its own.
    log_s = math.log(x) + y - x * math.log(y) + math.lgamma(x) + _log_p(x, y)
    log_k = math.log(x) + y - (x + 1) * math.log(y) + math.lgamma(x + 1)
    answered_delayed = math.exp(log_k - log_s + _log_p(x + 1, y)) if answered else math.nan
    within_delayed = math.exp(log_k - log_s + _log_p_between(x + 1, y * math.exp(-theta * t), y))
    # pi_n * S = P(wait) = B*S / (1 + B*(S - 1)), written so that a huge S does not overflow.
    b = erlang_b(n, demand.erlangs)
    p_wait = 1.0 / (1.0 + (1.0 / b - 1.0) * math.exp(-log_s)) if b > 0 else 0.0
    return p_wait, answered_delayed, (1.0 - p_wait) + p_wait * within_delayed


def _unit(p: float) -> float:
    return min(1.0, max(0.0, p))


# The regularized incomplete gamma functions P and Q = 1 - P, as logarithms (their prefactor
# z^a e^-z / Gamma(a) underflows for thousands of handlers), by series below a+1 and continued
# fraction above (the classic pairing: each converges fast where the other is slow).
_EPS = 1e-15
_MAX_TERMS = 100_000


def _log_p(a: float, z: float) -> float:
    """log P(a, z), P(a, z) = gamma(a, z) / Gamma(a)."""
    if z <= 0:
        return -math.inf
    if z < a + 1:
        return _log_series(a, z)
    return _log1m_exp(_log_continued_fraction(a, z))


def _log_q(a: float, z: float) -> float:
    """log Q(a, z), without the cancellation of 1 - P."""
    if z <= 0:
        return 0.0
    if z < a + 1:
        return _log1m_exp(_log_series(a, z))
    return _log_continued_fraction(a, z)


def _log_p_between(a: float, low: float, high: float) -> float:
    """log(P(a, high) - P(a, low)), from the tail that keeps its digits."""
    if low >= high:
        return -math.inf
    if low >= a + 1:
        q_low = _log_q(a, low)
        return q_low + _log1m_exp(_log_q(a, high) - q_low)
    p_high = _log_p(a, high)
    return p_high + _log1m_exp(_log_p(a, low) - p_high)


def _log1m_exp(v: float) -> float:
    """log(1 - e^v) for v <= 0."""
    if v >= 0:
        return -math.inf
    return math.log(-math.expm1(v)) if v > -0.693 else math.log1p(-math.exp(v))


def _log_prefactor(a: float, z: float) -> float:
    return a * math.log(z) - z - math.lgamma(a)


def _log_series(a: float, z: float) -> float:
    term = total = 1.0 / a
    ap = a
    for _ in range(_MAX_TERMS):
        ap += 1
        term *= z / ap
        total += term
        if term < total * _EPS:
            break
    return math.log(total) + _log_prefactor(a, z)


def _log_continued_fraction(a: float, z: float) -> float:
    # Lentz's method on Q's continued fraction
    tiny = 1e-300
    b = z + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, _MAX_TERMS):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPS:
            break
    return math.log(h) + _log_prefactor(a, z)
