"""The real test PBX for tests marked ``pbx``: brought up once per session by scripts/pbx-up.

If it cannot come up the tests FAIL with pbx-up's output (the tail of Asterisk's
messages.log): a missing PBX is a broken test bed, never a reason to skip.

The bring-up time and the time the pbx tests took are printed in the terminal summary.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.conftest import redis_server
from tests.pbx.harness import IntakeProcess, flush_e2e_db, intake_process
from tests.pbx.intake_server import hang_up_everything
from tests.support.cluster import Cluster, running_cluster
from tests.support.testbed.ami import RawAmi
from tests.support.testbed.pbx import (
    PbxTestbed,
    PbxUpFailed,
    pbx_down,
    pbx_up,
    site_b_env,
)

HANDLERS = [f"PJSIP/handler-{n}" for n in range(1, 5)]
QUEUES = ["emergency", "non-emergency"]

TIMINGS: dict[str, float] = {}
BRING_UP: dict[str, str] = {}


@pytest.fixture(scope="session")
def pbx() -> Iterator[PbxTestbed]:
    began = time.monotonic()
    try:
        bed, output = pbx_up()
    except PbxUpFailed as failure:
        pytest.fail(str(failure), pytrace=False)
    TIMINGS["bring_up"] = time.monotonic() - began
    BRING_UP["kind"] = "already running: config reloaded" if "already running" in output else "started"
    TIMINGS["pbx_tests_began"] = time.monotonic()
    yield bed
    TIMINGS["pbx_tests_ended"] = time.monotonic()
    if "already running" not in output:  # we started it: leave the machine as we found it
        pbx_down()


@pytest.fixture(scope="session")
def pbx_b(pbx: PbxTestbed) -> Iterator[PbxTestbed]:
    """A second Asterisk on this host, for the tests of two PBX sites: its own root (a copy of the
    prepared one), AMI and SIP ports and RTP range (tests.support.testbed.pbx.site_b_env)."""
    env = site_b_env()
    try:
        bed, output = pbx_up(env=env)
    except PbxUpFailed as failure:
        pytest.fail(str(failure), pytrace=False)
    yield bed
    if "already running" not in output:
        pbx_down(env)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if "bring_up" not in TIMINGS:
        return
    ended = TIMINGS.get("pbx_tests_ended", time.monotonic())
    terminalreporter.write_sep("-", "real PBX test bed")
    terminalreporter.write_line(f"PBX bring-up (scripts/pbx-up): {TIMINGS['bring_up']:.1f} s ({BRING_UP.get('kind', '?')})")
    terminalreporter.write_line(f"pbx-marked tests, first PBX use to teardown: {ended - TIMINGS['pbx_tests_began']:.1f} s")
    terminalreporter.write_line(f"pbx-marked tests, sum of their own times: {sum(E2E_DURATIONS.values()):.1f} s")
    for name, seconds in sorted(E2E_DURATIONS.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"  {seconds:6.1f} s  {name}")


E2E_DURATIONS: dict[str, float] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    began = time.monotonic()
    yield
    if item.get_closest_marker("pbx"):
        E2E_DURATIONS[item.nodeid.rsplit("/", 1)[-1]] = time.monotonic() - began


@contextlib.asynccontextmanager
async def idle_ami(bed: PbxTestbed) -> AsyncIterator[RawAmi]:
    """A logged-in raw AMI session on ``bed``; every handler is out of every queue before and after."""
    session = await _idle_session(bed)
    try:
        yield session
    finally:
        await session.close()
        # A fresh session: the test's may have died with the PBX (a restart test).
        await (await _idle_session(bed)).close()


async def _idle_session(bed: PbxTestbed) -> RawAmi:
    session = await RawAmi.connect(bed.ami_host, bed.ami_port)
    await session.login(bed.driver_user, bed.ami_secret)
    await _empty_queues(session)
    return session


@pytest.fixture
async def ami(pbx: PbxTestbed) -> AsyncIterator[RawAmi]:
    """The session's test PBX (site a), idle before and after the test (:func:`idle_ami`)."""
    async with idle_ami(pbx) as session:
        yield session


@pytest.fixture
async def ami_b(pbx_b: PbxTestbed) -> AsyncIterator[RawAmi]:
    """The second PBX (site b), idle before and after the test."""
    async with idle_ami(pbx_b) as session:
        yield session


async def _empty_queues(session: RawAmi) -> None:
    """Every test starts from an idle PBX: no call up (a SIPp caller stopped mid-call sends no BYE,
    and its channel would keep a handler busy) and no handler in any queue (a handler the routing
    policy lent to the 999 queue would otherwise ring in the next test)."""
    await hang_up_everything(session)
    for queue in QUEUES:
        for member in HANDLERS:
            await session.action("QueueRemove", Queue=queue, Interface=member)  # "not there" is fine


@pytest.fixture(scope="session")
def e2e_redis() -> Iterator[str]:
    """A redis-server process of the end-to-end tests' own, on a free port: a shared Redis may
    be flushed by other test sessions mid-test (tests/conftest.py's redis_client flushes its db)."""
    with redis_server() as url:
        yield url


@pytest.fixture
def intake(pbx: PbxTestbed, ami: RawAmi, e2e_redis: str, tmp_path: Path) -> Iterator[IntakeProcess]:
    """`intake serve` in its own process against the test PBX and real Redis (not yet started:
    a test may change its config first; call ``.start()``). Stopped after the test; its log is
    printed when the test failed."""
    flush_e2e_db(e2e_redis)
    proc = intake_process(tmp_path, pbx, e2e_redis)
    try:
        yield proc
    finally:
        proc.stop()
        print(f"--- tail of intake serve's log ({proc.log_path}) ---\n{proc.log_tail(60)}")


@pytest.fixture
async def cluster(pbx: PbxTestbed, ami: RawAmi, e2e_redis: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """Two `intake serve` nodes on the test PBX sharing the e2e Redis, HAProxy (the shipped
    config) in front, both up in HAProxy's eyes (tests/support/cluster.py)."""
    async with running_cluster(tmp_path, pbx, e2e_redis) as rig:
        yield rig


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's chromium, headless (never a browser Playwright would download)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()
