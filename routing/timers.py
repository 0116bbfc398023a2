"""Durable timers: pending actions of ours that must outlive the process (the end of a wrap-up).

A wrap-up pause is intake's own doing: the PBX would keep the handler paused "wrap-up" for good
if the timer that ends it died with the process. So each timer is written to Redis when it
starts and removed when it completes or is cancelled; a restarted intake (or, later, another
node) finds it there and resumes it once the first resync has given the PBX's picture.

Clock: **wall clock** (``time.time()``, epoch seconds) throughout, for ``started`` and ``due``.
A timer must mean the same moment to a process started later, and the PBX clock is only known
once events flow; the running process still sleeps on the loop's monotonic clock for the
remaining seconds, so a wall-clock step moves only a timer resumed after a restart.

With several nodes, only the site's leader writes timers, each write carrying the fencing token
it was decided under (:mod:`routing.fenced`): a deposed leader's late put or remove is refused
with :class:`~routing.errors.Fenced`, not applied. When replicas must hold what is written
(``[redis] wait_for_replicas``, 1 with Sentinel), a put or remove returns only once a replica
holds it (WAIT, on a connection of the store's own), like the records: a timer acknowledged
before the wrap-up's pause is sent survives the primary's death; else it raises
:class:`~routing.errors.TimerNotReplicated` (the wrap-up goes on in memory).

Key layout: ``{prefix}timers`` is a sorted set, score = due, member = the timer's JSON (it names
the handler, member, queues and reason, so a bare ZRANGEBYSCORE tells a node what to do).

:func:`resumption` is pure: (timer, the handler as the PBX shows them, now) -> what to do.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Protocol

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from intake.core.handlers import Handler, HandlerState
from routing.errors import TimerNotReplicated
from routing.fenced import Fence
from routing.handler_rules import wrapup_holds

log = structlog.get_logger("intake.timers")


class Timer(BaseModel):
    """A wrap-up pause to end at ``due``: unpause ``member`` then (if still in wrap-up)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: Literal["wrap-up"] = "wrap-up"
    handler_id: str
    member: str
    queues: tuple[str, ...]
    reason: str
    started: float
    due: float
    then_paused: str | None = None  # set: not ready with this reason at the end, not ready (routing.handler_rules.WrapUp)

    @property
    def seconds(self) -> float:
        return self.due - self.started


class Verdict(Enum):
    COMPLETE_NOW = "complete-now"  # overdue, and the PBX still shows the wrap-up pause
    SCHEDULE = "schedule"  # still running: sleep for what is left
    DROP = "drop"  # the PBX no longer shows the wrap-up (a break, Ready, logged out, a newer timer)


@dataclass(frozen=True, slots=True)
class Resumption:
    timer: Timer
    verdict: Verdict
    remaining: float = 0.0
    why: str = ""
    pause: tuple[str, ...] = ()  # SCHEDULE: the timer's queues its pause did not reach, to pause now


def resumption(timer: Timer, handler: Handler | None, now: float) -> Resumption:
    """What a restarted intake does with ``timer`` given the PBX's picture of its handler.

    Only a handler the PBX still shows paused with the wrap-up's reason (in any queue:
    :func:`~routing.handler_rules.wrapup_holds`) is unpaused: one who chose a state meanwhile (at
    the phone, or another node) keeps it. A pause cut off part way (killed between two queues'
    QueuePause) is a wrap-up all the same: completed when overdue, else finished (the rest of
    its queues paused) and scheduled.
    """
    held = wrapup_holds(handler, timer.reason, timer.then_paused)
    if not held:
        shown = handler.shown_by_pbx(timer.reason)[0].value if handler is not None else "unknown"
        return Resumption(timer, Verdict.DROP, why=f"the PBX shows the handler {shown}, not in wrap-up")
    if timer.due <= now:
        return Resumption(timer, Verdict.COMPLETE_NOW, why=f"overdue by {now - timer.due:.1f} s")
    member_of = handler.memberships if handler is not None else {}
    rest = tuple(q for q in timer.queues if q in member_of and q not in held)
    return Resumption(timer, Verdict.SCHEDULE, remaining=timer.due - now, pause=rest,
                      why=f"{timer.due - now:.1f} s left" + (f", its pause cut off before {', '.join(rest)}" if rest else ""))


def left_unstarted(timer: Timer, handler: Handler | None, now: float) -> float | None:
    """A wrap-up this node saw due while it followed, that no leader started (none kept it in
    Redis): the seconds it still has to run, if the PBX shows the handler ready (a handler
    already paused, on a call or gone keeps what they have); else None. A call that finished
    during a takeover still gets the rest of its wrap-up."""
    if timer.due <= now or handler is None or handler.shown_by_pbx(timer.reason)[0] is not HandlerState.READY:
        return None
    return timer.due - now


def latest_per_handler(timers: list[Timer]) -> tuple[list[Timer], list[Timer]]:
    """(the newest timer of each handler, the older ones): a handler has one wrap-up at a time,
    and an older one left behind (its removal failed) must not end a newer wrap-up early."""
    newest: dict[str, Timer] = {}
    for t in sorted(timers, key=lambda t: t.started):
        newest[t.handler_id] = t
    keep = set(map(id, newest.values()))
    return list(newest.values()), [t for t in timers if id(t) not in keep]


class Replication(Protocol):
    """WAIT after a write on one connection (intake.app.replicas.Replicas): the routing layer
    knows only this much of it."""

    count: int

    # Any: a redis.asyncio pipeline of a one-connection client
    async def pin(self, pipe: Any) -> None: ...

    async def hold(self) -> bool: ...


@dataclass(slots=True)
class _Write:
    timer: Timer
    due: float | None  # None: remove
    token: int | None = None  # the fencing token it was decided under; None: unfenced
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class TimerStore:
    """The timers in Redis. Every call may raise the client's errors: the caller decides.

    Puts and removes go to Redis in one pipeline per burst (a busy hour finishes a call every
    few tens of milliseconds, each a put and a remove: as commands of their own they were a sixth
    of the server's CPU and as many round trips competing with the pops' lookups for the pool).
    Each still returns only once Redis has answered its own command, so a put awaited before the
    pause is sent is in Redis before the PBX pauses anyone, as before: kill -9 at any moment
    leaves the timer for the next start. One pipeline at a time, in the order asked: a timer's
    remove never overtakes its put.

    ``replicated``: with replicas to wait for, a client of the store's own on one connection
    (intake.app.connections.replicated_client) and its WAIT: the writes go over it, each
    pipeline followed by WAIT; reads stay on ``redis``."""

    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, redis: Any, prefix: str = "intake:", fence: Fence | None = None,
                 replicated: tuple[Any, Replication] | None = None) -> None:
        self.redis = redis
        self.key = f"{prefix}timers"
        self.fence = fence
        self.writer: Any = redis  # Any: as ``redis``
        self.replicas: Replication | None = None
        if replicated is not None:
            self.writer, self.replicas = replicated
        self._queued: list[_Write] = []  # asked for while a pipeline is in flight: the next one
        self._writer: asyncio.Task[None] | None = None

    async def put(self, timer: Timer, token: int | None = None) -> None:
        """Raises :class:`~routing.errors.Fenced` when ``token`` is no longer the site's."""
        await self._write(_Write(timer, timer.due, token))

    async def remove(self, timer: Timer, token: int | None = None) -> None:
        await self._write(_Write(timer, None, token))

    async def _write(self, write: _Write) -> None:
        self._queued.append(write)
        if self._writer is None:
            # Starts after everything already due on the loop: the burst's other writes join this pipeline.
            self._writer = asyncio.get_running_loop().create_task(self._pipelines())
        await write.done

    async def _pipelines(self) -> None:
        batch: list[_Write] = []
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    results = await self._pipeline(batch)
                except Exception as exc:  # noqa: BLE001 - each waiter gets it: the caller decides, as with a command of its own
                    results = [exc] * len(batch)
                for w, result in zip(batch, results, strict=True):
                    if w.done.done():
                        continue  # its waiter gave up (cancelled); the write went all the same
                    if isinstance(result, BaseException):
                        refused = self.fence.refusal(result) if self.fence is not None else None
                        w.done.set_exception(refused or result)
                    else:
                        w.done.set_result(None)
                batch = []
        finally:
            self._writer = None
            for w in batch + self._queued:  # stopped mid-write (the loop closing): nobody is left waiting
                w.done.cancel()
            self._queued = []

    async def _pipeline(self, batch: list[_Write]) -> list[object]:
        """One pipeline of ``batch``'s writes: each one's result (an exception for a refused one)."""
        pipe = self.writer.pipeline(transaction=False)
        if self.replicas is not None:
            await self.replicas.pin(pipe)
        for w in batch:
            member = w.timer.model_dump_json()
            if w.token is not None and self.fence is not None:
                self.fence.stage(pipe, w.token, *(("zrem", self.key, member) if w.due is None
                                                  else ("zadd", self.key, w.due, member)))
            elif w.due is None:
                pipe.zrem(self.key, member)
            else:
                pipe.zadd(self.key, {member: w.due})
        results: list[object] = await pipe.execute(raise_on_error=False)
        if self.replicas is None or all(isinstance(r, BaseException) for r in results) or await self.replicas.hold():
            return results
        return [r if isinstance(r, BaseException) else
                TimerNotReplicated("remove" if w.due is None else "put", w.timer.handler_id, self.replicas.count)
                for w, r in zip(batch, results, strict=True)]

    async def close(self) -> None:
        """The store's own client for WAIT, if it has one (not the one it was given)."""
        if self.writer is not self.redis:
            await self.writer.aclose()

    async def load(self) -> list[Timer]:
        """Every stored timer; one that cannot be read is logged and removed (it would otherwise
        be read again at every start)."""
        timers = []
        for raw in await self.redis.zrange(self.key, 0, -1):
            try:
                timers.append(Timer.model_validate_json(raw))
            except ValidationError as exc:
                log.warning("timer_unreadable", raw=raw[:200], error=str(exc).splitlines()[0])
                await self.redis.zrem(self.key, raw)
        return timers
