"""A location service for tests: a real HTTP server on loopback, answering as docs/location.md
says the force's does (GET ...?number=N -> 200 JSON location, 404 none).

What it answers per number is set by the test (:meth:`LocationServer.answer`); an answer can be
held (:meth:`LocationServer.hold`) until the test lets it go (:meth:`LocationServer.release`),
so a test makes a location come after the ring by an event, never by a sleep. Every request is
kept (:attr:`LocationServer.asked`). Port: ``INTAKE_TEST_LOCATION_PORT`` (a helper's own), else any free one.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlparse


class LocationServer:
    def __init__(self, port: int | None = None) -> None:
        if port is None:
            port = int(os.environ.get("INTAKE_TEST_LOCATION_PORT", "0"))
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.asked: list[str] = []
        self._held: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name for it
                number = parse_qs(urlparse(self.path).query).get("number", [""])[0]
                with server._lock:
                    server.asked.append(number)
                    gate = server._held.get(number)
                if gate is not None:
                    gate.wait(60)
                status, body = server.answers.get(number, (404, b""))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="location-service", daemon=True)

    @property
    def url(self) -> str:
        """``[location] service_url`` for this server."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1/location?number={{number}}"

    def answer(self, number: str, location: dict[str, Any] | None = None, *, status: int = 200, body: bytes | None = None) -> None:
        """What a lookup of ``number`` gets: ``location`` as JSON, or ``body`` as it is, with ``status``."""
        self.answers[number] = (status, body if body is not None else json.dumps(location).encode())

    def hold(self, number: str) -> None:
        self._held[number] = threading.Event()

    def release(self, number: str) -> None:
        self._held.pop(number).set()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for gate in list(self._held.values()):
            gate.set()
        self._httpd.shutdown()
        self._httpd.server_close()
