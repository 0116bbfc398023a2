"""The edge of call-backs: open tasks from the registry's notices, offer them to desktops,
originate the call-back from the handler's phone, close them, escalate the forgotten ones.

The rules are in :mod:`routing.callbacks`; this class holds the open tasks in memory (Redis
holds them across restarts), writes every change through, and does the I/O.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from intake.calls import CallState
from intake.config import IntakeConfig
from intake.errors import StateChangeFailed
from intake.handlers import HandlerState
from intake.registry import Finished, Notice, Registry
from routing.callbacks import CallbackStore, CallbackTask, escalations, linked, to_offer
from routing.policy import EMERGENCY
from screenpop.delivery import DesktopHub
from screenpop.messages import CallbackOffer, PopClosed
from telephony import actions
from telephony.errors import ActionError

log = structlog.get_logger("routing.callbacks")


class NoSuchTask(LookupError):
    def __init__(self, task_id: str, handler_id: str) -> None:
        super().__init__(f"no call-back task {task_id} is offered to {handler_id}")
        self.task_id, self.handler_id = task_id, handler_id


class CallbackDesk:
    def __init__(self, config: IntakeConfig, registry: Registry, store: CallbackStore, hub: DesktopHub,
                 sender: Any, now: Callable[[], float]) -> None:
        self.config, self.registry, self.store, self.hub, self.sender, self.now = config, registry, store, hub, sender, now
        self.rules = config.routing.callback
        self.tasks: dict[str, CallbackTask] = {}
        self._writes: set[asyncio.Task[None]] = set()

    async def restore(self) -> None:
        """Open tasks from Redis after a restart; offers are made afresh (desktops reconnect)."""
        for task in await self.store.load_open():
            task.offered_to = None
            self.tasks[task.id] = task
        log.info("callbacks_restored", open=len(self.tasks))

    # --- from the event path ---------------------------------------------------------------

    def handle(self, notices: list[Notice]) -> None:
        for n in notices:
            if isinstance(n, Finished) and n.call.line == EMERGENCY and n.call.state is CallState.ABANDONED:
                c = n.call
                task = CallbackTask(id=c.call_id, number=c.caller_number, queue=c.queue, abandoned_at=c.ended_at or self.now(),
                                    waited_seconds=round(c.waited(c.ended_at or self.now()), 3))
                task.note(task.abandoned_at, f"abandoned after {task.waited_seconds:.1f} s in {c.queue}")
                self.tasks[task.id] = task
                log.info("callback_opened", task_id=task.id, number=task.number, waited=task.waited_seconds)
                self._save(task)

    def caller_called_again(self, number: str, call_id: str) -> None:
        """A new call from a number with an open task: the caller got through; close it."""
        for task in linked(list(self.tasks.values()), number):
            self._close(task, f"caller called again (call {call_id})")

    def evaluate(self) -> None:
        """Offer open tasks to ready 999 handlers; escalate tasks open too long."""
        if not any(t.status != "closed" for t in self.tasks.values()):
            return  # the common case, on every tick: nothing to look at
        now = self.now()
        ready = [h.id for h in self.config.handlers if self._ready_for_999(h.member, h.queues)]
        busy = {t.id: t.offered_to for t in self.tasks.values() if t.offered_to and t.status != "closed"}
        for task, handler_id in to_offer(list(self.tasks.values()), ready, busy):
            task.offered_to = handler_id
            task.note(now, f"offered to {handler_id}")
            self.hub.publish(handler_id, self._offer(task), active=True)
            log.info("callback_offered", task_id=task.id, handler_id=handler_id)
            self._save(task)
        for task in escalations(list(self.tasks.values()), now, self.rules.escalate_seconds):
            task.escalated = True
            task.note(now, "escalated to supervisors")
            log.warning("callback_escalated", task_id=task.id, number=task.number, open_seconds=round(now - task.abandoned_at, 1))
            self._save(task)

    # --- from the desktop ------------------------------------------------------------------

    async def start(self, handler_id: str, task_id: str) -> None:
        """Ring the handler's phone; when they answer, the PBX dials the caller (dialplan context)."""
        task = self._offered(handler_id, task_id)
        member = next(h.member for h in self.config.handlers if h.id == handler_id)
        action = actions.originate(member, self.rules.context, self.rules.exten.format(number=task.number),
                                   caller_id=f"Call-back <{task.number}>", timeout_ms=int(self.rules.ring_seconds * 1000),
                                   variables={"INTAKE_CALLBACK": task.id})
        try:
            await self.sender.send(action)
        except ActionError as exc:
            raise StateChangeFailed(handler_id, "call-back", f"the PBX did not originate: {exc}", refused=False) from None
        task.status = "calling"
        task.note(self.now(), f"call-back started by {handler_id}")
        log.info("callback_started", task_id=task.id, handler_id=handler_id)
        self._save(task)

    def record_outcome(self, handler_id: str, task_id: str, outcome: str) -> CallbackTask:
        task = self._offered(handler_id, task_id)
        task.outcome = outcome
        self._close(task, f"outcome from {handler_id}: {outcome}")
        return task

    # --- views -----------------------------------------------------------------------------

    def view(self) -> list[dict[str, Any]]:
        return [t.model_dump(mode="json") for t in sorted(self.tasks.values(), key=lambda t: t.abandoned_at)]

    async def close(self) -> None:
        await asyncio.gather(*self._writes, return_exceptions=True)

    # --- inside ----------------------------------------------------------------------------

    def _ready_for_999(self, member: str, queues: list[str]) -> bool:
        h = self.registry.handlers.get(member)
        on_999 = any(self.config.line_of(q) is not None and self.config.line_of(q).name == EMERGENCY for q in queues)
        return on_999 and h is not None and h.state(self.config.wrapup_reason)[0] is HandlerState.READY

    def _offered(self, handler_id: str, task_id: str) -> CallbackTask:
        task = self.tasks.get(task_id)
        if task is None or task.offered_to != handler_id or task.status == "closed":
            raise NoSuchTask(task_id, handler_id)
        return task

    def _offer(self, task: CallbackTask) -> CallbackOffer:
        return CallbackOffer(call_id=f"callback:{task.id}", task_id=task.id, number=task.number, abandoned_at=task.abandoned_at,
                             waited_seconds=task.waited_seconds, queue=task.queue, history=tuple(task.history))

    def _close(self, task: CallbackTask, why: str) -> None:
        now = self.now()
        task.status = "closed"
        task.note(now, why)
        self.tasks.pop(task.id, None)
        if task.offered_to:
            self.hub.publish(task.offered_to, PopClosed(call_id=f"callback:{task.id}", reason="callback-closed", at=now), active=False)
        log.info("callback_closed", task_id=task.id, why=why)
        self._save(task)

    def _save(self, task: CallbackTask) -> None:
        snapshot = task.model_copy(deep=True)
        write = asyncio.get_running_loop().create_task(self.store.save(snapshot))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)
