"""Handler states the desktop asks for, turned into AMI actions; and wrap-up after a call.

The decisions are pure, in :mod:`routing.handler_rules`: :func:`plan` says which QueueAdd /
QueueRemove / QueuePause actions take a handler from what the PBX last reported to the state they
asked for, on the queues their configuration names; :func:`wrapup_after` says whether a finished
call starts a wrap-up pause. :class:`HandlerDesk` is the edge: it hands the actions to a
:class:`~routing.executor.Executor`, judges what came of them (data, not exceptions), and runs
the wrap-up timers — pause, wait on the loop's clock, unpause if still due — each kept in Redis
while it runs (:mod:`routing.timers`) so that a restart resumes it. The PBX stays the source of truth: the registry learns the new state from the PBX's
own QueueMember* events, never from what we asked for.

With several nodes, a wrap-up (its pause, its timer, its end) and the restore of memberships
after a PBX restart are the site leader's to carry out (:class:`~intake.core.leadership.Gate`);
a follower keeps the same picture and leaves the timers in Redis for whoever leads. A handler's
own request is carried out by the node their desktop is on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial

import structlog
from redis.exceptions import RedisError

from intake.core.config import HandlerConfig, IntakeConfig
from intake.core.errors import NoPhone, StateChangeFailed, StaticMembership
from intake.core.handlers import Handler
from intake.core.leadership import ALONE, Gate
from intake.core.seating import Seating, seating_of
from routing.errors import Fenced, TimerNotReplicated
from routing.executor import ActionResult, Executor, Sender, Sent
from routing.handler_rules import (
    FinishedCall,
    Wanted,
    contradicts_picture,
    failure_of,
    fixed_in,
    plan,
    restoring,
    wrapup_after,
    wrapup_holds,
    wrapup_still_due,
)
from routing.timers import (
    Timer,
    TimerStore,
    Verdict,
    latest_per_handler,
    left_unstarted,
    resumption,
)
from telephony import actions
from telephony.actions import Action
from telephony.errors import RefusedValue
from telephony.events import MemberState

# Where the rules were before they moved to routing.handler_rules: the REST edge, the replay and
# the steering name them here.
__all__ = ["HandlerDesk", "Running", "Wanted", "contradicts_picture", "plan", "wrapup_after", "wrapup_still_due"]

log = structlog.get_logger("intake.handler_actions")


@dataclass(slots=True)
class Running:
    """A wrap-up under way: its timer, and what is doing it now (the pause or unpause being
    sent, or the wait for its end), so that a handler's own choice can stop it."""

    timer: Timer
    now_doing: asyncio.Task[None] | asyncio.TimerHandle | None = None


class HandlerDesk:
    """Carries out handlers' state requests and wrap-ups against the PBX."""

    def __init__(self, config: IntakeConfig, sender: Sender, handlers: Callable[[str], Handler | None],
                 resync: Callable[[str], object] | None = None, *, timers: TimerStore | None = None,
                 clock: Callable[[], float] = time.time, gate: Gate = ALONE, seats: Seating | None = None,
                 called_off: Callable[[str, str], object] = lambda member, why: None) -> None:
        """``handlers(member)`` gives the registry's view of a member (None if unknown);
        ``resync(reason)`` asks for the PBX's picture again when an answer contradicts it;
        ``timers`` keeps wrap-ups where a restart finds them (None: in memory only); ``clock``
        is the wall clock their due times are on (see :mod:`routing.timers`); ``gate`` says
        whether this node leads the handlers' site; ``seats``: who sits at which phone, as the
        registry learns it from the PBX (default: the fixed phones only); ``called_off(member,
        why)`` tells the registry that the wrap-up it shows due from a call's end will not come
        (its pause failed, or the handler chose a state first: intake.core.handlers.WrapUpCalledOff)."""
        self.called_off = called_off
        self.gate = gate
        self.config = config
        self.executor = Executor(sender)
        self.handlers = handlers
        self.resync = resync
        self.timers = timers
        self.clock = clock
        self._by_id = {h.id: h for h in config.handlers}
        self.seats = seats or seating_of(config)
        self._timers: dict[str, Running] = {}  # handler id -> running wrap-up
        # handler id -> a wrap-up to resume at the next resync: found in Redis at start, or one
        # whose end could not reach the PBX (the link was down).
        self._pending: dict[str, Timer] = {}
        # handler id -> the newest wrap-up this node saw due while it followed: the leader's to
        # start; should it never have (it died first), this node starts the rest once it leads.
        self._followed: dict[str, Timer] = {}

    def at_phone(self, handler_id: str, wanted: str, member: str | None = None) -> tuple[HandlerConfig, str]:
        """``handler_id``'s configuration with the phone they are at now (``member``: the one they
        are signing in at), and that phone; NoPhone (for ``wanted``) when they are at none."""
        handler = self._by_id[handler_id]
        member = member or self.seats.member_of(handler_id) or handler.member
        if member is None:
            raise NoPhone(handler_id, wanted)
        return (handler if member == handler.member else handler.model_copy(update={"member": member})), member

    async def request(self, handler_id: str, wanted: Wanted, reason: str = "", *, member: str | None = None) -> int:
        """Send what :func:`plan` says for the handler at their phone (``member``: at the
        position they are signing in at); returns how many actions the PBX accepted."""
        handler, phone = self.at_phone(handler_id, wanted.value, member)
        seen = self.handlers(phone)
        lent = frozenset(q for q in (seen.memberships if seen else {}) if self.config.line_of(q) is not None)
        fixed = fixed_in(wanted, handler, seen.memberships if seen else {}, lent)
        if fixed:
            log.warning("handler_state_refused_static_member", handler_id=handler_id, wanted=wanted.value, queues=fixed)
            raise StaticMembership(handler_id, wanted.value, phone, fixed)
        try:
            todo = plan(wanted, reason or "not ready", handler, seen.memberships if seen else {}, lent)
        except RefusedValue as exc:  # the REST API and the config check reasons first: a bug if seen
            raise StateChangeFailed(handler_id, wanted.value, f"intake would not send it: {exc}", refused=True) from None
        # The handler's own choice ends any wrap-up timer, once the PBX has it: a choice that
        # did not get through leaves the wrap-up to end as it would have.
        wrapup = self._cancel_wrapup(handler_id, forget=False)
        failed = self._judged(handler_id, wanted.value, await self.executor.send_all(todo))
        if failed is not None:
            if wrapup is not None:
                self._run(wrapup, max(0.0, wrapup.due - self.clock()))
            raise failed
        if wrapup is not None:
            self._forget(wrapup)
        # Whatever this node knew of a wrap-up: the choice outranks one shown due, and one that
        # changed nothing at the PBX (Ready with nothing paused) brings no member event to say so.
        self.called_off(phone, f"{wanted.value} chosen")
        log.info("handler_state_requested", handler_id=handler_id, wanted=wanted.value, reason=reason, actions=len(todo))
        return len(todo)

    def restore(self, member: str, lost: Mapping[str, MemberState]) -> asyncio.Task[None] | None:
        """Put a configured handler back in the queues a PBX restart dropped them from, paused
        or not and with the reason they had: membership lives in intake (queues.conf:
        persistentmembers = no), so a restart must not silently log every handler out. A static
        member the restart left in its queue but unpaused is paused again with its reason."""
        # Whose phone it was: the fixed phone's handler, or the one the lost memberships name
        # (a position: the PBX restart took who sat there with it).
        handler_id = self.seats.handler_of(member) or next(
            (s.member_name for s in lost.values() if s.member_name in self._by_id and self._by_id[s.member_name].member is None),
            None)
        if handler_id is None or not self.gate.acts():
            return None
        handler, _ = self.at_phone(handler_id, "restored after PBX restart", member)
        seen = self.handlers(member)
        todo = restoring(handler, lost, seen.memberships if seen is not None else {}, self.config.wrapup_reason)
        if not todo:
            return None
        self._cancel_wrapup(handler.id)
        return self.executor.spawn(self._restore(handler.id, todo))

    async def _restore(self, handler_id: str, todo: list[Action]) -> None:
        failed = self._judged(handler_id, "restored after PBX restart", await self.executor.send_all(todo))
        if failed is None:
            log.info("memberships_restored", handler_id=handler_id, actions=len(todo))
        else:
            log.warning("memberships_restore_failed", handler_id=handler_id, detail=failed.detail)

    def call_finished(self, call: FinishedCall) -> None:
        """Start wrap-up for the handler who answered ``call``, if one is due."""
        line = self.config.line_of(call.queue)
        handler = self.handlers(call.answered_by) if call.answered_by else None
        wrap = wrapup_after(call, handler, line.wrapup_seconds if line else 0, self.config.wrapup_reason)
        if wrap is None:
            return
        now = self.clock()
        timer = Timer(handler_id=wrap.handler_id, member=wrap.member, queues=wrap.queues, reason=wrap.reason,
                      started=now, due=now + wrap.seconds, then_paused=wrap.then_paused)
        if not self.gate.acts():
            self._followed = {h: t for h, t in self._followed.items() if t.due > now} | {wrap.handler_id: timer}
            return
        self._cancel_wrapup(wrap.handler_id)
        self._run(timer, wrap.seconds, pause=timer.queues)

    def not_ready_after_wrapup(self, handler_id: str) -> str | None:
        """The reason ``handler_id`` goes not ready with when their wrap-up ends (Not ready
        pressed during the call), as the timer running it, pending or followed here says; None:
        ready then, or no wrap-up known to this node."""
        running = self._timers.get(handler_id)
        timer = running.timer if running is not None else self._pending.get(handler_id) or self._followed.get(handler_id)
        return timer.then_paused if timer is not None else None

    @property
    def running_wrapups(self) -> frozenset[str]:
        """The handlers whose wrap-up this node is running now (its pause, wait or end)."""
        return frozenset(self._timers)

    # --- wrap-ups across restarts ----------------------------------------------------------

    async def load_timers(self) -> bool:
        """Read the wrap-ups a previous run (or the site's last leader) left in Redis; they are
        resumed by :meth:`resync_completed`, once the PBX's picture says who is still in one.
        False when Redis could not be read."""
        if self.timers is None:
            return True
        try:
            found = await self.timers.load()
        except (RedisError, OSError) as exc:
            log.warning("timers_not_loaded", error=repr(exc))
            return False
        newest, older = latest_per_handler(found)
        for timer in older:
            self._forget(timer)
        self._pending.update((t.handler_id, t) for t in newest)
        log.info("timers_loaded", wrapups=len(newest), superseded=len(older))
        return True

    def resync_completed(self) -> None:
        """The PBX's picture is in: complete the overdue wrap-ups pending (found at start, or
        cut off by a lost link), schedule the running ones for their remaining time, drop those
        the PBX no longer shows. A follower keeps them pending: the leader resumes them."""
        if not self.gate.acts():
            return
        pending, self._pending = self._pending, {}
        now = self.clock()
        for timer in pending.values():
            r = resumption(timer, self.handlers(timer.member), now)
            log.info("wrapup_resumed", handler_id=timer.handler_id, verdict=r.verdict.value, why=r.why, due=timer.due)
            if r.verdict is Verdict.DROP:
                self._forget(timer)
            else:
                self._run(timer, r.remaining, pause=r.pause)
        followed, self._followed = self._followed, {}
        for timer in followed.values():
            if timer.handler_id in pending or timer.handler_id in self._timers:
                continue  # the last leader started it: it was in Redis
            remaining = left_unstarted(timer, self.handlers(timer.member), now)
            if remaining is not None:
                log.info("wrapup_started_late", handler_id=timer.handler_id, remaining=round(remaining, 1), due=timer.due)
                self._run(timer, remaining, pause=timer.queues)

    async def close(self) -> None:
        """Stop the running timers but leave them in Redis: the next start resumes them."""
        for handler_id in list(self._timers):
            self._cancel_wrapup(handler_id, forget=False)
        await self.executor.close()

    # --- a wrap-up's life: pause, wait, unpause if still due --------------------------------

    def _run(self, timer: Timer, delay: float, *, pause: tuple[str, ...] = ()) -> None:
        """Pause the handler in ``pause`` (a wrap-up starting: all its queues; one resumed: those
        its pause did not reach), wait ``delay`` seconds, then make the handler ready if they
        are still in wrap-up. The timer stays in Redis until this is done; if the PBX could not
        be reached, it waits for the next resync."""
        earlier = self._timers.get(timer.handler_id)
        if earlier is not None:
            self._stop(earlier)  # one wrap-up per handler (a node leading again resumes it from Redis)
        running = self._timers[timer.handler_id] = Running(timer)
        if pause:
            running.now_doing = self.executor.spawn(self._pausing(running, delay, pause))
        else:
            self._wait(running, delay)

    async def _pausing(self, running: Running, delay: float, queues: tuple[str, ...]) -> None:
        timer = running.timer
        try:
            # In Redis before the first QueuePause (a resumed timer is there already: the same member again).
            await self._keeping(self.timers.put(timer, self.gate.token()) if self.timers else None, "timer_not_kept")
        except Fenced as exc:  # deposed since the call finished: the new leader has the picture, not us
            log.warning("wrapup_fenced", handler_id=timer.handler_id, token=exc.token, current=exc.current)
            self._finish(running, forget=False)
            self.called_off(timer.member, "deposed before its pause")
            return
        pauses = self._queue_pauses(running, True, queues)
        if pauses is not None:
            self._step_done(running, "wrap-up", await self.executor.send_all(pauses), then_wait=delay)

    def _wait(self, running: Running, delay: float) -> None:
        running.now_doing = self.executor.later(delay, partial(self._due, running))

    def _due(self, running: Running) -> None:
        """The wrap-up's time is up: unpause a handler still in it, else just forget it."""
        timer, handler = running.timer, self.handlers(running.timer.member)
        if not self.gate.acts():  # deposed meanwhile: the timer stays in Redis for the leader
            log.info("wrapup_left_to_leader", handler_id=timer.handler_id, due=timer.due)
            self._finish(running, forget=False)
            return
        if (left := timer.due - self.clock()) > 0:
            # The loop waits on its monotonic clock, the timer is due on the wall clock (the one a
            # restarted intake and the PBX's timestamps share): never end a wrap-up before it is due.
            self._wait(running, left)
            return
        held = wrapup_holds(handler, timer.reason, timer.then_paused)  # queue by queue: a pause cut off part way still ends
        if not held:
            self._finish(running, forget=True)
            return
        # Not ready pressed during the call: paused with their reason, not made ready.
        then = timer.then_paused
        ending = self._queue_pauses(running, then is not None, held, then)
        if ending is not None:
            running.now_doing = self.executor.spawn(self._ending(running, ending))

    def _queue_pauses(self, running: Running, paused: bool, queues: Iterable[str], reason: str | None = None) -> list[Action] | None:
        """The wrap-up's QueuePause (or unpause) on ``queues``, paused with ``reason`` (default:
        the wrap-up's); None when one may not be sent."""
        timer = running.timer
        try:
            return [actions.queue_pause(timer.member, paused, q, (reason or timer.reason) if paused else None) for q in queues]
        except RefusedValue as exc:  # a queue the PBX named that we may not name back: retrying would be refused too
            log.error("wrapup_refused", handler_id=timer.handler_id, action=exc.action, field=exc.field, why=exc.why)
            self._finish(running, forget=True)
            if paused:
                self.called_off(timer.member, "its pause would be refused")
            return None

    async def _ending(self, running: Running, ending: list[Action]) -> None:
        wanted = "ready after wrap-up" if running.timer.then_paused is None else "not ready after wrap-up"
        self._step_done(running, wanted, await self.executor.send_all(ending), then_wait=None)

    def _step_done(self, running: Running, wanted: str, results: list[ActionResult], *, then_wait: float | None) -> None:
        """What the PBX made of a wrap-up's pause (``then_wait``: its length) or of its end."""
        failed = self._judged(running.timer.handler_id, wanted, results)
        if failed is not None:
            log.warning("wrapup_failed", handler_id=running.timer.handler_id, detail=failed.detail,
                        retried_at_resync=not failed.refused)
            if failed.refused:  # the PBX said no: retrying would be refused too
                self._finish(running, forget=True)
            else:  # unreachable: the next resync (after the reconnect, or a restart) resumes it
                self._finish(running, forget=False)
                self._pending[running.timer.handler_id] = running.timer
            if then_wait is not None:  # its pause: what reached the PBX shows, the rest will not come now
                self.called_off(running.timer.member, f"its pause failed: {failed.detail}")
        elif then_wait is not None:
            self._wait(running, then_wait)
        else:
            self._finish(running, forget=True)

    def _finish(self, running: Running, *, forget: bool) -> None:
        if self._timers.get(running.timer.handler_id) is running:
            del self._timers[running.timer.handler_id]
        if forget:
            self._forget(running.timer)

    def _cancel_wrapup(self, handler_id: str, *, forget: bool = True) -> Timer | None:
        """Stop the handler's wrap-up (running, or pending a resync); ``forget`` removes it from
        Redis too. Returns it, if there was one."""
        timer = self._pending.pop(handler_id, None)
        running = self._timers.pop(handler_id, None)
        if running is not None:
            timer = running.timer
            self._stop(running)
        if timer is not None and forget:
            self._forget(timer)
        return timer

    @staticmethod
    def _stop(running: Running) -> None:
        """Stop what ``running`` is doing (unless it is the caller itself)."""
        if running.now_doing is not None and running.now_doing is not asyncio.current_task():
            running.now_doing.cancel()

    def _forget(self, timer: Timer) -> None:
        """Remove ``timer`` from Redis behind the caller (a desktop's Ready must not wait on it).
        Only the leader removes one: a follower's picture may lag the leader's timers."""
        if self.timers is not None and self.gate.holds():
            self.executor.spawn(self._forgetting(self.timers, timer, self.gate.token()))

    async def _forgetting(self, timers: TimerStore, timer: Timer, token: int | None) -> None:
        try:
            await self._keeping(timers.remove(timer, token), "timer_not_removed")
        except Fenced as exc:
            log.warning("timer_removal_fenced", handler_id=timer.handler_id, token=exc.token, current=exc.current)

    @staticmethod
    async def _keeping(write: Awaitable[None] | None, failed: str) -> None:
        """A Redis write of a timer: a failure is logged, and the wrap-up goes on in memory."""
        if write is None:
            return
        try:
            await write
        except (RedisError, OSError, TimerNotReplicated) as exc:
            log.warning(failed, error=repr(exc))

    def _judged(self, handler_id: str, wanted: str, results: list[ActionResult]) -> StateChangeFailed | None:
        """:func:`failure_of` the results; a refusal that says our picture of the queues is not
        the PBX's asks for the PBX's picture again."""
        failed = failure_of(handler_id, wanted, results)
        last = results[-1] if results else None
        if failed is not None and last is not None and last.sent is Sent.REFUSED and contradicts_picture(last.action) \
                and self.resync is not None:
            self.resync(f"{last.action.name} refused for {handler_id}: {last.detail}")
        return failed
