"""Redis tells intake of every write to a caller's history, whoever made it.

Held histories (screenpop.held) may stand for a lookup at the ring only while nothing has
written the number's history since they were read. Writes through this process say so
themselves; the history import, another intake node or an operator at redis-cli do not. Redis's
server-assisted client-side caching does: with ``CLIENT TRACKING ON BCAST PREFIX ...`` Redis
publishes the name of every key written under the history prefixes to ``__redis__:invalidate``,
here redirected to this connection itself (RESP2: tracking, then SUBSCRIBE, on one connection).

While the subscription stands, ``watching(True)`` has been called; when the connection is lost
``watching(False)`` comes first, so the holder drops what it holds (writes may be missed from
then on), and the watch reconnects with a capped backoff. A FLUSHDB/FLUSHALL invalidates
everything (``everything()``).
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import hiredis
import structlog

log = structlog.get_logger(__name__)

CHANNEL = "__redis__:invalidate"
BACKOFF_INITIAL, BACKOFF_MAX = 0.5, 15.0


def number_in(key: bytes | str) -> str | None:
    """The number in a history key's hash tag (``intake:markers:{+4477...}``), if it has one."""
    text = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
    start, end = text.find("{"), text.rfind("}")
    return text[start + 1:end] if 0 <= start < end else None


class HistoryWatch:
    def __init__(self, address: Mapping[str, Any] | Callable[[], Awaitable[Mapping[str, Any]]], prefixes: Sequence[str],
                 *, changed: Callable[[str], None],
                 everything: Callable[[], None], watching: Callable[[bool], None], tls: bool = False) -> None:
        """``address``: redis-py's connection settings of the server's own client (host and
        port, or a unix ``path``; ``username``/``password``), or a coroutine function giving them,
        asked at every (re)connect (the primary a Sentinel names moves); ``prefixes``: the history key
        prefixes, none a prefix of another (Redis refuses overlapping ones).

        Its own small RESP2 connection, not redis-py's: redis-py's parser takes the messages of
        this very channel for its own client-side cache and never returns them."""
        self._address = address if callable(address) else dict(address)
        self._tls = tls
        self._prefixes = list(prefixes)
        self._changed, self._everything, self._watching = changed, everything, watching
        self.live = False
        self.connections = 0

    async def run(self) -> None:
        delay = BACKOFF_INITIAL
        while True:
            link: _Link | None = None
            try:
                address = await self._address() if callable(self._address) else self._address
                link = await _Link.open(address, self._tls)
                await self._subscribe(link)
                delay = BACKOFF_INITIAL
                await self._listen(link)
            except (OSError, TimeoutError, EOFError, WatchRefused, hiredis.ProtocolError) as exc:
                log.warning("history_watch_lost", error=f"{type(exc).__name__}: {exc}", retry_in=round(delay, 2))
            finally:
                self._set_live(False)
                if link is not None:
                    link.close()
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(BACKOFF_MAX, delay * 2)

    async def _subscribe(self, link: _Link) -> None:
        client_id = await link.call("CLIENT", "ID")
        args: list[Any] = ["CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST"]
        for prefix in self._prefixes:
            args += ["PREFIX", prefix]
        await link.call(*args)
        await link.call("SUBSCRIBE", CHANNEL)
        self.connections += 1
        self._set_live(True)
        log.info("history_watch_started", prefixes=len(self._prefixes))

    async def _listen(self, link: _Link) -> None:
        while True:
            message = await link.reply()
            if not isinstance(message, list) or len(message) < 3 or message[0] != b"message":
                continue
            keys = message[2]
            if keys is None:  # FLUSHDB / FLUSHALL: every key is gone
                self._everything()
                continue
            for key in keys:
                number = number_in(key)
                if number is not None:
                    self._changed(number)

    def _set_live(self, live: bool) -> None:
        if live != self.live:
            self.live = live
            self._watching(live)


class WatchRefused(Exception):
    """Redis answered a command of the watch with an error (auth, an old Redis without tracking)."""


class _Link:
    """One RESP2 connection: commands out, hiredis parsing replies in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._parser = hiredis.Reader()

    @classmethod
    # Any: redis-py's connection kwargs (host, port, password, ssl settings ...)
    async def open(cls, address: Mapping[str, Any], tls: bool) -> _Link:
        timeout = address.get("socket_connect_timeout") or 5
        if address.get("path"):
            opening = asyncio.open_unix_connection(address["path"])
        else:
            opening = asyncio.open_connection(address.get("host", "localhost"), address.get("port", 6379),
                                              ssl=ssl.create_default_context() if tls else None)
        async with asyncio.timeout(timeout):
            link = cls(*await opening)
            try:
                if address.get("password"):
                    await link.call("AUTH", *[v for v in (address.get("username"), address["password"]) if v])
            except BaseException:
                link.close()  # refused or timed out: run() never sees this link, so close it here
                raise
        return link

    # Any: a RESP reply, whose type is the command's
    async def call(self, *args: Any) -> Any:
        self._writer.write(_command(args))
        got = await self.reply()
        if isinstance(got, hiredis.ReplyError):
            raise WatchRefused(f"{args[0]} {args[1] if len(args) > 1 else ''}: {got}")
        return got

    # Any: a RESP reply, whose type is the command's
    async def reply(self) -> Any:
        while (got := self._parser.gets()) is False:
            data = await self._reader.read(65536)
            if not data:
                raise EOFError("Redis closed the connection")
            self._parser.feed(data)
        return got

    def close(self) -> None:
        self._writer.close()


def _command(args: Sequence[Any]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)
