"""``/docs`` names only files intake serves itself: no address outside the server, each one answered."""

from __future__ import annotations

import re

import httpx

from intake.app.web import create_app
from tests.test_docs import shipped_server


async def test_the_docs_page_loads_only_files_the_server_itself_serves() -> None:
    app = create_app(shipped_server())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake.test") as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert {u.rsplit(".", 1)[-1] for u in urls} == {"png", "css", "js"}, urls
        assert "<script>" not in page.text  # no inline script: the pages' CSP covers /docs as well
        for url in urls:
            assert url.startswith("/"), f"{url}: not on this server"
            assert (await http.get(url)).status_code == 200, url
        assert (await http.get("/redoc")).status_code == 404  # FastAPI's, from a CDN
