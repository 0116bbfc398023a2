"""Positions (hot-desking): a handler signs in at a desk and its phone for the shift.

Two halves. :class:`PositionStore` is who *holds* each position, in Redis, shared by every node:
``{prefix}position:{id}`` -> handler id and ``{prefix}seat:{handler}`` -> position id, taken and
given back together by one Lua script each, so two handlers on two nodes cannot take one position,
nor one handler two. :class:`Positions` is the desk: it takes the position, then has the site's
:class:`~routing.handler_desk.HandlerDesk` add the position's phone to the handler's queues with
``MemberName`` = their id (QueueAdd); leaving does the reverse (QueueRemove, then give it back).

Who *sits* where is the PBX's to say: every node learns it from the QueueMember events' MemberName
(:mod:`intake.core.seating`), so pops, figures, wrap-up and ring-out follow the handler with nothing
passed between nodes. A position the PBX shows someone else at is refused too, even if Redis lost
its claim (a failover before the write reached the replica).
"""

from __future__ import annotations

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
-- KEYS[1]: the position's key, KEYS[2]: the handler's seat; ARGV[1]: handler id, ARGV[2]: position id
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return {0, holder}
end
local seat = redis.call('GET', KEYS[2])
if seat and seat ~= ARGV[2] then
  return {2, seat}
end
if holder then
  return {3, ''}
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return {1, ''}
"""

GIVE_BACK = """
-- KEYS[1]: the position's key, KEYS[2]: the handler's seat; ARGV[1]: handler id, ARGV[2]: position id
local n = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then n = n + redis.call('DEL', KEYS[1]) end
if redis.call('GET', KEYS[2]) == ARGV[2] then n = n + redis.call('DEL', KEYS[2]) end
return n
"""


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


class PositionStore:
    """Who holds which position, in Redis (atomic across nodes)."""

    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis, self.prefix = redis, prefix

    def position_key(self, position: str) -> str:
        return f"{self.prefix}position:{position}"

    def seat_key(self, handler_id: str) -> str:
        return f"{self.prefix}seat:{handler_id}"

    async def take(self, position: str, handler_id: str) -> bool:
        """Hold ``position`` for ``handler_id``: whether it is newly theirs (False: they held it
        already); PositionTaken naming the holder, or AlreadySeated naming the position they hold."""
        done, other = await self.redis.eval(TAKE, 2, self.position_key(position), self.seat_key(handler_id),
                                            handler_id, position)
        if int(done) == 0:
            raise PositionTaken(position, _text(other) or "?")
        if int(done) == 2:
            raise AlreadySeated(handler_id, _text(other) or "?")
        return int(done) == 1

    async def give_back(self, position: str, handler_id: str) -> bool:
        """Release ``position`` if ``handler_id`` holds it; whether anything was held."""
        return bool(await self.redis.eval(GIVE_BACK, 2, self.position_key(position), self.seat_key(handler_id),
                                          handler_id, position))

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
        if holder in self._handlers:  # a handler since removed from the configuration: only the claim is left
            await self.desk_of(holder).request(holder, Wanted.LOGGED_OUT, member=position.member)
        await self.store.give_back(position_id, holder)
        log.info("position_released", handler_id=holder, position=position_id)
        return holder

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
