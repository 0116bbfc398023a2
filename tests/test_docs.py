"""The docs say what the code does, where a machine can check it: links lead somewhere, every metric
/metrics serves is documented and every one documented is served, every configuration key is
documented and every key documented exists, every route is documented and every route and stream
documented is served. Prose is not tested."""

from __future__ import annotations

import asyncio
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeGuard, get_args, get_origin

import fakeredis
import httpx
from fastapi import FastAPI
from prometheus_client import generate_latest
from pydantic import BaseModel

from intake.app.server import IntakeServer
from intake.app.web import create_app
from intake.core.config import IntakeConfig, parse, read_toml
from screenpop.signin import auth_message
from tests.waiting import patience

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted([REPO / "README.md", REPO / "CHANGELOG.md", *(REPO / "docs").glob("*.md")])
OPERATIONS = REPO / "docs" / "operations.md"
API = REPO / "docs" / "api.md"
SHIPPED_CONFIG = REPO / "config" / "intake.toml"

_FENCE = re.compile(r"^\s*(```|~~~)")
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_CODE_SPAN = re.compile(r"`[^`]*`")


def prose_lines(page: Path) -> Iterator[str]:
    """The page's lines outside fenced code blocks."""
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield line


def anchors(page: Path) -> set[str]:
    """The anchors GitHub makes of a page's headings: lower case, punctuation dropped, spaces to
    hyphens, a repeated heading numbered."""
    seen: dict[str, int] = {}
    out = set()
    for line in prose_lines(page):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def relative_links(page: Path) -> Iterator[str]:
    for line in prose_lines(page):
        for target in _LINK.findall(_CODE_SPAN.sub("", line)):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
                yield target


def test_every_relative_link_in_the_readme_and_docs_leads_to_a_file_and_its_anchor() -> None:
    broken = []
    for page in PAGES:
        for target in relative_links(page):
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                broken.append(f"{page.relative_to(REPO)}: {target} (no heading #{anchor} in {file.name})")
    assert not broken, "\n".join(broken)


def shipped_server() -> IntakeServer:
    """A server on the shipped configuration and the embedded store, not started (no PBX)."""
    config = parse(read_toml(SHIPPED_CONFIG), str(SHIPPED_CONFIG))
    secrets = {"ami.secret": "not-used-no-pbx"}
    secrets |= {f"handlers[{i}].token": f"handler-token-{i:08d}" for i in range(len(config.handlers))}
    secrets |= {f"supervisors[{i}].token": f"supervisor-token-{i:05d}" for i in range(len(config.supervisors))}
    return IntakeServer(config, secrets, fakeredis.FakeAsyncRedis())


def served_metrics() -> dict[str, str]:
    """What /metrics serves, name -> type."""
    text = generate_latest(shipped_server().prometheus).decode()
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE))


def section(page: Path, heading: str) -> list[str]:
    lines, inside = [], False
    for line in prose_lines(page):
        if line.startswith("## "):
            inside = line == f"## {heading}"
        elif inside:
            lines.append(line)
    assert lines, f"no section '## {heading}' in {page.name}"
    return lines


def table_rows(lines: list[str]) -> list[list[str]]:
    rows = [[cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]] for line in lines if line.startswith("| `")]
    assert rows, "no table rows"
    return rows


def test_every_metric_served_is_documented_with_its_type_and_every_one_documented_is_served() -> None:
    served = served_metrics()
    documented = {row[0].strip("`"): row[1] for row in table_rows(section(OPERATIONS, "Prometheus metrics"))}
    assert served, "the server serves no metric"
    assert sorted(set(served) - set(documented)) == [], "served, not in docs/operations.md's table"
    assert sorted(set(documented) - set(served)) == [], "in docs/operations.md's table, not served"
    assert {name: kind for name, kind in documented.items()} == served
    # Named anywhere in the page (an alert, a log line): it must be a metric that exists.
    named = set(re.findall(r"\bintake_[a-z0-9_]+", OPERATIONS.read_text(encoding="utf-8")))
    assert sorted(named - set(served)) == []


def schema_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every key the configuration schema reads, as a dotted path (``[]``: each entry of an array)."""
    for name, field in model.model_fields.items():
        path, kind = f"{prefix}{name}", field.annotation
        models = [k for k in get_args(kind) if _is_model(k)] if type(None) in get_args(kind) else []
        if models:  # an optional section, e.g. [oidc]
            kind = models[0]
        if get_origin(kind) is list and _is_model(get_args(kind)[0]):
            yield from schema_keys(get_args(kind)[0], f"{path}[].")
        elif _is_model(kind):
            yield from schema_keys(kind, f"{path}.")
        else:
            yield path


def _is_model(kind: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def toml_keys(table: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for name, value in table.items():
        if isinstance(value, dict):
            yield from toml_keys(value, f"{prefix}{name}.")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for entry in value:
                yield from toml_keys(entry, f"{prefix}{name}[].")
        else:
            yield f"{prefix}{name}"


def test_every_configuration_key_is_documented_and_every_key_documented_exists() -> None:
    schema = set(schema_keys(IntakeConfig))
    shipped = set(toml_keys(tomllib.loads(SHIPPED_CONFIG.read_text(encoding="utf-8"))))
    documented = {row[0].strip("`") for row in table_rows(section(OPERATIONS, "Configuration"))}
    assert shipped <= schema, f"config/intake.toml has keys the schema does not read: {sorted(shipped - schema)}"
    assert sorted(schema - documented) == [], "keys missing from docs/operations.md's configuration table"
    assert sorted(documented - schema) == [], "keys in docs/operations.md the configuration does not have"


def _route(method: str, path: str) -> str:
    return f"{method.upper()} {re.sub(r'{[^}]*}', '{}', path)}"  # a path parameter by any name


def documented_routes() -> set[str]:
    text = "\n".join(prose_lines(API))
    return {_route(m, p) for m, p in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^\s`?]*)", text)}


async def test_every_route_in_the_schema_is_documented_and_every_route_documented_is_served() -> None:
    app = create_app(shipped_server())
    schema = {_route(method, path) for path, item in app.openapi()["paths"].items() for method in item}
    documented = documented_routes()
    assert sorted(schema - documented) == [], "in /openapi.json, not in docs/api.md"
    # Routes kept out of the schema (pages, /metrics, the schema itself) are asked for: served, not 404/405.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake.test") as http:
        for route in sorted(documented - schema):
            method, path = route.split(" ", 1)
            assert "{}" not in path, f"{route}: documented with a parameter, not in the schema"
            answer = await http.request(method, path)
            assert answer.status_code not in (404, 405), f"docs/api.md documents {route}: the server answers {answer.status_code}"


async def close_code(app: FastAPI, path: str, query: str = "", first: str | None = None) -> int:
    """Open a WebSocket on the app (ASGI, no socket), say ``first``, and return the code it is closed with."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})
    if first is not None:
        inbox.put_nowait({"type": "websocket.receive", "text": first})
    closed: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.close":
            closed.append(message["code"])
            inbox.put_nowait({"type": "websocket.disconnect", "code": message["code"]})

    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": query.encode(), "headers": [], "server": ("intake.test", 80),
             "client": ("127.0.0.1", 1), "subprotocols": []}
    await asyncio.wait_for(app(scope, inbox.get, send), patience(5))
    assert closed, f"{path}: the app returned without closing the socket"
    return closed[0]


async def test_every_stream_documented_is_served_and_refuses_a_wrong_token_or_one_in_the_url_with_4401() -> None:
    streams = set(re.findall(r"^## WebSocket: .*?`(/ws/[a-z/]+)[`?]", "\n".join(prose_lines(API)), re.MULTILINE))
    assert {"/ws/desktop", "/ws/supervisor"} <= streams, streams  # both streams the server has are described
    app = create_app(shipped_server())
    assert await close_code(app, "/ws/no-such-stream", first=auth_message("x")) != 4401  # what an unknown path gets
    for path in sorted(streams):
        assert await close_code(app, path, first=auth_message("not-a-token")) == 4401, path
        good = {"/ws/desktop": "handler-token-00000000", "/ws/supervisor": "supervisor-token-00000"}[path]
        assert await close_code(app, path, f"token={good}", first=auth_message(good)) == 4401, path  # even a good one
