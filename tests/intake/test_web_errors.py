"""The one table of domain errors -> HTTP replies (intake/app/web_errors.py), case by case: every
error the packages raise at the web edge gives its status, its stable ``error`` code and the
field at fault, in the same body shape."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from intake.app.web_errors import HTTP_ERRORS, install, reply_for
from intake.core import errors as core
from routing import errors as routing
from screenpop import errors as pops

CASES: list[tuple[Exception, int, str, str | None]] = [
    (core.NotSignedIn(), 401, "not-signed-in", None),
    (core.WrongRole("supervisor", "supervisors only"), 403, "wrong-role", None),
    (pops.TooManyRefusals(30), 429, "too-many-refusals", None),
    (core.UnknownPerson("h9", "handler"), 403, "not-configured", None),
    (core.RequestTooLarge(20_000, 16_384), 413, "too-large", None),
    (core.InvalidRequest.of("day", "'2026-13-01' is not a day (YYYY-MM-DD)"), 422, "invalid", "day"),
    (core.InvalidRequest(None, ["not JSON (Expecting value)"]), 422, "invalid", None),
    (core.ReasonRequired("a look at a caller's history"), 422, "reason-required", "reason"),
    (pops.NotANumber("anonymous"), 422, "not-a-number", "number"),
    (pops.UnknownCall("1700000000.42"), 404, "unknown-call", "call_id"),
    (pops.NotYourCall("1700000000.42", "h2"), 403, "not-your-call", "call_id"),
    (pops.OutcomeRejected("1700000000.42", "the call is not answered yet"), 422, "rejected", "call_id"),
    (routing.NoSuchTask("1700000000.7"), 404, "no-such-task", "task_id"),
    (routing.TaskConflict("1700000000.7", "h1", "already closed: reached"), 409, "task-conflict", "task_id"),
    (routing.CallbackNotDialable("1700000000.7", "'anonymous'", "is withheld"), 422, "not-dialable", "number"),
    (routing.CallbackNotStarted("1700000000.7", "the PBX refused Originate: No such channel", refused=True), 502, "pbx-refused", None),
    (routing.CallbackNotStarted("1700000000.7", "the PBX could not be reached", refused=False), 503, "pbx-unreachable", None),
    (core.StaticMembership("h1", "logged-out", "PJSIP/handler-1", ["emergency"]), 409, "static-member", "state"),
    (core.PositionTaken("desk-1", "h1"), 409, "position-taken", "position"),
    (core.AlreadySeated("h1", "desk-2"), 409, "already-at-a-position", "position"),
    (core.UnknownPosition("desk-9", "default"), 404, "unknown-position", "position"),
    (core.FixedPhone("h3", "PJSIP/handler-3"), 409, "fixed-phone", "position"),
    (core.NoPhone("h1", "ready"), 409, "no-position", "state"),
    (core.StateChangeFailed("h1", "ready", "the PBX refused QueuePause", refused=True), 502, "pbx-refused", None),
    (core.StateChangeFailed("h1", "ready", "no reply in 5 s", refused=False), 503, "pbx-unreachable", None),
    (pops.NotReplicated("the outcome of call 1700000000.42", 1), 503, "not-replicated", None),
]


def raising(exc: Exception) -> FastAPI:
    app = FastAPI()
    install(app)

    @app.get("/raise")
    async def route() -> None:
        raise exc

    return app


async def get(app: FastAPI, path: str = "/raise") -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        return await http.get(path)


@pytest.mark.parametrize(("exc", "status", "error", "field"), CASES, ids=[f"{type(c[0]).__name__}-{c[1]}" for c in CASES])
async def test_a_domain_error_is_answered_with_its_status_code_and_field(exc: Exception, status: int, error: str,
                                                                         field: str | None) -> None:
    r = await get(raising(exc))
    assert r.status_code == status, r.text
    assert r.json() == {"detail": str(exc), "error": error, "field": field}


def test_every_row_of_the_table_has_a_case_above() -> None:
    assert {reply_for(exc) for exc, *_ in CASES} == set(HTTP_ERRORS)


async def test_a_refused_sign_in_says_which_scheme_to_use() -> None:
    assert (await get(raising(core.NotSignedIn()))).headers["www-authenticate"] == "Bearer"


async def test_a_client_over_its_limit_is_told_when_to_come_back() -> None:
    assert (await get(raising(pops.TooManyRefusals(30)))).headers["retry-after"] == "30"


async def test_an_error_the_table_does_not_list_is_a_500_not_a_guess() -> None:
    r = await get(raising(KeyError("h9")))
    assert r.status_code == 500


async def test_starlettes_own_refusals_have_the_same_shape() -> None:
    r = await get(raising(core.NotSignedIn()), "/no-such-page")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found", "error": "not-found", "field": None}
