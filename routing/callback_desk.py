"""The edge of call-backs: open tasks from the registry's notices, offer them to desktops (and
take them back), originate the call-back from the handler's phone, close them, escalate the
forgotten ones.

The rules are in :mod:`routing.callbacks`; this class holds the open tasks in memory (Redis
holds them across restarts), writes every change through, and does the I/O. A task closed by its
outcome also goes into the caller's history ("called back"), handed to ``file_history``. Both
the task's saves and that entry go behind the event path through the server's write-behind, like
a settled call's record: the desk never waits on Redis, and a save is retried in order, never
dropped silently, while Redis is away.

An Originate is remembered (by its ActionID) only until the PBX has said how it went: its
OriginateResponse, a refusal, a timeout or cut-off of the action, the AMI link going down, or,
should the PBX never send the OriginateResponse it owes, the time by which it should have. In
the last cases nobody can say whether the handler's phone rang: the task goes back to its handler
"not confirmed", to try again, rather than staying "calling" for good.

With several nodes, every node opens and closes tasks in memory from the same notices (the same
picture), and only the site's leader offers, takes back and escalates them, and saves what it
decided, each save fenced by its token (:mod:`routing.fenced`). What a handler does with a task
(start it, file its outcome) is saved by the node their desktop is on (:data:`BY_THE_HANDLER`).
A node taking over reads the tasks back from Redis (:meth:`CallbackDesk.restore`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any, Literal, Protocol

import structlog
from pydantic import ValidationError

from intake.core.calls import CallState
from intake.core.config import IntakeConfig
from intake.core.handlers import HandlerState
from intake.core.leadership import ALONE, Gate
from intake.core.registry import Finished, Notice, Registry
from routing.callback_status import Effect, Status, TaskEvent, allows, step
from routing.callbacks import (
    CallbackOutcome,
    CallbackStore,
    CallbackTask,
    Taker,
    escalations,
    history_entry,
    linked,
    originate_failure,
    ready,
    to_offer,
    undialable,
    withdrawals,
)
from routing.errors import (
    CallbackNotDialable,
    CallbackNotStarted,
    NoSuchTask,
    TaskConflict,
)
from routing.executor import ActionResult, Executor, Sender, Sent
from routing.policy import EMERGENCY
from screenpop.delivery import DesktopHub
from screenpop.messages import CallbackOffer, PopClosed
from screenpop.models import ContactRecord, describe
from telephony import actions
from telephony.actions import Action
from telephony.errors import RefusedValue
from telephony.events import OriginateFinished, PbxLinkDown
from telephony.values import DIALABLE_NUMBER

log = structlog.get_logger("routing.callbacks")
# Over ~400 lines on purpose: a task's whole life on a node (opened, offered, called back, closed,
# and what other nodes did with it) goes through the open tasks and their one _step; split, each
# part would reach into the others' state.

UNCONFIRMED = "the PBX did not confirm the call-back: if your phone did not ring, start it again"
# An OriginateResponse comes once the handler's phone answered or gave up ringing (ring_seconds)
# after the action's own response (ami.action_timeout); this much later, none is coming.
ORIGINATE_MARGIN = 5.0
BY_THE_HANDLER = frozenset({TaskEvent.STARTED, TaskEvent.SENT, TaskEvent.NOT_SENT, TaskEvent.UNCONFIRMED,
                            TaskEvent.PHONE_ANSWERED, TaskEvent.PHONE_FAILED, TaskEvent.OUTCOME_FILED})
"""Steps a handler's own action (or the PBX's answer to it) takes: saved by the node that carried
it out, leader or not. Every other step is the leader's to save."""
CLOSED_MEMORY = 1000  # recently closed tasks: a late click on a closed card is told why, not "no such task"
CLOSING: dict[TaskEvent, Literal["callback-closed", "callback-linked"]] = {
    TaskEvent.OUTCOME_FILED: "callback-closed", TaskEvent.CALLED_AGAIN: "callback-linked"}
"""Why a closed task's card leaves the desktop, as the desktop is told."""


class Writes(Protocol):
    """Where task changes go behind the event path (the app's write-behind)."""

        # Any: a redis pipeline, and the task as its own model (see intake/app/write_behind.py)
    def submit(self, kind: str, stage: Callable[[Any], None], done: Callable[[], None] | None = None, *,
               record: Any = None) -> None: ...


class CallbackDesk:
    def __init__(self, config: IntakeConfig, registry: Registry, store: CallbackStore, hub: DesktopHub,
                 sender: Sender, now: Callable[[], float], *, writes: Writes,
                 file_history: Callable[[ContactRecord], None], on_change: Callable[[], None] = lambda: None,
                 gate: Gate = ALONE) -> None:
        self.config, self.registry, self.store, self.hub, self.now = config, registry, store, hub, now
        self.executor = Executor(sender)
        self.writes = writes
        self.file_history = file_history
        self.rules = config.routing.callback
        self.on_change = on_change  # the supervisors' picture shows the open tasks
        self.gate = gate  # whether this node leads the site (offers, escalates, saves)
        self.tasks: dict[str, CallbackTask] = {}  # open and calling ones only
        self.closed: OrderedDict[str, str] = OrderedDict()  # task id -> why it closed
        # Originate ActionID -> (task id, when to stop waiting for the PBX's word on it)
        self._originating: dict[str, tuple[str, float]] = {}
        self._desktop_seen: dict[str, float] = {}  # handler id -> when a desktop of theirs was last connected
        self._spooled: dict[str, CallbackTask] = {}  # saves the last run could not write: newer than Redis's
        self._takers = [h.id for h in config.handlers
                        if any((line := config.line_of(q)) is not None and line.name == EMERGENCY for q in h.queues)]

    async def restore(self) -> None:
        """Open tasks from Redis after a restart (a task's save the last run spooled is newer).
        Offers are made afresh (desktops reconnect); a task being called stays with its handler,
        whose desktop finds its card again."""
        known = await self.store.ids()
        stored = {task.id: task for task in await self.store.load_open()}
        stored |= self._spooled
        self._spooled.clear()
        now = self.now()
        for task in [t for t in self.tasks.values() if t.id not in stored]:
            if task.id in known:  # closed by another node (a handler's outcome filed there)
                del self.tasks[task.id]
            else:  # opened here as a follower, and the leader died before saving it
                self._save(task)
        for task in stored.values():
            if task.status is Status.CLOSED:
                continue
            self.tasks[task.id] = task
            if task.status is Status.CALLING and not task.offered_to:  # nobody's phone to wait on
                self._step(task, TaskEvent.UNCONFIRMED, now, "call-back not confirmed: intake restarted", problem=UNCONFIRMED)
            elif task.status is Status.CALLING:
                self._step(task, TaskEvent.RESTARTED, now)
            else:
                self._step(task, TaskEvent.RESTARTED, now, offered_to=None)
        log.info("callbacks_restored", open=len(self.tasks))

    def spooled(self, task: CallbackTask) -> None:
        """A save the last run could not write before it stopped (called before :meth:`restore`):
        written again, and newer than what Redis holds of the task."""
        self._spooled[task.id] = task
        self._save(task)

    # --- from the event path ---------------------------------------------------------------

    def handle(self, notices: list[Notice]) -> None:
        for n in notices:
            if isinstance(n, Finished) and n.call.line == EMERGENCY and n.call.state is CallState.ABANDONED:
                c = n.call
                task = CallbackTask(id=c.call_id, number=c.caller_number, queue=c.queue, abandoned_at=c.ended_at or self.now(),
                                    waited_seconds=round(c.waited(c.ended_at or self.now()), 3))
                task.note(task.abandoned_at, f"abandoned after {task.waited_seconds:.1f} s in {c.queue}")
                if why := undialable(task.number):
                    task.note(task.abandoned_at, f"the number cannot be dialled: it {why}")
                self.tasks[task.id] = task
                log.info("callback_opened", task_id=task.id, number=task.number, waited=task.waited_seconds,
                         undialable=why or None)
                self._save(task)
                self.on_change()

    def caller_called_again(self, number: str, call_id: str) -> None:
        """A new call from a number with an open task: the caller got through; close it."""
        for task in linked(list(self.tasks.values()), number):
            self._close(task, TaskEvent.CALLED_AGAIN, f"caller called again (call {call_id})")

    def originate_finished(self, event: OriginateFinished) -> None:
        """The PBX's word on a call-back's first leg: the handler's phone answered, or it did not
        and the task is the handler's to try again, with the reason on their card."""
        task = self.tasks.get(self._originating.pop(event.action_id, ("", 0.0))[0])
        if task is None or task.status is not Status.CALLING:
            return
        if event.answered:
            self._step(task, TaskEvent.PHONE_ANSWERED, event.at, "handler's phone answered: the PBX is ringing the caller")
        else:
            problem = originate_failure(event.reason)
            log.warning("callback_not_started", task_id=task.id, reason=event.reason, channel=event.channel)
            self._step(task, TaskEvent.PHONE_FAILED, event.at, f"call-back did not start: {problem}", problem=problem)

    def link_down(self, event: PbxLinkDown) -> None:
        """No OriginateResponse comes over a link that dropped: the call-backs awaiting one go back
        to their handlers, not confirmed."""
        for action_id in list(self._originating):
            self._unconfirmed(action_id, f"the link to the PBX dropped ({event.reason})", event.at)

    def evaluate(self) -> None:
        """Take tasks back from handlers who cannot take them now, offer open tasks to ready 999
        handlers, escalate tasks open too long; stop waiting for OriginateResponses overdue."""
        now = self.now()
        for action_id in [a for a, (_, by) in self._originating.items() if by <= now]:
            self._unconfirmed(action_id, "the PBX never said how it went", now)
        if not self.tasks or not self.gate.acts():
            return  # the common case, on every tick: nothing to look at; or the leader's to do
        takers = self._floor(now)
        for task, why in withdrawals(list(self.tasks.values()), takers):
            self._withdraw(task, why, now)
        busy = {t.id: t.offered_to for t in self.tasks.values() if t.offered_to}
        for task, handler_id in to_offer(list(self.tasks.values()), ready(takers), busy):
            log.info("callback_offered", task_id=task.id, handler_id=handler_id)
            self._step(task, TaskEvent.OFFERED, now, f"offered to {handler_id}", offered_to=handler_id)
        for task in escalations(list(self.tasks.values()), now, self.rules.escalate_seconds):
            log.warning("callback_escalated", task_id=task.id, number=task.number, open_seconds=round(now - task.abandoned_at, 1))
            self._step(task, TaskEvent.ESCALATED, now, "escalated to supervisors", escalated=True)

    # --- from the desktop ------------------------------------------------------------------

    async def catch_up(self, task_id: str) -> None:
        """Before a handler acts on a task here: a node that does not hold the site's lease reads
        the task as Redis has it (the leader offered it, and the offer reached the handler's
        desktop on this node through their stream), so the handler's click is judged on it. The
        leader's memory is the source of what is saved, unless the handler's part has moved on
        on another node (started or closed there: Redis has seen more of its handler's steps)."""
        stored = await self.store.load(task_id)
        mine = self.tasks.get(task_id)
        if stored is None or (self.gate.holds() and (mine is None or stored.handled <= mine.handled)):
            return
        self._adopt(stored, mine)

    async def refresh(self) -> None:
        """With several nodes, every second or so: each task in memory as Redis has it if its
        handler moved it on on another node (started it, filed its outcome), so that no node
        offers, escalates or shows again a task closed elsewhere."""
        if self.tasks:
            for stored in await self.store.load_many(list(self.tasks)):
                if (mine := self.tasks.get(stored.id)) is not None and stored.handled > mine.handled:
                    self._adopt(stored, mine)

    def _adopt(self, stored: CallbackTask, mine: CallbackTask | None) -> None:
        if stored.status is Status.CLOSED:
            self.tasks.pop(stored.id, None)
            self.closed[stored.id] = "closed on another node"
            if mine is not None and mine.offered_to not in (None, stored.offered_to):  # a card this node put up
                self.hub.publish(mine.offered_to, PopClosed(call_id=f"callback:{stored.id}", reason="callback-closed",
                                                            at=self.now()), active=False)
        else:
            self.tasks[stored.id] = stored
        self.on_change()

    async def start(self, handler_id: str, task_id: str) -> CallbackTask:
        """Ring the handler's phone; when they answer, the PBX dials the caller (dialplan context)."""
        task, action = self._originate_for(handler_id, task_id)
        # Calling before the PBX answers: a second click meanwhile must not ring the caller twice.
        called_before, now = task.called_at, self.now()
        self._step(task, TaskEvent.STARTED, now, problem="", called_at=now)
        self._originating[action.action_id] = (
            task.id, now + self.rules.ring_seconds + self.config.ami.action_timeout + ORIGINATE_MARGIN)
        return self._started(task, handler_id, await self.executor.send(action), called_before)

    def _originate_for(self, handler_id: str, task_id: str) -> tuple[CallbackTask, Action]:
        """The task ``handler_id`` may start now and the Originate that starts it, or why not."""
        task = self._mine(handler_id, task_id)
        if not allows(task.status, TaskEvent.STARTED):
            raise TaskConflict(task_id, handler_id, "the call-back is already under way")
        if why := undialable(task.number):
            log.warning("callback_not_dialable", task_id=task.id, handler_id=handler_id, why=why)
            raise CallbackNotDialable(task_id, DIALABLE_NUMBER.shown(task.number), why)
        member = self.registry.member_of(handler_id)  # their fixed phone, or the position they sit at
        if member is None:
            raise TaskConflict(task_id, handler_id, "not at a phone: sign in at a position first")
        try:
            return task, actions.originate(member, self.rules.context, self.rules.exten.format(number=task.number),
                                           caller_id=f"Call-back <{task.number}>", timeout_ms=int(self.rules.ring_seconds * 1000),
                                           variables={"INTAKE_CALLBACK": task.id})
        except RefusedValue as exc:  # a dialable number, so ours: the config's exten or the task id
            log.error("callback_refused", task_id=task.id, action=exc.action, field=exc.field, why=exc.why)
            raise CallbackNotStarted(task_id, f"intake would not send it ({exc.field} {exc.why})", refused=True) from None

    def _started(self, task: CallbackTask, handler_id: str, result: ActionResult, called_before: float | None) -> CallbackTask:
        """What the PBX's answer to the Originate makes of the task (and of the handler's click)."""
        if result.sent in (Sent.REFUSED, Sent.NOT_SENT):
            # Certainly not carried out: the task is the handler's to try again.
            self._originating.pop(result.action.action_id, None)
            refused = result.sent is Sent.REFUSED
            detail = f"the PBX refused it: {result.detail}" if refused else f"the PBX could not be reached ({result.detail})"
            if allows(task.status, TaskEvent.NOT_SENT):  # not closed meanwhile (the caller called again)
                self._step(task, TaskEvent.NOT_SENT, self.now(), f"call-back by {handler_id} not started: {detail}",
                           called_at=called_before)
            raise CallbackNotStarted(task.id, detail, refused=refused)
        if result.sent is Sent.UNCONFIRMED:
            # Timed out or cut off after sending: the phone may ring yet, so never re-sent by us;
            # the handler, who hears their phone, decides. (The link's drop may have said so first.)
            self._unconfirmed(result.action.action_id, result.detail, self.now())
            raise CallbackNotStarted(task.id, "the PBX did not confirm it; your phone may still ring: if it does,"
                                     " answer it, else start the call-back again", refused=False)
        log.info("callback_started", task_id=task.id, handler_id=handler_id)
        if allows(task.status, TaskEvent.SENT):
            self._step(task, TaskEvent.SENT, self.now(), f"call-back started by {handler_id}")
        return task

    def record_outcome(self, handler_id: str, task_id: str, outcome: CallbackOutcome) -> CallbackTask:
        task = self._mine(handler_id, task_id)
        self._close(task, TaskEvent.OUTCOME_FILED, f"outcome from {handler_id}: {outcome.summary()}", outcome=outcome)
        name = next(h.name for h in self.config.handlers if h.id == handler_id)
        try:
            entry = history_entry(task, handler_id, name, self.now())
        except ValidationError as exc:  # the task is closed all the same; its history entry is lost, loudly
            log.error("callback_not_in_history", task_id=task.id, problems="; ".join(describe(exc)))
            return task
        if entry is not None:
            self.file_history(entry)
        return task

    # --- views -----------------------------------------------------------------------------

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def view(self) -> list[dict[str, Any]]:
        """Open tasks, oldest first, with how long each has been open (PBX clock)."""
        now = self.now()
        return [{**t.model_dump(mode="json"), "age_seconds": round(max(0.0, now - t.abandoned_at), 1),
                 "cannot_dial": undialable(t.number)}
                for t in sorted(self.tasks.values(), key=lambda t: t.abandoned_at)]

    # --- inside ----------------------------------------------------------------------------

    def _floor(self, now: float) -> list[Taker]:
        """The 999 handlers: their state, and whether a desktop of theirs is there to show a card."""
        takers = []
        for handler_id in self._takers:
            if self.hub.present(handler_id):  # on any node: the offer reaches it through the handler's stream
                self._desktop_seen[handler_id] = now
            seen = self._desktop_seen.get(handler_id)
            member = self.registry.member_of(handler_id)
            h = self.registry.handlers.get(member) if member is not None else None
            state = h.state(self.config.wrapup_reason)[0] if h is not None else HandlerState.LOGGED_OUT
            takers.append(Taker(handler_id, state, seen is not None and now - seen <= self.rules.desktop_grace_seconds))
        return takers

    def _mine(self, handler_id: str, task_id: str) -> CallbackTask:
        task = self.tasks.get(task_id)
        if task is None:
            if task_id in self.closed:
                raise TaskConflict(task_id, handler_id, f"already closed: {self.closed[task_id]}")
            raise NoSuchTask(task_id)
        if task.offered_to != handler_id:
            raise TaskConflict(task_id, handler_id, "it is offered to another handler, not to you" if task.offered_to
                               else "it is not offered to you (it waits for a ready 999 handler)")
        return task

    def _show(self, task: CallbackTask) -> None:
        """Put the task as it now stands on its handler's desktop (a newer card replaces the old)."""
        if task.offered_to is None:
            return
        self.hub.publish(task.offered_to, CallbackOffer(
            call_id=f"callback:{task.id}", task_id=task.id, number=task.number, abandoned_at=task.abandoned_at,
            waited_seconds=task.waited_seconds, queue=task.queue, history=tuple(task.history),
            status="calling" if task.status is Status.CALLING else "open", escalated=task.escalated, problem=task.problem,
            cannot_dial=undialable(task.number),
        ), active=True)

    def _unconfirmed(self, action_id: str, why: str, at: float) -> None:
        """The PBX will not say how this Originate went: forget it, and give a task still calling
        on it back to its handler, with the reason on their card."""
        task = self.tasks.get(self._originating.pop(action_id, ("", 0.0))[0])
        if task is None or task.status is not Status.CALLING:
            return
        log.warning("callback_not_confirmed", task_id=task.id, action_id=action_id, why=why)
        self._step(task, TaskEvent.UNCONFIRMED, at, f"call-back not confirmed: {why}", problem=UNCONFIRMED)

    def _withdraw(self, task: CallbackTask, why: str, now: float) -> None:
        log.info("callback_withdrawn", task_id=task.id, handler_id=task.offered_to, why=why)
        self._step(task, TaskEvent.TAKEN_BACK, now, f"taken back from {task.offered_to}: {why}", offered_to=None)

    def _close(self, task: CallbackTask, event: TaskEvent, why: str, **changes: object) -> None:
        log.info("callback_closed", task_id=task.id, why=why)
        self._step(task, event, self.now(), why, **changes)

    def _step(self, task: CallbackTask, event: TaskEvent, at: float, note: str = "", **changes: object) -> None:
        """The one place a task's status changes: the table's row for ``event`` (an illegal pair
        raises before anything changed), then ``changes`` to the task's other fields, the note in
        its history, and the row's effects in order."""
        move = step(task.id, task.status, event)
        card_on = task.offered_to  # the desktop that shows the card before this step
        task.status = move.next
        for name, value in changes.items():
            setattr(task, name, value)
        if event in BY_THE_HANDLER:
            task.handled += 1
        if note:
            task.note(at, note)
        for effect in move.effects:
            if effect is Effect.SHOW:
                self._show(task)
            elif effect is Effect.TAKE_BACK or effect is Effect.CLOSE_CARD:
                if card_on is not None:
                    reason = CLOSING.get(event, "callback-withdrawn")
                    self.hub.publish(card_on, PopClosed(call_id=f"callback:{task.id}", reason=reason, at=at), active=False)
            elif effect is Effect.FORGET:
                self.tasks.pop(task.id, None)
                self.closed[task.id] = note
                while len(self.closed) > CLOSED_MEMORY:
                    self.closed.popitem(last=False)
            elif effect is Effect.SAVE:
                self._save(task, by_the_handler=event in BY_THE_HANDLER)
            else:
                self.on_change()

    def _save(self, task: CallbackTask, *, by_the_handler: bool = False) -> None:
        """Behind the event path, in order with every other record: a later state of a task is
        never overwritten by an earlier one, and Redis being away holds the save, not loses it.
        The leader's saves carry its fencing token (a deposed leader's is refused); a follower
        saves only what a handler did on it (unfenced), and leaves the rest to the leader."""
        if not (self.gate.holds() or by_the_handler):
            return
        snapshot = task.model_copy(deep=True)
        self.writes.submit("callback", partial(self.store.stage, snapshot, token=self.gate.token()), record=snapshot)
