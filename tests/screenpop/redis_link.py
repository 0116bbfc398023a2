"""A TCP relay between a test's client and the real Redis, to put a real fault on the wire:
Redis that stops answering (``hang``: commands still go in, replies are held back until ``mend``)
or that is gone (``cut``: every connection closed, new ones refused until ``mend``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class RedisLink:
    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def hang(self) -> None:
        self._flowing.clear()

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def mend(self) -> None:
        self._flowing.set()
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        if self._server is not None:
            await self.cut()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        redis_reader, redis_writer = await asyncio.open_connection(*self._target)
        self._writers |= {client_writer, redis_writer}
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._pipe(client_reader, redis_writer, held=False))
                tasks.create_task(self._pipe(redis_reader, client_writer, held=True))
        except* (ConnectionError, OSError):
            pass
        finally:
            for writer in (client_writer, redis_writer):
                self._writers.discard(writer)
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, held: bool) -> None:
        while data := await reader.read(65536):
            if held:
                await self._flowing.wait()
            writer.write(data)
            await writer.drain()
        writer.close()
        raise ConnectionResetError("peer closed")


@contextlib.asynccontextmanager
async def redis_link(url: str) -> AsyncIterator[RedisLink]:
    host, _, port = url.removeprefix("redis://").partition(":")
    link = RedisLink(host, int(port.split("/")[0]))
    await link.start()
    try:
        yield link
    finally:
        await link.close()
