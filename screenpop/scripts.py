"""Lua scripts sent together in one round trip, by EVALSHA, with EVAL only for a server that lost them.

A pop's reads (the caller's history, the incidents near the caller) are each a script, because
each one's later reads depend on its earlier ones; sent in one pipeline they cost one round trip
together. Only after the server lost its script cache (restart, SCRIPT FLUSH) does a call cost a
second round trip: the EVAL of the scripts it did not know, which loads them again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import NoScriptError


@dataclass(frozen=True, slots=True)
class Script:
    source: str
    sha: str

    @classmethod
    def of(cls, source: str) -> Script:
        return cls(source, hashlib.sha1(source.encode()).hexdigest())


@dataclass(frozen=True, slots=True)
class ScriptCall:
    script: Script
    keys: Sequence[str]
    args: Sequence[str | int | float]


# Any: a redis.asyncio client (or fakeredis's), used through its pipeline; each reply is the script's own shape
async def run_scripts(client: Any, calls: Sequence[ScriptCall]) -> list[Any]:
    """Each call's reply, in order; one round trip (two after the server lost a script)."""
    if len(calls) == 1:
        # One script goes as a plain command, on the client's own connection: a pipeline takes
        # one from the pool, which a single-connection client opens (a handshake) just for it.
        (call,) = calls
        try:
            return [await client.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)]
        except NoScriptError:
            return [await client.eval(call.script.source, len(call.keys), *call.keys, *call.args)]
    async with client.pipeline(transaction=False) as pipe:
        for call in calls:
            pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
        replies = list(await pipe.execute(raise_on_error=False))
    lost = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if lost:
        async with client.pipeline(transaction=False) as pipe:
            for i in lost:
                call = calls[i]
                pipe.eval(call.script.source, len(call.keys), *call.keys, *call.args)
            for i, reply in zip(lost, await pipe.execute(raise_on_error=False)):
                replies[i] = reply
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies
