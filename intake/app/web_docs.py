"""``/docs``: Swagger UI over ``/openapi.json``, every file of it served by intake itself.

Control-room networks have no internet, and FastAPI's own page fetches Swagger UI from a CDN
(a blank page offline). The assets come from the ``swagger-ui-bundle-v2`` package; the page's
start-up is our own file (``static/docs.js``), not an inline script, so the pages' CSP holds here
too. ``validatorUrl`` is off in it: Swagger UI would otherwise send the schema to an outside
validator for its badge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

if TYPE_CHECKING:
    from fastapi import FastAPI

ASSETS = "/docs/assets"
PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API – intake</title>
<link rel="icon" type="image/png" href="{ASSETS}/favicon-32x32.png">
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
<script src="{ASSETS}/swagger-ui-bundle.js" defer></script>
<script src="/static/docs.js" defer></script>
</head>
<body>
<div id="swagger-ui"></div>
</body>
</html>
"""


def add_docs_routes(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets; the app is made with ``docs_url=None`` (FastAPI's CDN page)."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(PAGE)
