"""The edge of the ring-out rule: feed it the registry's notices, pause the handlers it names
through :class:`~routing.handler_desk.HandlerDesk` (the same QueuePause the desktop's "Not
ready" sends, on every queue the handler is in), log each with the call and the handler, count.

The handler comes back with the desktop's Ready button; nothing here unpauses anyone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog

from intake.core.config import IntakeConfig
from intake.core.errors import StateChangeFailed
from intake.core.handlers import Handler
from intake.core.registry import Notice
from routing.executor import Background
from routing.handler_desk import HandlerDesk, Wanted
from routing.ring_out import PauseForRingOut, RingOutRule, RingOuts

log = structlog.get_logger("routing.ring_out")


class RingOutDesk:
    def __init__(self, config: IntakeConfig, desk: HandlerDesk, handlers: Callable[[str], Handler | None]) -> None:
        r = config.routing
        self.rule = RingOutRule(r.pause_after_ring_no_answer if r.enabled else 0, r.ring_no_answer_reason, config.wrapup_reason)
        self.ring_outs = RingOuts(self.rule)
        self.desk, self.handlers = desk, handlers
        self.pauses: Counter[tuple[str, str, str]] = Counter()  # (line, queue, "paused" | "failed") -> count
        self.background = Background()  # the pauses under way (the handler desk sends them)

    def handle(self, notices: list[Notice]) -> None:
        """Every node counts (the same picture everywhere); only the site's leader pauses."""
        for pause in self.ring_outs.feed(notices, self.handlers):
            if self.desk.gate.acts():
                self.background.spawn(self._pause(pause))

    async def _pause(self, p: PauseForRingOut) -> None:
        """The I/O of one pause: the handler desk's QueuePause, what came of it to :meth:`paused`."""
        with structlog.contextvars.bound_contextvars(call_id=p.call_id, handler_id=p.handler_id):
            log.info("pausing_after_ring_out", queue=p.queue, ring_outs=p.ring_outs, reason=p.reason)
            try:
                await self.desk.request(p.handler_id, Wanted.NOT_READY, p.reason)
            except StateChangeFailed as exc:
                self.paused(p, exc)
            else:
                self.paused(p, None)

    def paused(self, p: PauseForRingOut, failed: StateChangeFailed | None) -> None:
        """Count the pause; one that failed leaves the handler ready, their count started again."""
        self.pauses[(p.line, p.queue, "failed" if failed else "paused")] += 1
        if failed is not None:
            log.warning("ring_out_pause_failed", detail=failed.detail)

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def view(self) -> dict[str, Any]:
        """For /metrics: every ring-out seen and the pauses sent for them."""
        return {"enabled": self.rule.after > 0, "after": self.rule.after, "reason": self.rule.reason,
                "ring_outs": [{"line": line, "queue": q, "count": n} for (line, q), n in sorted(self.ring_outs.seen.items())],
                "pauses": [{"line": line, "queue": q, "result": r, "count": n} for (line, q, r), n in sorted(self.pauses.items())]}

    async def close(self) -> None:
        await self.background.close()
