"""The forecast over HTTP, for the reports page: ``GET /api/forecast?from=DAY&to=DAY[&site=]``,
the days ahead per line and interval with the handlers they will need (Erlang A and C) and how
good the forecast has been (the back-test), as ``intake forecast`` prints them: both read it with
:func:`intake.app.staffing_cli.read_forecast`. Supervisors only; recorded in the audit trail like
the other reports. At most :data:`MAX_DAYS` days in one request (a month ahead is as far as a
weekday profile is worth reading, and a month of quarter hours is ~6,000 Erlang figures).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from intake.app.staffing_cli import read_forecast
from intake.app.web_audit import Why
from intake.app.web_auth import Supervisor
from intake.app.web_errors import refusals
from intake.app.web_returns import NO_REASON, asked_days
from intake.core.audit import Action, RecordKind

if TYPE_CHECKING:
    from fastapi import FastAPI

    from intake.app.server import IntakeServer

MAX_DAYS = 31


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ForecastGoal(_Reply):
    target_seconds: float
    goal_percent: float


class ForecastHistory(_Reply):
    first: str | None = Field(alias="from")
    """The first day of history the forecast learnt from (the window's first, or the journal's
    first day with a call when it began inside the window); None: no call in the window."""
    last: str | None = Field(alias="to")
    days: int
    window_from: str
    window_weeks: int


class ForecastRow(_Reply):
    line: str
    start: str
    offered: float
    handle_seconds: float
    patience_seconds: float
    erlangs: float
    needed: int
    needed_erlang_c: int


class BacktestRow(_Reply):
    weekday: int
    interval: int
    forecast: float
    actual: float
    absolute_error: float


class LineBacktest(_Reply):
    held_back_weeks: int
    mean_absolute_error: float
    weighted_absolute_percentage_error: float | None
    by_interval: list[BacktestRow]


class Forecast(_Reply):
    first: str = Field(alias="from")
    last: str = Field(alias="to")
    site: str | None
    interval_minutes: int
    goals: dict[str, ForecastGoal]
    history: ForecastHistory
    without_history: list[str]
    unseen_weekdays: list[str]
    held_back_weeks: int
    backtest: dict[str, LineBacktest]
    intervals: list[ForecastRow]


def add_forecast_routes(app: FastAPI, server: IntakeServer) -> None:
    router = APIRouter()

    @router.get("/api/forecast", tags=["supervisor"], response_model=Forecast, responses=refusals(401, 403, 422))
    # Any: a JSON view (plain values), checked against ``Forecast`` on the way out
    async def forecast(who: Supervisor, why: Why, first: str = Query(alias="from"), last: str = Query(alias="to"),
                       site: str | None = Query(None)) -> dict[str, Any]:
        """The local days ``from`` to ``to`` (at most 31) forecast per line and interval from the
        ``[staffing] history_weeks`` before them, with the handlers each interval will need and the
        back-test (as ``intake forecast``). Recorded in the audit trail."""
        start, end = asked_days(server, first, last, site, MAX_DAYS, "forecast")
        sites = [server.sites[site]] if site is not None else list(server.sites.values())
        view = await read_forecast(sites[0].journal.redis, [s.journal.prefix for s in sites], server.config, start, end,
                                   date.today())
        server.audit.record(who, Action.CONSULTED, RecordKind.REPORT, why=why or NO_REASON,
                            record=f"forecast-{start.isoformat()}-{end.isoformat()}{'-' + site if site else ''}")
        return view | {"site": site}

    app.include_router(router)
