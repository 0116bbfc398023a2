"""What a node does when its lease on a site changes hands: the I/O behind the lease table's
effects (:mod:`intake.core.leadership`).

Granted (``RECONCILE``): before acting, the node gets the site's state from where it is kept,
not from its own memory of it: the durable wrap-up timers and the call-back tasks from Redis,
then the PBX's picture by a QueueStatus resync (which handlers are paused in wrap-up or by a
ring-out, which 101 handlers the PBX shows lent to the 999 queues: the steering reads lends
from the picture, never from what some node asked for). Once that resync is in, the lease is
*reconciled* and the node leads: the overdue wrap-ups end at once (once: the timer is in Redis
until its end is sent, and only the leader sends it), the running ones end on time.

Deposed (``STOP_ACTING``): nothing to undo. The desks ask the gate before every side effect and
the local deadline closes it by itself; what was already on its way is refused by the fence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
from redis.exceptions import RedisError

from intake.core.leadership import Effect, Leadership, Reconciled

if TYPE_CHECKING:
    from routing.callback_desk import CallbackDesk
    from routing.handler_desk import HandlerDesk

log = structlog.get_logger("intake.takeover")

RETRY_INITIAL, RETRY_MAX = 0.1, 2.0  # seconds between tries of a reconciliation Redis refused


class Takeover:
    """Reconciles one site when this node is granted its lease."""

    def __init__(self, leadership: Leadership, site: str, desk: HandlerDesk, callbacks: CallbackDesk,
                 resync: Callable[[str], object]) -> None:
        self.leadership, self.site = leadership, site
        self.desk, self.callbacks, self.resync = desk, callbacks, resync
        self._for: int | None = None  # the token whose reconciliation waits for the resync
        self._running: set[asyncio.Task[None]] = set()

    def on_effects(self, site: str, effects: tuple[Effect, ...]) -> None:
        lease = self.leadership.lease(site)
        if Effect.RECONCILE in effects and lease.token is not None:
            log.info("taking_over", site=site, token=lease.token)
            task = asyncio.get_running_loop().create_task(self._reconcile(lease.token))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        if Effect.STOP_ACTING in effects:
            self._for = None
            log.warning("stepped_down", site=site, role=lease.role.value)

    async def _reconcile(self, token: int) -> None:
        delay = RETRY_INITIAL
        while True:
            lease = self.leadership.lease(self.site)
            if lease.token != token or not lease.holds(self.leadership.clock()):
                return  # the grant this was for is gone: a new one reconciles afresh
            why = "the durable timers could not be read"
            try:
                if await self.desk.load_timers():
                    await self.callbacks.restore()
                    break
            except (RedisError, OSError) as exc:
                why = repr(exc)
            # The lease holds, so Redis answers renewals: try again soon.
            log.error("takeover_not_reconciled", site=self.site, token=token, error=why, retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
        self._for = token
        if not self.resync(f"taking over the lead of site {self.site}"):
            log.info("takeover_waits_for_the_pbx", site=self.site, token=token)  # the next login resyncs

    def resync_completed(self) -> None:
        """The PBX's picture is in: a takeover waiting for it leads from now, then the wrap-ups
        found are resumed (by the leader, so they end)."""
        if self._for is not None:
            token, self._for = self._for, None
            self.leadership.feed(self.site, Reconciled(token))
            if self.leadership.lease(self.site).acts(self.leadership.clock()):
                log.info("leading", site=self.site, token=token)
        self.desk.resync_completed()

    async def close(self) -> None:
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
