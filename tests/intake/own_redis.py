"""A redis-server process of the test's own, to stop and start again (an outage) on one port."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.conftest import _free_port
from tests.waiting import patience


class OwnRedis:
    """A redis-server process of the test's own (append-only file on, so a restart keeps the data)."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL)
        probe = aioredis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            async with asyncio.timeout(patience(10)):
                while True:
                    try:
                        pid = int((await probe.info("server"))["process_id"])
                    except redis.ConnectionError:
                        await asyncio.sleep(0.05)
                        continue
                    # Ours, not a server another test session started on the port while ours was
                    # stopped (the port is free then): the test would write to and read someone else's.
                    assert pid == self.proc.pid, f"port {self.port} is held by another Redis (pid {pid}, ours {self.proc.pid})"
                    return
        finally:
            await probe.aclose()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def client(self, **settings: object) -> aioredis.Redis:
        """A client that gives up at once while the server is away (the writer's retry is under test)."""
        return aioredis.Redis(port=self.port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0), **settings)
