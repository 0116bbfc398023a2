"""The audit trail in Redis: one hash chain for every node, appended by a script, read in pages.

Keys (under ``redis.key_prefix``; one hash tag, so one script may touch both)::

    {prefix}audit:{trail}:links   LIST    the chain's links in order (intake.core.audit.Link, JSON)
    {prefix}audit:{trail}:tail    STRING  "seq:hash" of the last link

Appending is compare-and-append: the writer chains its entries after the tail it knows (SHA-256
in Python: Redis's scripts only offer SHA-1) and the script pushes them only if that tail is still
the tail, else answers the tail it found; the writer chains again after it. Two nodes appending
at once therefore never fork the chain, and nothing is read and written in two steps.

Nothing here deletes or rewrites a link: the trail is append-only from intake's side (an
administrator with Redis access can still; that is what verification finds).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from intake.core.audit import (
    AuditEntry,
    ChainWalk,
    Finding,
    Link,
    Tail,
    Verified,
    chain,
    decode,
)

PAGE = 1000  # links read per LRANGE

_APPEND = """
-- KEYS: links list, tail; ARGV: the tail the links follow, the tail after them, the links
local tail = redis.call('GET', KEYS[2]) or ('0:' .. string.rep('0', 64))
if tail ~= ARGV[1] then
  return {0, tail}
end
redis.call('RPUSH', KEYS[1], unpack(ARGV, 3))
redis.call('SET', KEYS[2], ARGV[2])
return {1, ARGV[2]}
"""


class ChainMoved(Exception):
    """The tail moved under the writer (another node appended): chain again after ``tail``."""

    def __init__(self, tail: Tail) -> None:
        super().__init__(f"the audit trail's tail moved to {tail.encode()}")
        self.tail = tail


class AuditStore:
    # Any: a redis.asyncio client (or fakeredis's in-process one), used through their common commands
    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis = redis
        self.links_key = f"{prefix}audit:{{trail}}:links"
        self.tail_key = f"{prefix}audit:{{trail}}:tail"

    async def tail(self) -> Tail:
        return Tail.decode(await self.redis.get(self.tail_key))

    # Any: a redis pipeline (the writer's, pinned to its one connection when replicas must hold the links)
    def stage_append(self, pipe: Any, after: Tail, entries: Sequence[AuditEntry]) -> Tail:
        """Stage the script that appends ``entries`` after ``after``; returns the tail it makes."""
        links, tail = chain(after, entries)
        pipe.eval(_APPEND, 2, self.links_key, self.tail_key, after.encode(), tail.encode(),
                  *(link.encode() for link in links))
        return tail

    @staticmethod
    def appended(reply: Sequence[Any]) -> Tail:  # Any: the script's reply, as redis-py gives it
        """The tail after the script ran; raises :class:`ChainMoved` if it pushed nothing."""
        done, tail = reply
        if not int(done):
            raise ChainMoved(Tail.decode(tail))
        return Tail.decode(tail)

    async def append(self, after: Tail, entries: Sequence[AuditEntry]) -> Tail:
        """Append in one round trip (a CLI's own entries); raises :class:`ChainMoved`."""
        async with self.redis.pipeline(transaction=False) as pipe:
            self.stage_append(pipe, after, entries)
            (reply,) = await pipe.execute()
        return self.appended(reply)

    async def pages(self) -> AsyncIterator[list[bytes]]:
        """The stored links, oldest first, a page at a time."""
        start = 0
        while True:
            page = await self.redis.lrange(self.links_key, start, start + PAGE - 1)
            if not page:
                return
            yield page
            start += len(page)

    async def verify(self) -> Verified | Finding:
        tail = await self.tail()
        walk = ChainWalk()
        async for page in self.pages():
            for raw in page:
                if (found := walk.feed(raw)) is not None:
                    return found
        return walk.finish(tail if await self.redis.exists(self.tail_key) else None)

    async def entries(self, *, number: str | None = None, since: float | None = None,
                      until: float | None = None) -> AsyncIterator[Link]:
        """Readable links whose entry is about ``number`` (None: any) and ``at`` in [since, until],
        each entry once (one written again after a failover that may have lost it is kept once)."""
        seen: set[str] = set()
        async for page in self.pages():
            for raw in page:
                try:
                    link = decode(raw)
                except ValueError:
                    continue  # verification names it; an export gives what can be read
                entry = link.entry
                if entry.id in seen or (number is not None and entry.number != number):
                    continue
                if (since is not None and entry.at < since) or (until is not None and entry.at > until):
                    continue
                seen.add(entry.id)
                yield link
