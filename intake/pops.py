"""From the registry's notices to pops on handlers' desktops.

The registry is synchronous and must never wait on Redis, so the pop for a ringing phone is its
own task: the history lookup (one round trip, as the phone starts ringing, so the pop shows what
was filed while the caller waited) runs while events keep flowing. Later messages
about the same call for the same handler (answered, closed) wait for that task when it is still
running, so a desktop never sees a close before the pop it closes; otherwise they are published
at once, with no task at all (most notices need none: this is the hot path).

Every queued call is held in :attr:`PopRouter.unrecorded` until whoever writes its contact record
says it is in Redis: a pop's repeat count then includes the caller's calls Redis has not got yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from intake.calls import Call
from intake.registry import Answered, Finished, Notice, Queued, Ringing, RingStopped
from intake.unrecorded import UnrecordedCalls
from screenpop.delivery import DesktopHub
from screenpop.history import HistoryStore
from screenpop.messages import HandlerMessage
from screenpop.pop import REPEAT_CALLS, CallSnapshot, compose_answered, compose_closed
from screenpop.popper import pop_ringing_call

log = structlog.get_logger("intake.pops")


class PopRouter:
    def __init__(self, history: HistoryStore, hub: DesktopHub, handler_ids: dict[str, str], clock: Any,
                 *, repeat_calls: int = REPEAT_CALLS) -> None:
        """``handler_ids`` maps queue member interface -> handler id; ``clock()`` is PBX time now;
        a pop flags a repeat caller with more than ``repeat_calls`` calls in the history's window."""
        self.history = history
        self.hub = hub
        self.handler_ids = handler_ids
        self.clock = clock
        self.repeat_calls = repeat_calls
        self.unrecorded = UnrecordedCalls()
        self._pending: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(self, notices: list[Notice]) -> None:
        for n in notices:
            if isinstance(n, Ringing):
                self._ringing(n.call, n.member)
            elif isinstance(n, Queued):
                self.unrecorded.add(n.call.caller_number, n.call.call_id, n.call.queued_at)
            elif isinstance(n, Answered):
                self._update(n.call, n.member, lambda c, h: compose_answered(
                    c.call_id, answered_at=c.answered_at or self.clock(), handler_id=h), active=True)
            elif isinstance(n, RingStopped):
                self._update(n.call, n.member, self._closer(n.reason), active=False)
            elif isinstance(n, Finished) and n.call.answered_by is not None:
                self._update(n.call, n.call.answered_by, self._closer("ended"), active=False)

    async def drain(self) -> None:
        """Wait for every pop in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _closer(self, reason: str) -> Callable[[Call, str], HandlerMessage]:
        return lambda c, _h: compose_closed(c.call_id, reason, at=c.ended_at or c.left_at or self.clock())  # type: ignore[arg-type]

    def _ringing(self, call: Call, member: str) -> None:
        handler_id = self.handler_ids.get(member)
        if handler_id is None:
            return  # a queue member no configuration names: nobody's desktop to pop
        now = self.clock()
        snapshot = CallSnapshot(call.call_id, call.line, call.queue, call.caller_number, call.caller_name,  # type: ignore[arg-type]
                                call.queued_at, round(call.waited(now), 3), call.silent)
        others = self.unrecorded.of(call.caller_number)
        self._chain((call.call_id, handler_id), self._pop(snapshot, handler_id, now, others))

    def _update(self, call: Call, member: str, compose: Callable[[Call, str], HandlerMessage], *, active: bool) -> None:
        handler_id = self.handler_ids.get(member)
        if handler_id is None:
            return
        key = (call.call_id, handler_id)
        if key not in self._pending:
            self.hub.publish(handler_id, compose(call, handler_id), active=active)
            return

        async def after() -> None:
            self.hub.publish(handler_id, compose(call, handler_id), active=active)

        self._chain(key, after())

    def _chain(self, key: tuple[str, str], step: Any) -> None:
        """Run ``step`` after whatever is pending for this call on this handler's desktop."""
        before = self._pending.get(key)
        task = asyncio.get_running_loop().create_task(self._after(before, step, key))
        self._tasks.add(task)
        self._pending[key] = task
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda t: self._pending.get(key) is t and self._pending.pop(key))

    async def _after(self, before: asyncio.Task[None] | None, step: Any, key: tuple[str, str]) -> None:
        if before is not None:
            await asyncio.wait([before])
        with structlog.contextvars.bound_contextvars(call_id=key[0], handler_id=key[1]):
            try:
                await step
            except Exception:
                log.exception("pop_failed")

    async def _pop(self, snapshot: CallSnapshot, handler_id: str, now: float, unrecorded: dict[str, float]) -> None:
        sent = await pop_ringing_call(self.history, self.hub, handler_id, snapshot, now=now,
                                      unrecorded=unrecorded, repeat_calls=self.repeat_calls)
        log.info("pop_sent", seq=sent.seq, line=snapshot.line)

