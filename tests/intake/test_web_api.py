"""The REST API as a client sees it, against a served IntakeServer on the simulated PBX: the
OpenAPI schema declares a reply model for every route and the bearer scheme on every protected
one (and the server behaves as declared); replies carry the server's views unchanged; hostile
requests get a specific 4xx naming the field at fault, before anything is done."""

from __future__ import annotations

import json
import re
import secrets as token_source
from collections.abc import AsyncIterator
from typing import Any

import pytest

from telephony.simulator import SimConfig, SimulatedPbx
from tests.routing.test_callback_desk import Floor, serving
from tests.waiting import eventually

H1 = "PJSIP/handler-1"
NUMBER = "07700900123"
OPEN = {"/healthz"}  # the load balancer's health check asks without a token
API = {("get", "/healthz"), ("get", "/api/queues"), ("get", "/api/calls"), ("get", "/api/handlers"),
       ("get", "/api/history/{number}"), ("post", "/api/markers"), ("post", "/api/outcomes"), ("get", "/api/me"),
       ("post", "/api/me/state"), ("get", "/api/reports/{day}"), ("get", "/api/reports/{day}/csv"),
       ("get", "/api/callbacks"), ("post", "/api/callbacks/{task_id}/start"), ("post", "/api/callbacks/{task_id}/outcome"),
       ("get", "/api/me/positions"), ("post", "/api/me/position"), ("delete", "/api/me/position"),
       ("get", "/api/positions"), ("delete", "/api/positions/{position_id}"),
       ("get", "/api/audit/{number}"), ("post", "/api/incidents"), ("post", "/api/incidents/bulk"),
       ("get", "/api/returns"), ("get", "/api/returns/csv"), ("get", "/api/staffing/{day}"),
       ("get", "/api/forecast")}
"""Every REST route: a new one must be declared here, and so meets the checks below."""


@pytest.fixture
async def floor(redis_client: Any) -> AsyncIterator[Floor]:
    """The call-back tests' floor: h1..h4 and sup1, none in a queue yet, nobody answers unless told."""
    async with SimulatedPbx(SimConfig(traffic=None, members_at_start=False, secret=token_source.token_urlsafe(12),
                                      tick=0.005)) as sim:
        tokens = {h: token_source.token_urlsafe(18) for h in ("h1", "h2", "h3", "h4", "sup1")}
        async with serving(sim, redis_client, tokens) as world:
            yield world


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


async def test_openapi_declares_a_reply_model_for_every_route_and_the_bearer_scheme_on_every_protected_one(floor: Floor):
    spec = (await floor.http.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["bearer"] | {"description": ""} == {
        "type": "http", "scheme": "bearer", "description": ""}
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # every 422 is ours

    assert {(method, path) for method, path, _ in operations(spec)} == API

    for method, path, op in operations(spec):
        ok = [status for status in op["responses"] if status.startswith("2")]
        assert len(ok) == 1, (method, path, ok)
        content = op["responses"][ok[0]]["content"]
        assert content, (method, path)
        for media, body in content.items():
            schema = body["schema"]
            assert schema.get("$ref") if media == "application/json" else schema == {"type": "string"}, (method, path)
        for status, reply in op["responses"].items():
            if status.startswith("4") or (status.startswith("5") and path not in OPEN):
                assert reply["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorReply"}}}
        if "requestBody" in op:
            assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"], (method, path)
        if path in OPEN:
            assert "security" not in op, path
        else:
            assert op["security"] == [{"bearer": []}], (method, path)
            assert "401" in op["responses"], (method, path)


async def test_every_route_the_schema_protects_refuses_a_request_without_a_valid_token(floor: Floor):
    spec = (await floor.http.get("/openapi.json")).json()
    for method, path, _ in operations(spec):
        url = re.sub(r"\{[^}]+\}", "x", path)
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Basic {floor.tokens['sup1']}"}):
            r = await floor.http.request(method, url, headers=headers, json={})
            if path in OPEN:
                assert r.status_code in (200, 503), (method, path, r.text)
                continue
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.json() == {"detail": "a valid bearer token is required", "error": "not-signed-in", "field": None}
            assert r.headers["www-authenticate"] == "Bearer"


def without(value: Any, moving: set[str]) -> Any:
    """``value`` with the figures that move with the clock taken out, at any depth."""
    if isinstance(value, dict):
        return {k: without(v, moving) for k, v in value.items() if k not in moving}
    if isinstance(value, list):
        return [without(v, moving) for v in value]
    return value


async def test_replies_carry_the_servers_views_unchanged(floor: Floor):
    await floor.state("h1", "ready")
    floor.sim.place_call("emergency", NUMBER, "Pat Caller")
    await eventually(lambda: floor.server.live_calls(), 10)
    sup = floor.auth("sup1")
    moving = {"at", "waited_seconds", "longest_wait_seconds", "age_seconds"}
    server = floor.server
    for path, view, who in [("/api/queues", server.queue_report, sup),
                            ("/api/calls", lambda: {"calls": server.live_calls()}, sup),
                            ("/api/handlers", lambda: {"handlers": server.handler_views()}, sup),
                            ("/api/callbacks", lambda: {"callbacks": server.callbacks.view()}, sup),
                            ("/api/me", lambda: server.handler_me("h1"), floor.auth("h1"))]:
        r = await floor.http.get(path, headers=who)
        assert r.status_code == 200, (path, r.text)
        assert without(r.json(), moving) == without(json.loads(json.dumps(view())), moving), path
    calls = (await floor.http.get("/api/calls", headers=sup)).json()["calls"]
    assert [c["caller_number"] for c in calls] == [NUMBER]


async def test_a_handler_files_the_outcome_of_the_call_they_answered_over_rest(floor: Floor):
    await floor.state("h1", "ready")
    call_id = floor.sim.place_call("emergency", NUMBER, "Pat Caller")
    await floor.sim.wait_ringing(H1, timeout=10)
    floor.sim.answer(H1)
    await eventually(lambda: (c := floor.server.registry.calls.get(call_id)) is not None and c.answered_by == H1, 10)
    form = {"call_id": call_id, "grading": "priority", "thrive": {"harm": "caller shaken"}, "notes": "neighbour dispute"}

    r = await floor.http.post("/api/outcomes", json=form, headers=floor.auth("h2"))
    assert r.status_code == 403 and r.json()["error"] == "not-your-call" and r.json()["field"] == "call_id", r.text
    r = await floor.http.post("/api/outcomes", json=form, headers=floor.auth("h1"))
    assert r.status_code == 201 and r.json() == {"call_id": call_id, "status": "saved"}, r.text


LONG = "x" * 4001
MARKER = {"number": NUMBER, "kind": "repeat caller"}
OUTCOME = {"call_id": "1700000000.42", "grading": "resolved"}

HOSTILE: list[tuple[str, str, str, Any, int, str, str | None, str]] = [
    # (method, path, who, body: dict/list or raw bytes, status, error, field, words in the detail)
    ("POST", "/api/markers", "sup1", b'{"number": "0770', 422, "invalid", None, "not JSON"),
    ("POST", "/api/markers", "sup1", [MARKER], 422, "invalid", None, "must be a JSON object"),
    ("POST", "/api/markers", "sup1", MARKER | {"number": 7700900123}, 422, "invalid", "number", "number:"),
    ("POST", "/api/markers", "sup1", MARKER | {"number": "0770\x00900123"}, 422, "invalid", "number", "not in the expected form"),
    ("POST", "/api/markers", "sup1", MARKER | {"kind": "firearm"}, 422, "invalid", "kind", "'firearm' is not one of"),
    ("POST", "/api/markers", "sup1", MARKER | {"detail": "x" * 1001}, 422, "invalid", "detail", "longer than 1000 characters"),
    ("POST", "/api/markers", "sup1", MARKER | {"created_by": "sup9"}, 422, "invalid", "created_by", "unknown field"),
    ("POST", "/api/markers", "sup1", b'{"number": "07700900123", "kind": "repeat caller", "expires_at": NaN}',
     422, "invalid", "expires_at", "expires_at:"),
    ("POST", "/api/markers", "sup1", MARKER | {"detail": "x" * 20_000}, 413, "too-large", None, "at most 16384 bytes"),
    ("POST", "/api/outcomes", "h1", OUTCOME | {"call_id": "1700000000.42\r\n"}, 422, "invalid", "call_id", "call_id:"),
    ("POST", "/api/outcomes", "h1", OUTCOME | {"grading": 1}, 422, "invalid", "grading", "grading:"),
    ("POST", "/api/outcomes", "h1", OUTCOME | {"thrive": {"harm": "x" * 501}}, 422, "invalid", "thrive.harm", "longer than 500"),
    ("POST", "/api/outcomes", "h1", OUTCOME | {"notes": LONG}, 422, "invalid", "notes", "longer than 4000 characters"),
    ("POST", "/api/outcomes", "h1", OUTCOME | {"type": "outcome"}, 422, "invalid", "type", "unknown field"),
    ("POST", "/api/outcomes", "h1", OUTCOME, 404, "unknown-call", "call_id", "no call '1700000000.42' is known"),
    ("POST", "/api/outcomes", "sup1", OUTCOME, 403, "wrong-role", None, "handlers only"),
    ("POST", "/api/me/state", "h1", {"state": "not-ready", "reason": "tea\x07"}, 422, "invalid", "reason", "control character"),
    ("POST", "/api/me/state", "h1", {"state": "not-ready"}, 422, "invalid", "reason", "reason: required when not ready"),
    ("POST", "/api/me/state", "h1", {"state": ["ready"]}, 422, "invalid", "state", "state:"),
    ("POST", "/api/me/state", "h1", {"state": "ready", "reason": "x" * 80}, 422, "invalid", "reason", "reason:"),
    ("POST", "/api/callbacks/1700000000.7/outcome", "h1", {"contact": "reached"}, 422, "invalid", "grading",
     "grading: required when the caller was reached"),
    ("POST", "/api/callbacks/1700000000.7/outcome", "h1", {"contact": "no-answer"}, 404, "no-such-task", "task_id",
     "no call-back task '1700000000.7'"),
    ("POST", "/api/callbacks/1700000000.7/start", "h1", None, 404, "no-such-task", "task_id", "no call-back task"),
    ("GET", "/api/reports/2026-13-45", "sup1", None, 422, "invalid", "day", "is not a day (YYYY-MM-DD)"),
    ("GET", "/api/reports/2026-12-01?line=%00", "sup1", None, 422, "invalid", "line", "no line '\\x00'"),
    ("GET", "/api/reports/2026-12-01/csv", "h1", None, 403, "wrong-role", None, "supervisors only"),
    ("GET", "/api/history/anonymous", "h1", None, 422, "not-a-number", "number", "'anonymous' is not a caller number"),
]


@pytest.mark.parametrize(("method", "path", "who", "body", "status", "error", "field", "says"), HOSTILE,
                         ids=[f"{c[1]}-{c[6] or c[5]}-{i}" for i, c in enumerate(HOSTILE)])
async def test_a_hostile_request_gets_a_specific_4xx_naming_the_field(
        floor: Floor, method: str, path: str, who: str, body: Any, status: int, error: str, field: str | None, says: str):
    sent: dict[str, Any] = {"content": body, "headers": {"Content-Type": "application/json"}} if isinstance(body, bytes) else (
        {"json": body} if body is not None else {})
    r = await floor.http.request(method, path, **sent | {"headers": {**sent.get("headers", {}), **floor.auth(who)}})
    assert r.status_code == status, r.text
    reply = r.json()
    assert (reply["error"], reply["field"]) == (error, field), r.text
    assert isinstance(reply["detail"], str) and says in reply["detail"], r.text


async def test_a_body_sent_without_a_content_type_is_still_read_as_json(floor: Floor):
    r = await floor.http.post("/api/markers", content=json.dumps(MARKER).encode(), headers=floor.auth("h1"))
    assert r.status_code == 201, r.text
    marker = r.json()
    assert (marker["number"], marker["kind"], marker["created_by"]) == (NUMBER, "repeat caller", "h1")
    history = (await floor.http.get(f"/api/history/{NUMBER}", params={"reason": "test"}, headers=floor.auth("sup1"))).json()
    assert [m["id"] for m in history["markers"]] == [marker["id"]]


async def test_a_body_streamed_past_the_cap_without_a_length_is_refused_before_it_is_parsed(floor: Floor):
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"number": "07700900123", "kind": "repeat caller", "detail": "'
        for _ in range(40):
            yield b"x" * 1024
        yield b'"}'

    r = await floor.http.post("/api/markers", content=chunks(), headers=floor.auth("sup1") | {"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "too-large", r.text
    assert "content-length" not in r.request.headers  # it really was streamed
