"""From the registry's notices to pops on handlers' desktops, and contact records in the history.

The registry is synchronous and must never wait on Redis, so each pop is its own task: the
history lookup (one round trip) runs while events keep flowing. Later messages about the same
call for the same handler (answered, closed) wait for that task, so a desktop never sees a close
before the pop it closes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from intake.calls import Call, CallState
from intake.held import HeldWrites
from intake.registry import Answered, Finished, Notice, Ringing, RingStopped
from screenpop.delivery import DesktopHub
from screenpop.history import HistoryStore
from screenpop.models import ContactRecord, is_history_number
from screenpop.pop import CallSnapshot, compose_answered, compose_closed
from screenpop.popper import pop_ringing_call

log = structlog.get_logger("intake.pops")


class PopRouter:
    def __init__(self, history: HistoryStore, hub: DesktopHub, handler_ids: dict[str, str], clock: Any) -> None:
        """``handler_ids`` maps queue member interface -> handler id; ``clock()`` is PBX time now."""
        self.history = history
        self.hub = hub
        self.handler_ids = handler_ids
        self.clock = clock
        self._pending: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Contact records Redis refused are held and retried: an outage delays history, loses none.
        self.unwritten: HeldWrites[ContactRecord] = HeldWrites("contact_record", lambda r: self.history.record_contact(r))

    def handle(self, notices: list[Notice]) -> None:
        for n in notices:
            if isinstance(n, Ringing):
                self._for_handler(n.call, n.member, self._ringing)
            elif isinstance(n, Answered):
                self._for_handler(n.call, n.member, self._answered)
            elif isinstance(n, RingStopped):
                self._for_handler(n.call, n.member, self._closed, n.reason)
            elif isinstance(n, Finished):
                if n.call.answered_by is not None:
                    self._for_handler(n.call, n.call.answered_by, self._closed, "ended")
                self._spawn(self._record(n.call))

    async def drain(self) -> None:
        """Wait for every pop and record in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _for_handler(self, call: Call, member: str, step: Any, *args: Any) -> None:
        handler_id = self.handler_ids.get(member)
        if handler_id is None:
            return  # a queue member no configuration names: nobody's desktop to pop
        key = (call.call_id, handler_id)
        before = self._pending.get(key)
        task = self._spawn(self._after(before, step, call, handler_id, *args))
        self._pending[key] = task
        task.add_done_callback(lambda t, key=key: self._pending.get(key) is t and self._pending.pop(key))

    async def _after(self, before: asyncio.Task[None] | None, step: Any, *args: Any) -> None:
        if before is not None:
            await asyncio.wait([before])
        with structlog.contextvars.bound_contextvars(call_id=args[0].call_id, handler_id=args[1]):
            try:
                await step(*args)
            except Exception:
                log.exception("pop_failed")

    async def _ringing(self, call: Call, handler_id: str) -> None:
        now = self.clock()
        snapshot = CallSnapshot(call.call_id, call.line, call.queue, call.caller_number, call.caller_name,  # type: ignore[arg-type]
                                call.queued_at, round(call.waited(now), 3), call.silent)
        sent = await pop_ringing_call(self.history, self.hub, handler_id, snapshot, now=now)
        log.info("pop_sent", seq=sent.seq, line=call.line)

    async def _answered(self, call: Call, handler_id: str) -> None:
        msg = compose_answered(call.call_id, answered_at=call.answered_at or self.clock(), handler_id=handler_id)
        self.hub.publish(handler_id, msg, active=True)

    async def _closed(self, call: Call, handler_id: str, reason: str) -> None:
        msg = compose_closed(call.call_id, reason, at=call.ended_at or call.left_at or self.clock())  # type: ignore[arg-type]
        self.hub.publish(handler_id, msg, active=False)

    async def _record(self, call: Call) -> None:
        if not is_history_number(call.caller_number) or not call.counted:
            return
        disposition = {CallState.COMPLETED: "answered", CallState.ABANDONED: "abandoned"}.get(call.state, "left")
        if call.answered_at is not None:
            disposition = "answered"
        record = ContactRecord(
            call_id=call.call_id,
            number=call.caller_number,
            at=call.queued_at,
            line=call.line,  # type: ignore[arg-type]
            queue=call.queue,
            handler_id=self.handler_ids.get(call.answered_by or ""),
            waited_seconds=round(call.waited(call.ended_at or self.clock()), 3),
            talked_seconds=call.talk_seconds,
            disposition=disposition,  # type: ignore[arg-type]
        )
        await self.unwritten.submit(record)

    async def retry_unwritten(self) -> int:
        return await self.unwritten.retry()
