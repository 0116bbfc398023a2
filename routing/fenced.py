"""Writes only the site's current leader may make: Redis refuses one made with a fencing token
older than the site's epoch, so a deposed leader's late write (a wrap-up timer, a call-back
task's change, the check before a lend) is refused and logged, never applied.

The epoch is ``{prefix}site:{site}:epoch``, one more at every grant of the site's lease
(:mod:`intake.app.lease`); a write carries the token it was decided under, not the one current
when it reaches Redis. A write without a token (a lone node, no cluster) goes unfenced.
"""

from __future__ import annotations

import re
from typing import Any

from routing.errors import Fenced

FENCED_WRITE = """
-- KEYS[1]: the site's epoch, KEYS[2]: the key written (unused by 'check')
-- ARGV[1]: the writer's fencing token, ARGV[2]: zadd | zrem | hset | check, ARGV[3..]: its arguments
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local token = tonumber(ARGV[1])
if token < current then
  return redis.error_reply('FENCED ' .. ARGV[1] .. ' ' .. current)
end
local op = ARGV[2]
if op == 'zadd' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
elseif op == 'zrem' then
  redis.call('ZREM', KEYS[2], ARGV[3])
elseif op == 'hset' then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
elseif op ~= 'check' then
  return redis.error_reply('ERR unknown fenced write ' .. op)
end
return current
"""

_REFUSAL = re.compile(r"FENCED (\d+) (\d+)")


def epoch_key(prefix: str, site: str) -> str:
    return f"{prefix}site:{site}:epoch"


def leader_key(prefix: str, site: str) -> str:
    return f"{prefix}site:{site}:leader"


class Fence:
    """The fenced writes of one site."""

    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, redis: Any, prefix: str, site: str) -> None:
        self.redis, self.site, self.epoch = redis, site, epoch_key(prefix, site)

    # Any: a redis pipeline, sync or async (redis-py types them apart; the core may not import redis at all)
    def stage(self, pipe: Any, token: int, op: str, key: str, *args: str | float) -> None:
        """Queue a fenced ``op`` on ``pipe``: refused by Redis (an error reply) if ``token`` is old."""
        pipe.eval(FENCED_WRITE, 2, self.epoch, key, token, op, *args)

    async def check(self, token: int) -> None:
        """Raise :class:`Fenced` unless ``token`` is still the site's (before a PBX side effect
        that Redis cannot refuse itself, such as a lend)."""
        try:
            await self.redis.eval(FENCED_WRITE, 2, self.epoch, self.epoch, token, "check")
        except Exception as exc:
            if (refused := self.refusal(exc)) is not None:
                raise refused from None
            raise

    def refusal(self, exc: BaseException) -> Fenced | None:
        """The :class:`Fenced` that ``exc`` (an error reply of :data:`FENCED_WRITE`) says, if it does."""
        m = _REFUSAL.search(str(exc))
        return Fenced(self.site, int(m[1]), int(m[2])) if m else None
