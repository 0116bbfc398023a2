"""Waiting in tests: for the thing itself, with a deadline that is a net for a hung test, never
a measurement.

CI runs on a busy 2-core machine, and the suite must pass with a CPU hog beside it, so every
deadline is stretched by ``INTAKE_TEST_PATIENCE`` (default 4). A test that waits for what it
asserts loses nothing by a long deadline; only a broken one takes longer to fail.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from collections.abc import Callable
from typing import Any

PATIENCE = float(os.environ.get("INTAKE_TEST_PATIENCE", "4"))


def patience(seconds: float) -> float:
    """A deadline of ``seconds`` on a quiet machine, stretched for a busy one."""
    return seconds * PATIENCE


def patience_ms(milliseconds: float) -> float:
    """The same for APIs that count in milliseconds (Playwright)."""
    return milliseconds * PATIENCE


async def eventually(check: Callable[[], Any], timeout: float = 30.0, what: str | None = None, every: float = 0.05,
                     *, in_thread: bool = False) -> Any:
    """Call ``check`` until it returns something truthy, and return that.

    ``check`` may be plain or return an awaitable; ``in_thread`` runs a plain one that blocks (a
    synchronous HTTP or Redis client) off the loop. Gives up after ``patience(timeout)`` seconds
    with an error naming ``what`` and the last answer.
    """
    deadline = time.monotonic() + patience(timeout)
    while True:
        got = await asyncio.to_thread(check) if in_thread else check()
        if inspect.isawaitable(got):
            got = await got
        if got:
            return got
        if time.monotonic() > deadline:
            name = what or getattr(check, "__name__", "condition")
            raise AssertionError(f"not within {patience(timeout):g} s: {name} (last: {got!r})")
        await asyncio.sleep(every)
