"""Position claims expire: a handler who signed in at a position and never signed out (went home,
the browser closed) does not hold it, and its phone does not ring for them, for ever.

A claim is dated when the position is taken (:class:`intake.app.positions.PositionStore`, in
Redis, so every node sees it); one older than ``[desktop] position_claim_max_seconds`` is
expired by whichever node's sweep finds it first (a script takes it off the claims for exactly
one): the handler's phone is taken out of their queues at the PBX (QueueRemove, through the
site's handler desk as signing out does), the position given back, and the audit trail records
it (``expired``, kind ``position``). A PBX that cannot be reached keeps the claim (its phone would
still ring for them): the next sweep tries again.

Every node sweeps when the oldest claim it knows of is due, and at least every
:data:`SWEEP_EVERY_SECONDS` (a claim taken on another node); a claim taken on this node wakes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from redis.exceptions import RedisError

from intake.app.audit import AuditTrail
from intake.app.positions import Positions
from intake.core.audit import Action, RecordKind, Who
from intake.core.errors import IntakeError

log = structlog.get_logger("intake.positions")

SWEEP_EVERY_SECONDS = 60.0
"""The longest a node waits between two sweeps (a claim taken on another node is due unseen)."""


@dataclass(frozen=True, slots=True)
class Expired:
    position: str
    holder: str | None  # None: nobody held it any longer, only the claim was left
    taken_at: float


class PositionClaims:
    def __init__(self, positions: Positions, max_seconds: float, audit: AuditTrail, *,
                 clock: Callable[[], float] | None = None) -> None:
        self.positions, self.store = positions, positions.store
        self.max_seconds, self.audit = max_seconds, audit
        self.clock = clock or self.store.clock
        self.who = Who(subject="intake:positions", id=audit.node or "intake", role="system")
        self._wake = asyncio.Event()

    def taken(self, _position: str = "") -> None:
        """A claim was taken on this node: the sweep's next deadline may be sooner."""
        self._wake.set()

    async def sweep(self) -> list[Expired]:
        """Expire every claim older than the limit that this node gets first."""
        await self.store.adopt([p.id for p in self.positions.config.positions])
        cut = self.clock() - self.max_seconds
        expired = []
        for position_id in await self.store.due(cut):
            claim = await self.store.expiring(position_id, cut)
            if claim is None:
                continue  # another node's, or given back meanwhile
            holder, taken_at = claim
            position = self.positions.config.position(position_id)
            if holder is not None and position is not None:
                try:
                    await self.positions.free(position, holder)
                except (IntakeError, OSError, RedisError) as exc:
                    # The PBX (or Redis) did not answer: put the claim back, tried again at the next
                    # sweep. Should that fail too, the claim left without a date is dated anew
                    # (PositionStore.adopt): later, never lost.
                    await self.store.claimed_again(position_id, taken_at)
                    log.warning("position_claim_not_expired", handler_id=holder, position=position_id, error=str(exc))
                    continue
            expired.append(Expired(position_id, holder, taken_at))
            self.audit.record(self.who, Action.EXPIRED, RecordKind.POSITION, record=position_id,
                              why=f"position claim older than {self.max_seconds:g} s"
                                  + (f": handler {holder} signed out" if holder else ""))
            log.info("position_claim_expired", handler_id=holder, position=position_id, taken_at=taken_at)
        return expired

    async def next_due(self) -> float:
        """Seconds until the oldest claim is due (SWEEP_EVERY_SECONDS at most)."""
        oldest = await self.store.redis.zrange(self.store.claims_key, 0, 0, withscores=True)
        if not oldest:
            return SWEEP_EVERY_SECONDS
        return min(SWEEP_EVERY_SECONDS, max(0.0, float(oldest[0][1]) + self.max_seconds - self.clock()))

    async def forever(self) -> None:
        """Sweep when a claim is due (a task under the server's supervisor)."""
        while True:
            await self.sweep()
            self._wake.clear()
            try:  # a claim the PBX kept (it could not be reached) is tried again a second later at the soonest
                await asyncio.wait_for(self._wake.wait(), max(1.0, await self.next_due()))
            except TimeoutError:
                pass
