"""The browser tests' world: ``intake demo`` in its own process and Debian's chromium, headless.

Chromium missing is a failure, never a skip: these tests are the only check that the pages work.
Playwright is never allowed to fetch a browser of its own (this machine's network refuses it).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.demo_process import demo_process

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A demo whose caller pool is two numbers, so a number rings again within seconds."""
    with demo_process(tmp_path_factory.mktemp("demo"), "--speed", "2", "--seed", "11", "--callers", "2") as demo:
        yield demo


@pytest.fixture
async def page() -> AsyncIterator[object]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="intake-chromium-") as profile:
        async with async_playwright() as pw:
            context = await pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, viewport={"width": 1400, "height": 1000})
            try:
                yield context.pages[0] if context.pages else await context.new_page()
            finally:
                await context.close()
