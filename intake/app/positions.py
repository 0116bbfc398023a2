"""Positions (hot-desking): a handler signs in at a desk and its phone for the shift.

Two halves. :class:`PositionStore` is who *holds* each position, in Redis, shared by every node:
``{prefix}position:{id}`` -> handler id and ``{prefix}seat:{handler}`` -> position id, taken and
given back together by one Lua script each, so two handlers on two nodes cannot take one position,
nor one handler two; ``{prefix}position-claims`` dates each claim, for its expiry
(:mod:`intake.app.position_claims`). :class:`Positions` is the desk: it takes the position, then has the site's
:class:`~routing.handler_desk.HandlerDesk` add the position's phone to the handler's queues with
``MemberName`` = their id (QueueAdd); leaving does the reverse (QueueRemove, then give it back).

Who *sits* where is the PBX's to say: every node learns it from the QueueMember events' MemberName
(:mod:`intake.core.seating`), so pops, figures, wrap-up and ring-out follow the handler with nothing
passed between nodes. A position the PBX shows someone else at is refused too, even if Redis lost
its claim (a failover before the write reached the replica).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from redis.exceptions import RedisError

from intake.core.config import IntakeConfig, PositionConfig
from intake.core.errors import AlreadySeated, FixedPhone, PositionTaken, UnknownPosition
from routing.handler_desk import HandlerDesk, Wanted

log = structlog.get_logger("intake.positions")

TAKE = """
-- KEYS[1]: the position's key, KEYS[2]: the handler's seat, KEYS[3]: the claims (position -> when taken);
-- ARGV[1]: handler id, ARGV[2]: position id, ARGV[3]: now (epoch seconds)
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return {0, holder}
end
local seat = redis.call('GET', KEYS[2])
if seat and seat ~= ARGV[2] then
  return {2, seat}
end
if holder then
  redis.call('ZADD', KEYS[3], 'NX', ARGV[3], ARGV[2])  -- taken again: the claim still dates from the first
  return {3, ''}
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return {1, ''}
"""

GIVE_BACK = """
-- KEYS[1]: the position's key, KEYS[2]: the handler's seat, KEYS[3]: the claims; ARGV[1]: handler id, ARGV[2]: position id
local n = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  n = n + redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[3], ARGV[2])
end
if redis.call('GET', KEYS[2]) == ARGV[2] then n = n + redis.call('DEL', KEYS[2]) end
return n
"""

EXPIRING = """
-- KEYS[1]: the claims, KEYS[2]: the position's key; ARGV[1]: position id, ARGV[2]: the cut-off (epoch seconds)
-- The claim of a position taken at or before the cut-off, taken off the claims by exactly one node:
-- its holder ('' if nobody holds it now) and when it was taken; nil if it is not due (any longer).
local taken = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not taken or tonumber(taken) > tonumber(ARGV[2]) then
  return nil
end
redis.call('ZREM', KEYS[1], ARGV[1])
return {redis.call('GET', KEYS[2]) or '', taken}
"""


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class PositionStore:
    """Who holds which position, in Redis (atomic across nodes)."""

    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, redis: Any, prefix: str, *, clock: Callable[[], float] = time.time) -> None:
        self.redis, self.prefix, self.clock = redis, prefix, clock
        self.claims_key = f"{prefix}position-claims"
        """A sorted set: each held position's id, scored by when it was taken (epoch seconds)."""

    def position_key(self, position: str) -> str:
        return f"{self.prefix}position:{position}"

    def seat_key(self, handler_id: str) -> str:
        return f"{self.prefix}seat:{handler_id}"

    async def take(self, position: str, handler_id: str) -> bool:
        """Hold ``position`` for ``handler_id``: whether it is newly theirs (False: they held it
        already; the claim still dates from then); PositionTaken naming the holder, or
        AlreadySeated naming the position they hold."""
        done, other = await self.redis.eval(TAKE, 3, self.position_key(position), self.seat_key(handler_id),
                                            self.claims_key, handler_id, position, repr(self.clock()))
        if int(done) == 0:
            raise PositionTaken(position, _text(other) or "?")
        if int(done) == 2:
            raise AlreadySeated(handler_id, _text(other) or "?")
        return int(done) == 1

    async def give_back(self, position: str, handler_id: str) -> bool:
        """Release ``position`` if ``handler_id`` holds it; whether anything was held."""
        return bool(await self.redis.eval(GIVE_BACK, 3, self.position_key(position), self.seat_key(handler_id),
                                          self.claims_key, handler_id, position))

    async def due(self, older_than: float) -> list[str]:
        """The positions claimed at or before ``older_than`` (epoch seconds), oldest first."""
        return [_text(p) or "" for p in await self.redis.zrangebyscore(self.claims_key, "-inf", repr(older_than))]

    async def expiring(self, position: str, older_than: float) -> tuple[str | None, float] | None:
        """Take the claim of ``position`` off the claims if it was taken at or before ``older_than``:
        (its holder, None if nobody holds it now; when it was taken), or None when it is not due
        (another node took it first, or it was given back or taken anew). Exactly one node gets it."""
        found = await self.redis.eval(EXPIRING, 2, self.claims_key, self.position_key(position), position,
                                      repr(older_than))
        if found is None:
            return None
        holder, taken = found
        return _text(holder) or None, float(_text(taken) or 0)

    async def claimed_again(self, position: str, taken: float) -> None:
        """Put back a claim :meth:`expiring` took whose expiry could not be finished (the PBX away)."""
        await self.redis.zadd(self.claims_key, {position: taken}, nx=True)

    async def adopt(self, positions: list[str]) -> int:
        """Date from now the claims of held ``positions`` the claims do not have (taken before
        claims were kept, or by a write Redis lost); how many."""
        held = [p for p, holder in (await self.holders(positions)).items() if holder is not None]
        return int(await self.redis.zadd(self.claims_key, dict.fromkeys(held, self.clock()), nx=True)) if held else 0

    async def seat_of(self, handler_id: str) -> str | None:
        return _text(await self.redis.get(self.seat_key(handler_id)))

    async def holders(self, positions: list[str]) -> dict[str, str | None]:
        if not positions:
            return {}
        held = await self.redis.mget([self.position_key(p) for p in positions])
        return {p: _text(h) for p, h in zip(positions, held, strict=True)}


@dataclass(frozen=True, slots=True)
class Seat:
    """A position as the desktop's picker shows it."""

    id: str
    label: str
    site: str
    holder: str | None  # the handler who holds it (None: free)


class Positions:
    """Signs handlers in at positions and out of them, on the PBX and in the store."""

    def __init__(self, config: IntakeConfig, store: PositionStore, desk_of: Callable[[str], HandlerDesk],
                 site_of: Callable[[str], str], sitting_at: Callable[[str, str], str | None]) -> None:
        """``desk_of(handler_id)``: the handler desk of the handler's site; ``site_of(handler_id)``:
        that site's name; ``sitting_at(site, member)``: whom that site's PBX shows at a phone."""
        self.config, self.store = config, store
        self.desk_of, self.site_of, self.sitting_at = desk_of, site_of, sitting_at
        self._handlers = {h.id: h for h in config.handlers}
        # Told of each position taken (intake.app.position_claims: its expiry's next deadline).
        self.taken: Callable[[str], None] = lambda _position: None

    def _position(self, handler_id: str, position_id: str) -> PositionConfig:
        site = self.site_of(handler_id)
        handler = self._handlers[handler_id]
        if handler.member is not None:
            raise FixedPhone(handler_id, handler.member)
        position = self.config.position(position_id)
        if position is None or self.config.site_of_position(position) != site:
            raise UnknownPosition(position_id, site)
        return position

    async def sign_in(self, handler_id: str, position_id: str, *, ready: bool = True) -> PositionConfig:
        """Take the position, then add its phone to the handler's queues (ready, or not ready)."""
        position = self._position(handler_id, position_id)
        there = self.sitting_at(self.site_of(handler_id), position.member)
        if there is not None and there != handler_id:
            raise PositionTaken(position.id, there)  # the PBX has someone there, whatever Redis says
        newly = await self.store.take(position.id, handler_id)
        try:
            await self.desk_of(handler_id).request(handler_id, Wanted.READY if ready else Wanted.NOT_READY,
                                                   "signing in", member=position.member)
        except Exception:
            # Not on the PBX: a position just taken is free again for anyone to try (one they
            # held already stays theirs: the PBX may have them there).
            if newly:
                await self.store.give_back(position.id, handler_id)
            raise
        log.info("position_signed_in", handler_id=handler_id, position=position.id, member=position.member)
        if newly:
            self.taken(position.id)
        return position

    async def leave(self, handler_id: str) -> tuple[str | None, int]:
        """Take the handler's phone out of their queues (QueueRemove), then give the position
        back; the position left (None if they held none) and how many actions the PBX took. A
        PBX that cannot be reached keeps the position theirs (its phone would still ring for
        them): the error says so, try again."""
        position_id = await self.store.seat_of(handler_id)
        if position_id is None:
            return None, 0
        position = self.config.position(position_id)
        sent = 0
        if position is not None:
            sent = await self.desk_of(handler_id).request(handler_id, Wanted.LOGGED_OUT, member=position.member)
        await self.store.give_back(position_id, handler_id)
        log.info("position_left", handler_id=handler_id, position=position_id)
        return position_id, sent

    async def release(self, position_id: str) -> str | None:
        """A supervisor frees a position whoever holds it (a handler gone home without leaving
        it): their phone out of their queues, then the position free; the handler it was held
        by, or None if nobody held it. UnknownPosition for no position of that id."""
        position = self.config.position(position_id)
        if position is None:
            raise UnknownPosition(position_id, "any site")
        site = self.config.site_of_position(position)
        holder = (await self.store.holders([position_id]))[position_id] or self.sitting_at(site, position.member)
        if holder is None:
            return None
        await self.free(position, holder)
        log.info("position_released", handler_id=holder, position=position_id)
        return holder

    async def free(self, position: PositionConfig, holder: str) -> None:
        """Take ``holder``'s phone at ``position`` out of their queues (QueueRemove), then give
        the position back; a PBX that cannot be reached raises, and the position stays theirs."""
        if holder in self._handlers:  # a handler since removed from the configuration: only the claim is left
            await self.desk_of(holder).request(holder, Wanted.LOGGED_OUT, member=position.member)
        await self.store.give_back(position.id, holder)

    async def position_of(self, handler_id: str) -> str | None:
        """The position ``handler_id`` holds (None: none, or Redis cannot say now)."""
        handler = self._handlers.get(handler_id)
        if handler is None or handler.member is not None:
            return None  # a fixed phone's handler: no position to read
        try:
            return await self.store.seat_of(handler_id)
        except (RedisError, OSError) as exc:
            log.warning("position_not_read", handler_id=handler_id, error=repr(exc))
            return None

    async def seats(self, handler_id: str | None = None) -> list[Seat]:
        """The positions of the handler's site (every site's: None), with who holds each (the
        PBX's occupant where Redis has no claim); none for a fixed phone's handler."""
        if handler_id is not None and self._handlers[handler_id].member is not None:
            return []
        site = self.site_of(handler_id) if handler_id is not None else None
        shown = [p for p in self.config.positions if site is None or self.config.site_of_position(p) == site]
        held = await self.store.holders([p.id for p in shown])
        return [Seat(p.id, p.label or p.id, s, held[p.id] or self.sitting_at(s, p.member))
                for p in shown for s in [self.config.site_of_position(p)]]
