"""The national returns over HTTP, for the reports page and a force's performance team:
``GET /api/returns?from=DAY&to=DAY`` (JSON) and ``GET /api/returns/csv`` (one table, the layout of
docs/returns.md); and a day's demand against staffing, ``GET /api/staffing/{day}``. Supervisors
only; recorded in the audit trail like the day's report.

The figures are :mod:`intake.core.returns`' from the journal's day summaries
(:mod:`intake.app.journal_range`): a year answers in a second or two once its days are kept, and
the days are made from the records, a few at a time, when they are not.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict

from intake.app.journal_range import JournalRange, wrapups_of
from intake.app.signed_in_store import read_signed_in
from intake.app.staffing_cli import staffing_view
from intake.app.web_audit import Why
from intake.app.web_auth import Supervisor
from intake.app.web_errors import refusals
from intake.core.audit import Action, RecordKind
from intake.core.errors import InvalidRequest
from intake.core.returns import (
    MISUSE_COLUMNS,
    RETURN_COLUMNS,
    DaySummary,
    as_csv,
    misuse,
    monthly_returns,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from intake.app.server import IntakeServer

MAX_DAYS = 3 * 366
"""The longest range one request reads: three years (the journal keeps ~400 days)."""
NO_REASON = "none given (a return of counts, no caller's data)"
CSV: dict[int | str, dict[str, object]] = {200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                                                 "description": "One table of the return, as CSV (docs/returns.md)"}}


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReturnRow(_Reply):
    month: str
    line: str
    offered: int
    answered: int
    answered_within_10s: int
    answered_within_10s_pct: float | None
    mean_answer_seconds: float | None
    p90_answer_seconds: float | None
    waited_over_2min: int
    abandoned: int
    abandoned_pct: float | None
    target_seconds: float | None
    answered_within_target: int
    answered_within_target_pct: float | None


class MisuseRow(_Reply):
    month: str
    hour: int
    grading: str
    calls: int
    called_back: int
    """Of ``calls``, abandoned calls graded by their call-back."""


class MisuseMonth(_Reply):
    month: str
    graded: int
    not_emergency: int
    not_emergency_pct: float | None
    by_grading: dict[str, int]
    called_back: int


class Misuse(_Reply):
    rows: list[MisuseRow]
    months: list[MisuseMonth]


class StaffingLine(_Reply):
    target_seconds: float
    goal_percent: float
    handle_seconds: float
    patience_seconds: float | None
    wrapups_measured: int


class StaffingRow(_Reply):
    line: str
    start: str
    offered: int
    answered: int
    abandoned: int
    answered_within_target: int
    handle_seconds: float | None
    patience_seconds: float | None
    erlangs: float
    needed: int
    needed_erlang_c: int
    signed_in: float | None
    service_level_signed_in: float | None
    wrapup: Literal["measured", "configured", "mixed"]
    """Whose wrap-up the handle time holds: the one measured after each call, the line's configured one, or both."""
    wrapups_measured: int


class Staffing(_Reply):
    day: str
    interval_minutes: int
    lines: dict[str, StaffingLine]
    intervals: list[StaffingRow]


class Returns(_Reply):
    first: str
    last: str
    site: str | None
    records: int
    returns: list[ReturnRow]
    misuse: Misuse


def add_returns_routes(app: FastAPI, server: IntakeServer) -> None:
    router = APIRouter()

    def wanted(first: str, last: str, site: str | None) -> tuple[date, date]:
        return asked_days(server, first, last, site)

    async def days_of(first: date, last: date, site: str | None) -> dict[str, DaySummary]:
        sites = [server.sites[site]] if site is not None else list(server.sites.values())
        journal = JournalRange(sites[0].journal.redis, [s.journal.prefix for s in sites], wrapups_of(server.config))
        return await journal.summaries(first, last, date.today(), demand=False)

    @router.get("/api/returns", tags=["supervisor"], response_model=Returns, responses=refusals(401, 403, 422))
    # Any: a JSON view (plain values), checked against ``Returns`` on the way out
    async def returns(who: Supervisor, why: Why, first: str = Query(alias="from"), last: str = Query(alias="to"),
                      site: str | None = Query(None)) -> dict[str, Any]:
        """The national returns of the local days ``from`` to ``to``: per month and line, and 999
        misuse by hour and grading (docs/returns.md). Recorded in the audit trail."""
        start, end = wanted(first, last, site)
        days = await days_of(start, end, site)
        server.audit.record(who, Action.CONSULTED, RecordKind.REPORT, why=why or NO_REASON,
                            record=_name(start, end, site))
        return {"first": start.isoformat(), "last": end.isoformat(), "site": site,
                "records": sum(d.records for d in days.values()), "returns": monthly_returns(days), "misuse": misuse(days)}

    @router.get("/api/returns/csv", tags=["supervisor"], response_class=Response, responses=CSV | refusals(401, 403, 422))
    async def returns_csv(who: Supervisor, why: Why, first: str = Query(alias="from"), last: str = Query(alias="to"),
                          table: Literal["returns", "misuse"] = Query("returns"),
                          site: str | None = Query(None)) -> PlainTextResponse:
        """One table of the return as CSV: a disclosure, recorded in the audit trail."""
        start, end = wanted(first, last, site)
        days = await days_of(start, end, site)
        name = f"intake-{table}-{_name(start, end, site)}.csv"
        server.audit.record(who, Action.DISCLOSED, RecordKind.REPORT, why=why or NO_REASON, record=name)
        text = as_csv(misuse(days)["rows"], MISUSE_COLUMNS) if table == "misuse" else as_csv(monthly_returns(days), RETURN_COLUMNS)
        return PlainTextResponse(text, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @router.get("/api/staffing/{day}", tags=["supervisor"], response_model=Staffing, responses=refusals(401, 403, 422))
    # Any: a JSON view (plain values), checked against ``Staffing`` on the way out
    async def staffing(day: str, who: Supervisor, why: Why, site: str | None = Query(None)) -> dict[str, Any]:
        """A local day's demand per line and interval (``[staffing] interval_minutes``) and the
        handlers each needed for the line's goal, Erlang A and C (as ``intake staffing``): the
        reports page's demand against staffing. Recorded in the audit trail."""
        start, _ = wanted(day, day, site)
        sites = [server.sites[site]] if site is not None else list(server.sites.values())
        prefixes = [s.journal.prefix for s in sites]
        samples = await read_signed_in(sites[0].journal.redis, prefixes, start, start)
        journal = JournalRange(sites[0].journal.redis, prefixes, wrapups_of(server.config))
        demand = await journal.demand(start, start, date.today(), server.config.staffing.interval_minutes * 60, samples)
        server.audit.record(who, Action.CONSULTED, RecordKind.REPORT, why=why or NO_REASON,
                            record=f"staffing-{start.isoformat()}{'-' + site if site else ''}")
        return {"day": start.isoformat()} | staffing_view(demand, server.config)

    app.include_router(router)


def asked_days(server: IntakeServer, first: str, last: str, site: str | None, most: int = MAX_DAYS,
               what: str = "return") -> tuple[date, date]:
    """The local days ``first`` to ``last`` (YYYY-MM-DD, both included) a report is asked for, at
    most ``most`` of them, of one of the server's sites or of all (``site`` None); else InvalidRequest
    naming the field at fault."""
    days = []
    for name, text in (("from", first), ("to", last)):
        try:
            days.append(date.fromisoformat(text))
        except ValueError:
            raise InvalidRequest.of(name, f"{text[:20]!r} is not a day (YYYY-MM-DD)") from None
    if days[1] < days[0]:
        raise InvalidRequest.of("to", "is before from")
    if (days[1] - days[0]).days >= most:
        raise InvalidRequest.of("to", f"at most {most} days in one {what} ({(days[1] - days[0]).days + 1} asked)")
    if site is not None and site not in server.sites:
        raise InvalidRequest.of("site", f"no site {site[:32]!r}")
    return days[0], days[1]


def _name(first: date, last: date, site: str | None) -> str:
    return f"returns-{first.isoformat()}-{last.isoformat()}{'-' + site if site else ''}"
