"""A real IntakeServer in the test's own event loop: HTTP on a free loopback port, attached to
whatever PBX the config names (the real test bed or the simulator); or any ASGI app alone under
uvicorn (:func:`serving_app`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from intake.app.server import IntakeServer
from intake.core.config import IntakeConfig


@contextlib.asynccontextmanager
async def running_server(config: IntakeConfig, secrets: dict[str, str], redis: Any, *,
                         bound: list[int] | None = None, port: int = 0, **options: Any) -> AsyncIterator[IntakeServer]:
    """Yields once the server serves HTTP and has taken the PBX's first snapshot; ``bound``
    receives the HTTP port (``port``: that one, else a free one); ``options`` go to :class:`IntakeServer`."""
    server = IntakeServer(config, secrets, redis, **options)
    ready = asyncio.Event()
    task = asyncio.create_task(server.run("127.0.0.1", port, ready=ready, bound=bound))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        async with asyncio.timeout(10):
            while not (server.session.connected and server.registry.link_up and server.registry.counters.snapshots):
                await asyncio.sleep(0.05)
        yield server
    finally:
        server.stop()
        try:
            await asyncio.wait_for(task, 10)
        except TimeoutError:
            task.cancel()


@contextlib.asynccontextmanager
async def serving_app(app: Any) -> AsyncIterator[int]:
    """``app`` served by uvicorn on a free loopback port (yielded): real sockets, real flow control."""
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, ws="websockets-sansio", lifespan="off",
                                       log_config=None, log_level="info"))
    serving = asyncio.create_task(uv.serve())
    while not uv.started:
        await asyncio.sleep(0.01)
    try:
        yield uv.servers[0].sockets[0].getsockname()[1]
    finally:
        uv.should_exit = True
        await asyncio.wait_for(serving, 5)
