"""Every answer carries the security headers; the pages hold nothing the CSP would refuse (no inline
script, style or event handler), so they run under it (tests/browser/test_csp.py runs them)."""

from __future__ import annotations

from html.parser import HTMLParser

import fakeredis
import httpx
import pytest

from intake.app.server import IntakeServer
from intake.app.web import create_app
from intake.app.web_ui import PAGES, STATIC
from intake.core.config import parse, read_toml
from tests.test_docs import SHIPPED_CONFIG

HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


def app() -> object:
    config = parse(read_toml(SHIPPED_CONFIG))
    secrets = {"ami.secret": "not-used"} | {f"handlers[{i}].token": f"handler-token-{i:08d}" for i in range(4)}
    return create_app(IntakeServer(config, secrets | {"supervisors[0].token": "supervisor-token-00000"},
                                   fakeredis.FakeAsyncRedis()))


@pytest.mark.parametrize("path", [*PAGES, "/static/desktop.js", "/static/common.css", "/api/queues", "/no/such/page", "/metrics"])
async def test_every_answer_carries_the_headers_and_a_csp_of_this_origin_only(path: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://intake.test") as http:
        answer = await http.get(path)
    assert {k: answer.headers.get(k) for k in HEADERS} == HEADERS, path
    csp = dict(d.split(" ", 1) for d in answer.headers["content-security-policy"].split("; "))
    assert (csp["script-src"], csp["style-src"], csp["connect-src"]) == ("'self'", "'self'", "'self'")
    assert (csp["frame-ancestors"], csp["object-src"], csp["default-src"]) == ("'none'", "'none'", "'self'")
    assert "strict-transport-security" not in answer.headers  # plain HTTP: only with TLS (tests/intake/test_tls.py)


class Inline(HTMLParser):
    """What a strict CSP would refuse in a page: inline script, inline style, event handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag} {name}=" for name in names if name == "style" or name.startswith("on")]


@pytest.mark.parametrize("page", sorted(PAGES.values()))
def test_no_page_holds_inline_script_style_or_handlers(page: str) -> None:
    parser = Inline()
    parser.feed((STATIC / page).read_text(encoding="utf-8"))
    assert parser.found == [], page
