"""The Redis edge of a site's lease (the rules are :mod:`intake.core.leadership`).

One task per site: a follower asks for the lease every fifth of its time, the holder renews it
every third; each answer is fed to the node's :class:`~intake.core.leadership.Leadership`, and
the effects the table returns go to ``on_effects`` (the server reconciles, or stops acting). On a
clean stop the lease is released, so another node takes over at once rather than at expiry.

Three Lua scripts, each one round trip and atomic:
- **acquire**: take ``{prefix}site:{site}:leader`` with PX if nobody (or this node, restarted)
  holds it, and INCR ``{prefix}site:{site}:epoch`` for the fencing token; the key's value is
  ``node|token``. Otherwise answer who holds it.
- **renew**: PEXPIRE the key only if its value is still ours.
- **release**: DEL it only if its value is still ours.

A Redis command that does not answer within the poll interval counts as a failed renewal: this
node then steps down at its local deadline, whatever Redis did.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog
from redis.exceptions import RedisError

from intake.core.leadership import (
    DeadlinePassed,
    Effect,
    Granted,
    Leadership,
    LeaseEvent,
    Lost,
    Renewed,
    Role,
    Stopping,
    local_deadline,
)
from routing.fenced import epoch_key, leader_key

log = structlog.get_logger("intake.lease")

ACQUIRE = """
-- KEYS[1]: the site's leader key, KEYS[2]: its epoch; ARGV[1]: this node, ARGV[2]: the lease in ms
local holder = redis.call('GET', KEYS[1])
if holder and string.match(holder, '^(.*)|%d+$') ~= ARGV[1] then
  return {0, holder}
end
local token = redis.call('INCR', KEYS[2])
local value = ARGV[1] .. '|' .. token
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return {token, value}
"""

RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class SiteLease:
    """Keeps this node's lease on ``site`` (or keeps asking for it)."""

    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, redis: Any, leadership: Leadership, site: str, *, prefix: str, lease_seconds: float,
                 on_effects: Callable[[str, tuple[Effect, ...]], None]) -> None:
        self.redis, self.leadership, self.site = redis, leadership, site
        self.lease_seconds, self.on_effects = lease_seconds, on_effects
        self.key, self.epoch = leader_key(prefix, site), epoch_key(prefix, site)
        self._value: str | None = None  # "node|token" while held

    @property
    def clock(self) -> Callable[[], float]:
        return self.leadership.clock

    def _feed(self, event: LeaseEvent) -> None:
        effects = self.leadership.feed(self.site, event)
        if Effect.RELEASE in effects and self._value is not None:
            asyncio.get_running_loop().create_task(self._release(self._value))
        if not self.leadership.lease(self.site).holds(self.clock()):
            self._value = None
        if effects:
            self.on_effects(self.site, effects)

    async def run(self) -> None:
        """Ask for the lease, keep it while granted; forever (the server's supervisor restarts it)."""
        while True:
            await self.once()
            lease = self.leadership.lease(self.site)
            pause = self.lease_seconds / (3 if lease.holds(self.clock()) else 5)
            if lease.holds(self.clock()):
                pause = min(pause, lease.deadline - self.clock())
            await asyncio.sleep(max(0.0, pause))

    async def once(self) -> None:
        """One round: step down if the local deadline passed; renew if held, else ask."""
        lease = self.leadership.lease(self.site)
        now = self.clock()
        if lease.token is not None and not lease.holds(now):
            log.warning("lease_deadline_passed", site=self.site, token=lease.token)
            self._feed(DeadlinePassed())
            lease = self.leadership.lease(self.site)
        if lease.role is Role.STOPPED:
            return
        try:
            async with asyncio.timeout(self.lease_seconds / 3):
                if lease.holds(now) and self._value is not None:
                    await self._renew(self._value, now)
                else:
                    await self._acquire(now)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("lease_not_reached", site=self.site, error=repr(exc))

    async def _acquire(self, sent: float) -> None:
        token, value = await self.redis.eval(ACQUIRE, 2, self.key, self.epoch, self.leadership.node_id,
                                             int(self.lease_seconds * 1000))
        value = value.decode() if isinstance(value, bytes) else str(value)
        if not token:
            self.leadership.holders[self.site] = value.rpartition("|")[0]
            return
        self._value = value
        log.info("lease_granted", site=self.site, token=int(token), node=self.leadership.node_id)
        self._feed(Granted(int(token), local_deadline(sent, self.lease_seconds)))

    async def _renew(self, value: str, sent: float) -> None:
        if await self.redis.eval(RENEW, 1, self.key, value, int(self.lease_seconds * 1000)):
            self._feed(Renewed(local_deadline(sent, self.lease_seconds)))
        else:
            log.warning("lease_lost", site=self.site, value=value)
            self._feed(Lost())

    async def stop(self) -> None:
        """A clean stop: stop acting and give the lease back (if still ours)."""
        value = self._value
        effects = self.leadership.feed(self.site, Stopping())
        self._value = None
        if effects:
            self.on_effects(self.site, effects)
        if Effect.RELEASE in effects and value is not None:
            await self._release(value)

    async def _release(self, value: str) -> None:
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                released = await self.redis.eval(RELEASE, 1, self.key, value)
                log.info("lease_released", site=self.site, released=bool(released))
