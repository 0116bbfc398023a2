"""Fixtures shared by every test package.

Redis is real: a test that claims Redis behaviour talks to a redis-server on loopback. If none
answers on INTAKE_TEST_REDIS_URL (default redis://127.0.0.1:6379), one is started for the session
on a free port from Debian's redis-server; if that binary is missing the test errors loudly, it
never skips.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from tests.support.redis_ha import RedisHA, redis_ha_set


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("INTAKE_TEST_REDIS_URL", "redis://127.0.0.1:6379")
    if _answers(url):
        yield url
        return
    with redis_server() as started:
        yield started


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server of the test session's own on a free loopback port (Debian's package); the
    test fails, never skips, when it is missing or does not start."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="intake-redis-")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while not _answers(url):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"redis-server did not start on port {port}")
        time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def redis_client(redis_url: str, request: pytest.FixtureRequest) -> AsyncIterator[aioredis.Redis]:
    """A client on a database of its own, emptied before and after the test."""
    db = 1 + (abs(hash(request.node.nodeid)) % 14)
    client = aioredis.Redis.from_url(redis_url, db=db)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.flushdb()
        await client.aclose()


@pytest.fixture
def redis_ha() -> Iterator[RedisHA]:
    """A Redis primary, its replica and three Sentinels on loopback (tests/support/redis_ha.py),
    started for the test and stopped after it."""
    with redis_ha_set() as started:
        yield started
