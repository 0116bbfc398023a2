"""The HTTP face of the browser pages: the handler's own state, reports, Prometheus, static files.

Routes say who may ask and shape the answer; handler states are :mod:`routing.handler_desk`'
business, reports :mod:`intake.app.journal`'s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request, Security
from fastapi.responses import FileResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from intake.app.journal import hourly_report, report_csv
from intake.app.limits import client_of
from intake.app.web_audit import Why
from intake.app.web_auth import Handler, Supervisor, bearer
from intake.app.web_errors import refusals
from intake.app.web_models import DayReport, Me, StateChanged, StateRequest, View
from intake.core.audit import Action, RecordKind
from intake.core.errors import InvalidRequest, NotSignedIn
from routing.handler_desk import Wanted
from screenpop.auth import TokenBook
from screenpop.errors import BadToken

if TYPE_CHECKING:
    from fastapi import FastAPI

    from intake.app.server import IntakeServer

STATIC = Path(__file__).with_name("static")
PAGES = {"/desktop": "desktop.html", "/wallboard": "wallboard.html", "/reports": "reports.html"}
# The class is a bare Response so OpenAPI says text/csv for the rows and JSON for the refusals.
CSV: dict[int | str, dict[str, object]] = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "One row per hour, as CSV"}}


def add_ui_routes(app: FastAPI, server: IntakeServer) -> None:
    router = APIRouter()

    # exclude_unset: a fixed phone's handler has no position, and their body stays as it was before positions
    @router.get("/api/me", tags=["desktop"], response_model=Me, response_model_exclude_unset=True, responses=refusals(401, 403))
    async def me(who: Handler) -> View:
        """The signed-in handler: name, the state the PBX reports, settings the desktop needs."""
        tiles = server.config.desktop.map_tiles  # only when set: the body is otherwise as it was
        return server.handler_me(who.id) | ({"map_tiles": tiles} if tiles else {})

    @router.post("/api/me/state", tags=["desktop"], response_model=StateChanged,
                 responses=refusals(401, 403, 409, 413, 422, 502, 503))
    async def set_state(body: StateRequest, who: Handler) -> StateChanged:
        """Ready, not ready (with a reason) or logged out, on every queue the handler works.

        Not ready during a call means not ready after it: paused at once with the reason (no
        call is offered), the call's wrap-up still runs, and at its end the handler is paused
        with the reason instead of made ready (``not_ready_after_call`` in ``GET /api/me``
        meanwhile); Ready during the call undoes it.

        409 when a queue to leave holds the handler by queues.conf (static member: the reply says
        so), or when a handler without a fixed phone is at no position yet (``no-position``);
        logging out at a position also leaves it (as ``DELETE /api/me/position``); 502 when the PBX refused, 503 when it could not be reached; nothing half-done is hidden:
        the reply to a retry reflects what the PBX then reports.
        """
        if body.state == "logged-out" and who.position is not None:  # at a position: logging out leaves it
            _, sent = await server.positions.leave(who.id)
        else:
            sent = await server.site_of(who.id).desk.request(who.id, Wanted(body.state), body.reason)
        return StateChanged(requested=body.state, actions=sent)

    def day_report(day: str, line: str | None, site: str | None) -> date:
        try:
            wanted = date.fromisoformat(day)
        except ValueError:
            raise InvalidRequest.of("day", f"{day[:20]!r} is not a day (YYYY-MM-DD)") from None
        if line is not None and line not in {l.name for l in server.config.lines}:
            raise InvalidRequest.of("line", f"no line {line[:10]!r}")
        if site is not None and site not in server.sites:
            raise InvalidRequest.of("site", f"no site {site[:32]!r}")
        return wanted

    @router.get("/api/reports/{day}", tags=["supervisor"], response_model=DayReport, responses=refusals(401, 403, 422))
    async def report(day: str, who: Supervisor, why: Why, line: str | None = Query(None),
                     site: str | None = Query(None)) -> View:
        """Per hour of a local day, from the call journal: answered within target, Home Office
        buckets, abandoned, waits over 2 minutes; every site's calls, or one ``site``'s. Recorded
        in the audit trail (with ``?reason=`` when given: the rows are counts, no caller's data)."""
        wanted = day_report(day, line, site)
        rows = hourly_report(await server.journal_day(wanted, site), line)
        server.audit.record(who, Action.CONSULTED, RecordKind.REPORT, why=why or NO_REASON,
                            record=_report_name(wanted, line, site))
        return {"day": wanted.isoformat(), "line": line, "site": site, "hours": rows}

    @router.get("/api/reports/{day}/csv", tags=["supervisor"], response_class=Response,
                responses=CSV | refusals(401, 403, 422))
    async def report_download(day: str, who: Supervisor, why: Why, line: str | None = Query(None),
                              site: str | None = Query(None)) -> PlainTextResponse:
        """The same rows as CSV: a disclosure, recorded in the audit trail."""
        wanted = day_report(day, line, site)
        rows = hourly_report(await server.journal_day(wanted, site), line)
        name = f"intake-{_report_name(wanted, line, site)}.csv"
        server.audit.record(who, Action.DISCLOSED, RecordKind.REPORT, why=why or NO_REASON, record=name)
        return PlainTextResponse(report_csv(rows), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})

    scraper = TokenBook({server.metrics_token: "prometheus"} if server.metrics_token else {})

    @router.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics(request: Request,
                      credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> Response:
        """Prometheus' scrape: with ``http.metrics_token`` set, only with that bearer token."""
        if server.metrics_token is not None:
            if credentials is None:
                raise NotSignedIn()
            server.limits.may_try(client_of(request))
            try:
                scraper.handler_for(credentials.credentials)
            except BadToken:
                server.limits.refused(client_of(request))
                raise NotSignedIn() from None
        return Response(generate_latest(server.prometheus), media_type=CONTENT_TYPE_LATEST)

    for path, page in PAGES.items():
        router.add_api_route(path, _page(page), methods=["GET"], include_in_schema=False)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


NO_REASON = "none given (a report of counts, no caller's data)"


def _report_name(day: date, line: str | None, site: str | None) -> str:
    return f"{day.isoformat()}-{line or 'all'}{'-' + site if site else ''}"


def _page(name: str) -> Callable[[], Awaitable[FileResponse]]:
    async def page() -> FileResponse:
        # Pages carry no secret (the token is typed in): no-store only so an upgrade shows at once.
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    return page
