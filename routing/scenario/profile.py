"""A busy-hour profile: what the hour is made of, read from TOML and checked key by key.

The shipped default is config/busy-hour.toml, annotated there. Every fault is reported at once
with its dotted key path (``lines.999.talk_seconds: ...``), through the same
:class:`~intake.core.errors.ConfigError` that ``intake check-config`` prints.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from intake.core.config import problems_of, read_toml
from intake.core.errors import ConfigError, ConfigProblem

LINES = ("999", "101")

# The fields each kind of distribution takes, in seconds (sigma is the log's spread, no unit).
KINDS: dict[str, tuple[str, ...]] = {
    "fixed": ("seconds",),
    "uniform": ("low", "high"),
    "exponential": ("mean",),
    "lognormal": ("median", "sigma"),
}


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Distribution(_Table):
    """A duration drawn per call: ``{ distribution = "lognormal", median = 150, sigma = 0.5 }``."""

    distribution: Literal["fixed", "uniform", "exponential", "lognormal"]
    seconds: float | None = Field(None, ge=0)
    low: float | None = Field(None, ge=0)
    high: float | None = Field(None, ge=0)
    mean: float | None = Field(None, gt=0)
    median: float | None = Field(None, gt=0)
    sigma: float | None = Field(None, ge=0, le=3)

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> Distribution:
        wanted = KINDS[self.distribution]
        given = {k for k in ("seconds", "low", "high", "mean", "median", "sigma") if getattr(self, k) is not None}
        missing = [k for k in wanted if k not in given]
        foreign = sorted(given - set(wanted))
        if missing:
            raise ValueError(f"a {self.distribution} distribution needs {_keys(missing)}")
        if foreign:
            raise ValueError(f"{_keys(foreign)} is not used by a {self.distribution} distribution (it takes {_keys(wanted)})")
        if self.distribution == "uniform" and self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low:g}) is above high ({self.high:g})")
        return self

    def draw(self, rng: random.Random) -> float:
        match self.distribution:
            case "fixed":
                return float(self.seconds or 0.0)
            case "uniform":
                return rng.uniform(self.low or 0.0, self.high or 0.0)
            case "exponential":
                return rng.expovariate(1 / (self.mean or 1.0))
            case _:
                return rng.lognormvariate(math.log(self.median or 1.0), self.sigma or 0.0)

    def describe(self) -> str:
        fields = ", ".join(f"{k} {getattr(self, k):g}" for k in KINDS[self.distribution])
        return f"{self.distribution} ({fields})"


def _keys(names: list[str] | tuple[str, ...]) -> str:
    return " and ".join(repr(n) for n in names)


class LineLoad(_Table):
    """One line's demand and the time its calls take."""

    # Calls offered per hour in each interval, in order: a Poisson process at that rate.
    arrivals_per_hour: list[Annotated[float, Field(ge=0, le=100_000)]] = Field(..., min_length=1)
    talk_seconds: Distribution
    wrapup_seconds: Distribution
    # How long a caller waits in the queue before hanging up.
    patience_seconds: Distribution


class Lines(_Table):
    """Both lines, under their names: ``[lines.999]`` and ``[lines.101]``."""

    emergency: LineLoad = Field(..., alias="999")
    non_emergency: LineLoad = Field(..., alias="101")

    def __getitem__(self, name: str) -> LineLoad:
        return {"999": self.emergency, "101": self.non_emergency}[name]


class Staffing(_Table):
    """Handlers signed in for the whole hour, by the lines they work."""

    only_999: int = Field(..., ge=0, le=1000)
    only_101: int = Field(..., ge=0, le=1000)
    both: int = Field(..., ge=0, le=1000)


class Profile(_Table):
    name: str = Field("busy hour", min_length=1)
    seed: int = 1
    # When the hour starts: the PBX clock's epoch (timestamps in the runs look like that evening).
    starts: datetime = datetime(2025, 6, 6, 20, 0, tzinfo=UTC)
    interval_seconds: float = Field(300, ge=1, le=3600)
    # From AgentCalled to the handler answering: the phone rings this long.
    ring_seconds: Distribution
    handlers: Staffing
    lines: Lines

    @property
    def intervals(self) -> int:
        return len(self.lines["999"].arrivals_per_hour)

    @property
    def seconds(self) -> float:
        return self.intervals * self.interval_seconds

    def offered_expected(self, line: str) -> float:
        return sum(self.lines[line].arrivals_per_hour) * self.interval_seconds / 3600


def _cross_check(profile: Profile) -> list[ConfigProblem]:
    problems = []
    intervals = profile.intervals
    other = profile.lines["101"].arrivals_per_hour
    if len(other) != intervals:
        problems.append(ConfigProblem("lines.101.arrivals_per_hour",
                                      f"{len(other)} intervals, but lines.999.arrivals_per_hour has {intervals}: one rate per interval on each line"))
    staff = profile.handlers
    if staff.only_999 + staff.both == 0:
        problems.append(ConfigProblem("handlers", "nobody works the 999 line (only_999 + both is 0)"))
    if staff.only_101 + staff.both == 0:
        problems.append(ConfigProblem("handlers", "nobody works the 101 line (only_101 + both is 0)"))
    return problems


# Any: TOML as parsed, before validation; what comes out is typed
def parse(raw: dict[str, Any], source: str = "<profile>") -> Profile:
    try:
        profile = Profile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, problems_of(exc)) from None
    problems = _cross_check(profile)
    if problems:
        raise ConfigError(source, problems)
    return profile


def load(path: str | Path) -> Profile:
    return parse(read_toml(path), str(path))
