"""This node's part in a cluster of intake nodes, for the composition root: the gate the desks
ask, the fence their durable writes carry, the lease task, the takeover, the views.

With ``[cluster] enabled = false`` (the default, and the demo) the node is alone: it leads every
site and writes unfenced, exactly as before there were clusters; no lease is kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from intake.app.lease import SiteLease
from intake.app.supervise import Supervisor
from intake.app.takeover import Takeover
from intake.core.config import IntakeConfig
from intake.core.leadership import ALONE, Effect, Gate, Leadership
from routing.fenced import Fence

if TYPE_CHECKING:
    from routing.callback_desk import CallbackDesk
    from routing.handler_desk import HandlerDesk


class Cluster:
    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, config: IntakeConfig, redis: Any, site: str) -> None:
        c = config.cluster
        self.enabled, self.site = c.enabled, site
        self.leadership = Leadership(c.node(config.http.port), time.monotonic)
        self.gate: Gate = self.leadership.gate(site) if c.enabled else ALONE
        self.fence = Fence(redis, config.redis.key_prefix, site) if c.enabled else None
        self.lease = SiteLease(redis, self.leadership, site, prefix=config.redis.key_prefix,
                               lease_seconds=c.lease_seconds, on_effects=self._effects) if c.enabled else None
        self.takeover: Takeover | None = None

    def wire(self, desk: HandlerDesk, callbacks: CallbackDesk, resync: Callable[[str], object]) -> None:
        self.takeover = Takeover(self.leadership, self.site, desk, callbacks, resync)

    def _effects(self, site: str, effects: tuple[Effect, ...]) -> None:
        if self.takeover is not None:
            self.takeover.on_effects(site, effects)

    def start(self, tasks: Supervisor, name: str = "lease") -> None:
        if self.lease is not None:
            tasks.start(name, self.lease.run)

    def resync_completed(self) -> None:
        """The PBX's picture is in (a resync finished)."""
        if self.takeover is not None:
            self.takeover.resync_completed()

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def view(self) -> dict[str, Any]:
        """Who leads each site, for /healthz and the wallboard."""
        if not self.enabled:
            node = self.leadership.node_id
            return {self.site: {"node": node, "role": "leading", "leader": node, "token": None}}
        return {self.site: self.leadership.view(self.site)}

    async def close(self) -> None:
        """A clean stop: the lease released (another node takes over at once), the takeover's work stopped."""
        if self.lease is not None:
            await self.lease.stop()
        if self.takeover is not None:
            await self.takeover.close()
