"""The pop card's place alone on a page (tests/browser/place/harness.html), served with /static from
the package and the pages' own CSP: for the map's browser tests and scripts/pop_map_screenshot.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from intake.app.web_headers import csp
from intake.app.web_ui import STATIC

HARNESS = Path(__file__).with_name("place")


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class PageHandler(Quiet):
    """/static from the package, /harness from the tests, each answer with the pages' CSP."""

    policy = csp()

    def translate_path(self, path: str) -> str:
        root, _, rest = path.lstrip("/").partition("/")
        base = {"static": STATIC, "harness": HARNESS}.get(root)
        return str(base / rest.split("?")[0]) if base else "/nonexistent"

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", self.policy)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


def serving(handler: type, port: int) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
