"""``[desktop] map_tiles``: the force's own tile server under the pop's map. Unset, nothing but
this origin may load (the map is drawn from the data alone); set, the pages' CSP lets images, and
only images, come from that server's origin, and the desktop is told the template. A template
that could bend the policy (a space, a quote, a semicolon, a host to be filled in) is refused by
check-config with its key."""

from __future__ import annotations

from typing import Any

import fakeredis
import httpx
import pytest

from intake.app.server import IntakeServer
from intake.app.web import create_app
from intake.core.config import parse, read_toml
from intake.core.errors import ConfigError
from tests.test_docs import SHIPPED_CONFIG

TILES = "https://tiles.force.example:8443/osm/{z}/{x}/{y}.png"


def config_with(desktop: dict[str, Any] | None) -> dict[str, Any]:
    raw = read_toml(SHIPPED_CONFIG)
    return raw if desktop is None else raw | {"desktop": desktop}


def app(desktop: dict[str, Any] | None) -> object:
    secrets = {"ami.secret": "not-used"} | {f"handlers[{i}].token": f"handler-token-{i:08d}" for i in range(4)}
    server = IntakeServer(parse(config_with(desktop)), secrets | {"supervisors[0].token": "supervisor-token-00000"},
                          fakeredis.FakeAsyncRedis())
    return create_app(server)


async def ask(desktop: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, Any]]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app(desktop)), base_url="http://intake.test") as http:
        page = await http.get("/desktop")
        me = await http.get("/api/me", headers={"Authorization": "Bearer handler-token-00000000"})
    assert me.status_code == 200, me.text
    csp = dict(d.split(" ", 1) for d in page.headers["content-security-policy"].split("; "))
    return csp, me.json()


async def test_without_a_tile_server_the_desktop_loads_images_from_this_origin_alone() -> None:
    csp, me = await ask(None)
    assert csp["img-src"] == "'self' data:"
    assert "map_tiles" not in me


async def test_a_configured_tile_server_is_allowed_for_images_only_and_told_to_the_desktop() -> None:
    csp, me = await ask({"map_tiles": TILES})
    assert csp["img-src"] == "'self' data: https://tiles.force.example:8443"
    assert (csp["connect-src"], csp["script-src"], csp["default-src"]) == ("'self'", "'self'", "'self'")
    assert me["map_tiles"] == TILES


@pytest.mark.parametrize(("template", "why"), [
    ("https://tiles.force.example/{z}/{x}.png", "must hold {y}"),
    ("tiles.force.example/{z}/{x}/{y}.png", "must be an http(s) URL"),
    ("https://tiles.force.example/{z}/{x}/{y}.png; script-src *", "must be an http(s) URL"),
    ("https://tiles.force.example/{z}/{x}/{y}.png 'unsafe-inline'", "must be an http(s) URL"),
    ("https://{s}.tiles.force.example/{z}/{x}/{y}.png", "must be an http(s) URL"),
    ("ftp://tiles.force.example/{z}/{x}/{y}.png", "must be an http(s) URL"),
])
def test_check_config_refuses_a_template_that_is_not_a_fixed_tile_url(template: str, why: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse(config_with({"map_tiles": template}))
    [problem] = refused.value.problems
    assert problem.path == "desktop.map_tiles"
    assert why in problem.message
