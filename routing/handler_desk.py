"""Handler states the desktop asks for, turned into AMI actions; and wrap-up after a call.

The decisions are pure: :func:`plan` says which QueueAdd / QueueRemove / QueuePause actions take
a handler from what the PBX last reported to the state they asked for, on the queues their
configuration names; :func:`wrapup_after` says whether a finished call starts a wrap-up pause.
:class:`HandlerDesk` is the edge: it sends the actions through the AMI session and runs the
wrap-up timers, each kept in Redis while it runs (:mod:`routing.timers`) so that a restart
resumes it. The PBX stays the source of truth: the registry learns the new state from the PBX's
own QueueMember* events, never from what we asked for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import structlog
from redis.exceptions import RedisError

from intake.core.calls import CallFacts
from intake.core.config import HandlerConfig, IntakeConfig
from intake.core.errors import StateChangeFailed, StaticMembership
from intake.core.handlers import Handler, HandlerState
from routing.timers import Timer, TimerStore, Verdict, latest_per_handler, resumption
from telephony import actions
from telephony.actions import Action, Response
from telephony.errors import ActionError, ActionFailed, RefusedValue
from telephony.events import MemberState
from telephony.values import PAUSE_REASON

log = structlog.get_logger("intake.handler_actions")


class Wanted(Enum):
    """The states a handler may ask for; ringing, on call and wrap-up are the PBX's to say."""

    READY = "ready"
    NOT_READY = "not-ready"
    LOGGED_OUT = "logged-out"


def plan(wanted: Wanted, reason: str, handler: HandlerConfig, memberships: Mapping[str, MemberState],
         lent: frozenset[str] = frozenset()) -> list[Action]:
    """The actions that take ``handler`` to ``wanted`` given its current queue memberships.

    Only the handler's configured queues, and the ``lent`` queues the routing policy added them
    to, are touched: a supervisor's ad-hoc membership elsewhere is theirs to undo. A lent queue
    follows the handler's state (a handler on a break must not ring for 999 calls) but is never
    joined here: lending is the policy's to decide. Not-ready re-pauses queues already paused so
    the new reason shows.
    """
    m = handler.member
    joined = [q for q in handler.queues if q in memberships] + sorted(q for q in lent if q in memberships and q not in handler.queues)
    missing = [q for q in handler.queues if q not in memberships]
    if wanted is Wanted.LOGGED_OUT:
        return [actions.queue_remove(q, m) for q in joined]
    if wanted is Wanted.READY:
        return ([actions.queue_add(q, m, member_name=handler.id) for q in missing]
                + [actions.queue_pause(m, False, q) for q in joined if memberships[q].paused])
    return ([actions.queue_add(q, m, member_name=handler.id, paused=True, reason=reason) for q in missing]
            + [actions.queue_pause(m, True, q, reason) for q in joined])


def fixed_in(wanted: Wanted, handler: HandlerConfig, memberships: Mapping[str, MemberState],
             lent: frozenset[str] = frozenset()) -> list[str]:
    """The queues ``wanted`` would have to take the handler out of although the PBX's own
    configuration holds them there (queues.conf ``member =>``): Asterisk refuses to remove such a
    member, so a log-out is refused before anything is sent (a half logged-out handler would still
    ring for 999 calls)."""
    if wanted is not Wanted.LOGGED_OUT:
        return []
    return sorted(q for q, s in memberships.items() if s.fixed and (q in handler.queues or q in lent))


MEMBERSHIP_ACTIONS = frozenset({"QueueAdd", "QueueRemove", "QueuePause"})


def contradicts_picture(action: Action) -> bool:
    """Whether the PBX refusing ``action`` says our picture of the queues is not the PBX's.

    :func:`plan` only asks what the picture says will work: add where the member is not, pause or
    remove where it is. So any refusal of one of these (Asterisk's "Interface not found", "Not
    there", "Already there", "No such queue" alike) means the queues changed behind our back. The
    rule needs no error text: the refusal is the evidence."""
    return action.name in MEMBERSHIP_ACTIONS


@dataclass(frozen=True, slots=True)
class WrapUp:
    handler_id: str
    member: str
    queues: tuple[str, ...]
    seconds: float
    reason: str


def wrapup_after(call: CallFacts, handler: Handler | None, seconds: float, wrapup_reason: str) -> WrapUp | None:
    """A wrap-up pause for the handler who answered ``call``, or None when none is due: nobody
    answered, an unconfigured member did, wrap-up is off for the line, or the handler is logged
    out or already not ready (a break they chose outranks wrap-up)."""
    if call.answered_at is None or handler is None or handler.handler_id is None or seconds <= 0:
        return None
    if not handler.memberships:
        return None
    state, _ = handler.state(wrapup_reason)
    if state is HandlerState.NOT_READY:
        return None
    return WrapUp(handler.handler_id, handler.member, tuple(sorted(handler.memberships)), seconds, wrapup_reason)


def wrapup_still_due(handler: Handler, wrapup_reason: str) -> bool:
    """At the end of the timer: unpause only a handler still in wrap-up (not one who went on a
    break or logged out meanwhile)."""
    return handler.state(wrapup_reason)[0] is HandlerState.WRAP_UP


class Sender(Protocol):
    async def send(self, action: Action, timeout: float | None = None) -> Response: ...


class HandlerDesk:
    """Carries out handlers' state requests and wrap-ups against the PBX."""

    def __init__(self, config: IntakeConfig, sender: Sender, handlers: Callable[[str], Handler | None],
                 resync: Callable[[str], object] | None = None, *, timers: TimerStore | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """``handlers(member)`` gives the registry's view of a member (None if unknown);
        ``resync(reason)`` asks for the PBX's picture again when an answer contradicts it;
        ``timers`` keeps wrap-ups where a restart finds them (None: in memory only); ``clock``
        is the wall clock their due times are on (see :mod:`routing.timers`)."""
        self.config = config
        self.sender = sender
        self.handlers = handlers
        self.resync = resync
        self.timers = timers
        self.clock = clock
        self._by_id = {h.id: h for h in config.handlers}
        self._timers: dict[str, tuple[Timer, asyncio.Task[None]]] = {}  # handler id -> running wrap-up
        # handler id -> a wrap-up to resume at the next resync: found in Redis at start, or one
        # whose end could not reach the PBX (the link was down).
        self._pending: dict[str, Timer] = {}
        self._writes: set[asyncio.Task[None]] = set()

    async def request(self, handler_id: str, wanted: Wanted, reason: str = "") -> int:
        """Send what :func:`plan` says; returns how many actions the PBX accepted."""
        handler = self._by_id[handler_id]
        seen = self.handlers(handler.member)
        lent = frozenset(q for q in (seen.memberships if seen else {}) if self.config.line_of(q) is not None)
        fixed = fixed_in(wanted, handler, seen.memberships if seen else {}, lent)
        if fixed:
            log.warning("handler_state_refused_static_member", handler_id=handler_id, wanted=wanted.value, queues=fixed)
            raise StaticMembership(handler_id, wanted.value, handler.member, fixed)
        try:
            todo = plan(wanted, reason or "not ready", handler, seen.memberships if seen else {}, lent)
        except RefusedValue as exc:  # the REST API and the config check reasons first: a bug if seen
            raise StateChangeFailed(handler_id, wanted.value, f"intake would not send it: {exc}", refused=True) from None
        # The handler's own choice ends any wrap-up timer, once the PBX has it: a choice that
        # did not get through leaves the wrap-up to end as it would have.
        wrapup = self._cancel_wrapup(handler_id, forget=False)
        try:
            await self._send_all(handler_id, wanted.value, todo)
        except StateChangeFailed:
            if wrapup is not None:
                self._run(wrapup, max(0.0, wrapup.due - self.clock()), starting=False)
            raise
        if wrapup is not None:
            self._forget(wrapup)
        log.info("handler_state_requested", handler_id=handler_id, wanted=wanted.value, reason=reason, actions=len(todo))
        return len(todo)

    def restore(self, member: str, lost: Mapping[str, MemberState]) -> asyncio.Task[None] | None:
        """Put a configured handler back in the queues a PBX restart dropped them from, paused
        or not and with the reason they had: membership lives in intake (queues.conf:
        persistentmembers = no), so a restart must not silently log every handler out. A static
        member the restart left in its queue but unpaused is paused again with its reason."""
        handler = next((h for h in self.config.handlers if h.member == member), None)
        if handler is None:
            return None
        seen = self.handlers(member)
        present = seen.memberships if seen is not None else {}
        todo = []
        for q, s in sorted(lost.items()):
            # A wrap-up pause is intake's own timer for a call the restart ended: back ready.
            paused = s.paused and s.paused_reason != self.config.wrapup_reason
            # A reason set at the PBX by other means may break our rule: paused all the same, without it.
            reason = s.paused_reason if paused and not PAUSE_REASON.problem(s.paused_reason) else None
            if q not in handler.queues:
                continue
            if q in present:  # a static member, back unpaused: a break must not ring 999 calls
                if paused:
                    todo.append(actions.queue_pause(member, True, q, reason))
            else:
                todo.append(actions.queue_add(q, member, member_name=handler.id, paused=paused or None, reason=reason))
        if not todo:
            return None
        self._cancel_wrapup(handler.id)
        return asyncio.get_running_loop().create_task(self._restore(handler.id, todo))

    async def _restore(self, handler_id: str, todo: list[Action]) -> None:
        try:
            await self._send_all(handler_id, "restored after PBX restart", todo)
            log.info("memberships_restored", handler_id=handler_id, actions=len(todo))
        except StateChangeFailed as exc:
            log.warning("memberships_restore_failed", handler_id=handler_id, detail=exc.detail)

    def call_finished(self, call: CallFacts) -> None:
        """Start wrap-up for the handler who answered ``call``, if one is due."""
        line = self.config.line_of(call.queue)
        handler = self.handlers(call.answered_by) if call.answered_by else None
        wrap = wrapup_after(call, handler, line.wrapup_seconds if line else 0, self.config.wrapup_reason)
        if wrap is None:
            return
        now = self.clock()
        timer = Timer(handler_id=wrap.handler_id, member=wrap.member, queues=wrap.queues, reason=wrap.reason,
                      started=now, due=now + wrap.seconds)
        self._cancel_wrapup(wrap.handler_id)
        self._run(timer, wrap.seconds, starting=True)

    # --- wrap-ups across restarts ----------------------------------------------------------

    async def load_timers(self) -> None:
        """Read the wrap-ups a previous run left in Redis (before the PBX link starts); they are
        resumed by :meth:`resync_completed`, once the PBX's picture says who is still in one."""
        if self.timers is None:
            return
        try:
            found = await self.timers.load()
        except (RedisError, OSError) as exc:
            log.warning("timers_not_loaded", error=repr(exc))
            return
        newest, older = latest_per_handler(found)
        for timer in older:
            self._forget(timer)
        self._pending.update((t.handler_id, t) for t in newest)
        log.info("timers_loaded", wrapups=len(newest), superseded=len(older))

    def resync_completed(self) -> None:
        """The PBX's picture is in: complete the overdue wrap-ups pending (found at start, or
        cut off by a lost link), schedule the running ones for their remaining time, drop those
        the PBX no longer shows."""
        pending, self._pending = self._pending, {}
        now = self.clock()
        for timer in pending.values():
            r = resumption(timer, self.handlers(timer.member), now)
            log.info("wrapup_resumed", handler_id=timer.handler_id, verdict=r.verdict.value, why=r.why, due=timer.due)
            if r.verdict is Verdict.DROP:
                self._forget(timer)
            else:
                self._run(timer, r.remaining, starting=False)

    def _run(self, timer: Timer, delay: float, *, starting: bool) -> None:
        task = asyncio.get_running_loop().create_task(self._wrapup(timer, delay, starting=starting))
        self._timers[timer.handler_id] = (timer, task)

    async def close(self) -> None:
        """Stop the running timers but leave them in Redis: the next start resumes them."""
        for handler_id in list(self._timers):
            self._cancel_wrapup(handler_id, forget=False)
        await asyncio.gather(*self._writes, return_exceptions=True)

    def _cancel_wrapup(self, handler_id: str, *, forget: bool = True) -> Timer | None:
        """Stop the handler's wrap-up (running, or pending a resync); ``forget`` removes it from
        Redis too. Returns it, if there was one."""
        timer = self._pending.pop(handler_id, None)
        running = self._timers.pop(handler_id, None)
        if running is not None:
            timer, task = running
            if task is not asyncio.current_task():
                task.cancel()
        if timer is not None and forget:
            self._forget(timer)
        return timer

    async def _wrapup(self, timer: Timer, delay: float, *, starting: bool) -> None:
        """Pause (when ``starting``), wait ``delay`` seconds, then make the handler ready if they
        are still in wrap-up. The timer stays in Redis until this is done; if the PBX could not
        be reached, it waits for the next resync."""
        with structlog.contextvars.bound_contextvars(handler_id=timer.handler_id):
            try:
                if starting:
                    await self._keeping(self.timers.put(timer) if self.timers else None, "timer_not_kept")
                    await self._send_all(timer.handler_id, "wrap-up",
                                         [actions.queue_pause(timer.member, True, q, timer.reason) for q in timer.queues])
                await asyncio.sleep(delay)
                handler = self.handlers(timer.member)
                if handler is not None and wrapup_still_due(handler, timer.reason):
                    await self._send_all(timer.handler_id, "ready after wrap-up",
                                         [actions.queue_pause(timer.member, False, q) for q in sorted(handler.memberships)])
                self._forget(timer)
            except StateChangeFailed as exc:
                log.warning("wrapup_failed", detail=exc.detail, retried_at_resync=not exc.refused)
                if exc.refused:  # the PBX said no: retrying would be refused too
                    self._forget(timer)
                else:  # unreachable: the next resync (after the reconnect, or a restart) resumes it
                    self._pending[timer.handler_id] = timer
            except RefusedValue as exc:  # a queue the PBX named that we may not name back: retrying would be refused too
                log.error("wrapup_refused", action=exc.action, field=exc.field, why=exc.why)
                self._forget(timer)
            finally:
                running = self._timers.get(timer.handler_id)
                if running is not None and running[1] is asyncio.current_task():
                    del self._timers[timer.handler_id]

    def _forget(self, timer: Timer) -> None:
        """Remove ``timer`` from Redis behind the caller (a desktop's Ready must not wait on it)."""
        if self.timers is None:
            return
        task = asyncio.get_running_loop().create_task(self._keeping(self.timers.remove(timer), "timer_not_removed"))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    @staticmethod
    async def _keeping(write: Awaitable[None] | None, failed: str) -> None:
        """A Redis write of a timer: a failure is logged, and the wrap-up goes on in memory."""
        if write is None:
            return
        try:
            await write
        except (RedisError, OSError) as exc:
            log.warning(failed, error=repr(exc))

    async def _send_all(self, handler_id: str, wanted: str, todo: list[Action]) -> None:
        for action in todo:
            try:
                await self.sender.send(action)
            except ActionFailed as exc:
                detail = f"the PBX refused {action.name}: {exc.message}"
                if contradicts_picture(action) and self.resync is not None:
                    self.resync(f"{action.name} refused for {handler_id}: {exc.message}")
                    detail += " (intake's picture of the queues was out of date and is being read again: try again)"
                raise StateChangeFailed(handler_id, wanted, detail, refused=True) from None
            except ActionError as exc:
                raise StateChangeFailed(handler_id, wanted, f"the PBX could not be reached ({exc})", refused=False) from None
