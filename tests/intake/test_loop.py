"""`intake serve --loop`: uvloop when installed (it is a dependency, through uvicorn[standard]),
asyncio's own loop on request."""

from __future__ import annotations

import asyncio

from intake.app import loop


async def _running_loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_runs_the_server_on_uvloop() -> None:
    assert loop.resolve("auto") == "uvloop"
    assert loop.run(_running_loop_module(), "auto").startswith("uvloop")


def test_asyncio_can_be_asked_for() -> None:
    assert loop.resolve("asyncio") == "asyncio"
    assert loop.run(_running_loop_module(), "asyncio").startswith("asyncio")
