"""Call-back tasks for abandoned 999 calls: what one is, the pure rules, and where it is kept.

Every abandoned 999 call needs a call-back tracked to an outcome. A task is opened when the
registry settles a 999 call as abandoned; it is offered to one ready 999 handler at a time
(one with a desktop to show it on); the handler starts the call-back (an Originate from their
phone) and records the outcome, which closes it. A new call from the same number while a task
is open closes it too (the caller got through). A task left open past ``escalate_seconds`` is
escalated to supervisors. Tasks live in one Redis hash, so an intake restart finds the open
ones again.

A task whose number cannot be dialled (withheld, ``anonymous``, anything but digits with an
optional +) is opened, offered and escalated like any other: an abandoned 999 call is followed up
whether or not the PBX can ring it back. Only the call-back itself is refused, with the reason on
the handler's card and in the supervisors' list (:func:`undialable`); the handler records what
they did instead as its outcome.

An offer is not a promise: while nobody has started the call-back, a task goes back to be
offered again as soon as its handler can no longer take it (:func:`withdrawals`). A task being
called stays with the handler whose phone is on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from intake.core.handlers import HandlerState
from routing.callback_status import Status
from routing.fenced import Fence
from screenpop.models import NAME_CHARS, CalledBack, ContactRecord, is_history_number

# What a handler files closes the task and goes into the caller's history: one model, kept with
# the history's (screenpop does not import routing).
from screenpop.models import CallbackOutcome as CallbackOutcome  # noqa: PLC0414 - re-exported
from telephony.values import DIALABLE_NUMBER


class CallbackTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str  # the abandoned call's id: one task per abandoned call
    number: str
    queue: str
    abandoned_at: float
    waited_seconds: float
    status: Status = Status.OPEN  # changed by the desk's one step (routing.callback_status)
    offered_to: str | None = None  # handler id whose desktop shows it
    called_at: float | None = None  # when the last call-back was started (the Originate sent)
    escalated: bool = False
    outcome: CallbackOutcome | None = None
    problem: str = ""  # why the last call-back did not go through (shown on the handler's card)
    history: list[str] = []
    # How many of its handler's steps (a start, the PBX's answer to it, an outcome) the task has
    # taken, on whichever node: the version of the handler's part. A copy that has seen fewer is
    # stale (a leader's that never heard of an outcome filed on another node) and never saved
    # over it (CallbackStore.stage).
    handled: int = 0

    def note(self, at: float, what: str) -> None:
        self.history.append(f"{at:.3f} {what}")

    @property
    def call_id(self) -> str:
        """The abandoned call's id, by which a held or dead-lettered save is named."""
        return self.id


@dataclass(frozen=True, slots=True)
class Taker:
    """A handler of the 999 line as the call-back rules see them."""

    handler_id: str
    state: HandlerState
    desktop: bool  # a desktop of theirs is connected, or was within the grace for a reload


AWAY = {HandlerState.NOT_READY: "went not ready", HandlerState.LOGGED_OUT: "logged out"}
"""States in which a handler gives back the call-backs offered to them (wrap-up and a queue call
do not: they are back in a moment, and the card waits for them)."""

FAILED_ORIGINATE = {
    0: "your phone could not be reached",
    1: "your phone hung up",
    3: "your phone was not answered",
    5: "your phone is busy",
    8: "the PBX is congested",
}
"""OriginateResponse ``Reason`` (the last control frame Asterisk saw on the originated channel)
in the handler's words."""


def ready(takers: list[Taker]) -> list[str]:
    """Handlers a task may be offered to, in the order given: ready, with a desktop to show it."""
    return [t.handler_id for t in takers if t.state is HandlerState.READY and t.desktop]


def to_offer(tasks: list[CallbackTask], ready: list[str], busy_with: dict[str, str]) -> list[tuple[CallbackTask, str]]:
    """Oldest unoffered open tasks paired with ready handlers (in the order given) who are not
    already offered a task: one call-back on a desktop at a time."""
    free = [h for h in ready if h not in busy_with.values()]
    waiting = sorted((t for t in tasks if t.status is Status.OPEN and t.offered_to is None), key=lambda t: t.abandoned_at)
    return list(zip(waiting, free))


def withdrawals(tasks: list[CallbackTask], takers: list[Taker]) -> list[tuple[CallbackTask, str]]:
    """Offered tasks nobody has started whose handler can no longer take them, with why: they go
    back to be offered again. A task being called is never withdrawn."""
    by_id = {t.handler_id: t for t in takers}
    out = []
    for task in tasks:
        if task.status is Status.OPEN and task.offered_to is not None:
            why = _cannot_take(by_id.get(task.offered_to))
            if why:
                out.append((task, why))
    return out


def _cannot_take(taker: Taker | None) -> str:
    if taker is None:
        return "no longer works the 999 line"
    if taker.state in AWAY:
        return AWAY[taker.state]
    return "" if taker.desktop else "desktop disconnected"


def escalations(tasks: list[CallbackTask], now: float, escalate_seconds: float) -> list[CallbackTask]:
    """Open tasks unresolved for ``escalate_seconds`` and not yet escalated."""
    return [t for t in tasks if t.status is not Status.CLOSED and not t.escalated and now - t.abandoned_at >= escalate_seconds]


def linked(tasks: list[CallbackTask], number: str) -> list[CallbackTask]:
    """Open tasks a new call from ``number`` resolves. A number that cannot be dialled (withheld,
    ``anonymous``) says nothing of who is calling: another withheld caller must not close the task."""
    if undialable(number):
        return []
    return [t for t in tasks if t.status is not Status.CLOSED and t.number == number]


def undialable(number: str) -> str:
    """Why ``number`` cannot be called back, as "it ..." would finish it; "" when it can."""
    return DIALABLE_NUMBER.problem(number)


def history_entry(task: CallbackTask, handler_id: str, handler_name: str, now: float) -> ContactRecord | None:
    """The caller's history entry for a task closed by its outcome: "called back" at the time the
    call-back was started (when it was filed, if it never was), by whom, with what came of it.
    None when there is no number to file it under (a withheld caller)."""
    if task.outcome is None or not is_history_number(task.number):
        return None
    at = task.called_at if task.called_at is not None else now
    # line "999": only abandoned 999 calls become call-back tasks.
    return ContactRecord(
        call_id=f"callback:{task.id}", number=task.number, at=at, line="999", queue=task.queue,
        handler_id=handler_id, waited_seconds=round(max(0.0, at - task.abandoned_at), 3), disposition="called back",
        callback=CalledBack(task_id=task.id, handler_name=handler_name[:NAME_CHARS], outcome=task.outcome),
    )


def originate_failure(reason: int) -> str:
    return FAILED_ORIGINATE.get(reason, f"the PBX could not connect your phone (reason {reason})")


SAVE_TASK = """
-- KEYS[1]: the site's epoch, KEYS[2]: the tasks' hash
-- ARGV[1]: the writer's fencing token ('' for a handler's step, saved by whichever node it was on)
-- ARGV[2]: the task's id, ARGV[3]: the task (JSON), ARGV[4]: how many handler's steps it has taken
if ARGV[1] ~= '' then
  local current = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tonumber(ARGV[1]) < current then
    return redis.error_reply('FENCED ' .. ARGV[1] .. ' ' .. current)
  end
end
local stored = redis.call('HGET', KEYS[2], ARGV[2])
if stored then
  local ok, task = pcall(cjson.decode, stored)
  local seen = 0
  if ok and type(task) == 'table' then
    seen = tonumber(task['handled'] or 0) or 0
  end
  if seen > tonumber(ARGV[4]) then
    return redis.error_reply('STALE task ' .. ARGV[2] .. ' has seen ' .. ARGV[4] .. ' of its handler steps, Redis ' .. seen)
  end
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return 1
"""
"""A task's save with several nodes: fenced when the leader makes it, and refused when the task
in Redis has taken more of its handler's steps than the copy saved (``handled``): the handler's
word, filed on any node, is never overwritten by a copy that has not heard of it. Refused saves
are dead-lettered and logged by the write-behind, as a deposed leader's are."""


class CallbackStore:
    """Tasks in one Redis hash (task id -> JSON); a closed task is kept for the audit trail."""

    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, redis: Any, prefix: str, fence: Fence | None = None) -> None:
        self.redis, self.key, self.fence = redis, f"{prefix}callbacks", fence

    async def save(self, task: CallbackTask) -> None:
        """Write ``task`` now (seeding a store; the desk's saves go through the write-behind, :meth:`stage`)."""
        await self.redis.hset(self.key, task.id, task.model_dump_json())

    # Any: a redis pipeline, sync or async (redis-py types them apart; the core may not import redis at all)
    def stage(self, task: CallbackTask, pipe: Any, token: int | None = None) -> None:
        """Queue ``task``'s save on ``pipe`` (the write-behind's). With several nodes (a fence):
        with ``token``, fenced: Redis refuses it (the write-behind dead-letters and logs it) if
        the site has a newer leader; with or without, refused if stale (:data:`SAVE_TASK`). A
        lone node is the only writer: a plain write."""
        if self.fence is None:
            pipe.hset(self.key, task.id, task.model_dump_json())
        else:
            pipe.eval(SAVE_TASK, 2, self.fence.epoch, self.key, "" if token is None else token, task.id,
                      task.model_dump_json(), task.handled)

    async def load(self, task_id: str) -> CallbackTask | None:
        """One task as Redis has it (None: not there, or unreadable: reported like :meth:`load_open`)."""
        raw = await self.redis.hget(self.key, task_id)
        return None if raw is None else self._read(task_id, raw)

    async def load_many(self, task_ids: list[str]) -> list[CallbackTask]:
        """Those of ``task_ids`` Redis has (and this version can read), in one round trip."""
        found = zip(task_ids, await self.redis.hmget(self.key, task_ids), strict=True)
        return [task for task_id, raw in found if raw is not None and (task := self._read(task_id, raw)) is not None]

    async def ids(self) -> set[str]:
        """Every task's id, closed ones included."""
        return {i.decode() if isinstance(i, bytes) else str(i) for i in await self.redis.hkeys(self.key)}

    async def load_open(self) -> list[CallbackTask]:
        """The open tasks. A record this version cannot read (written by a newer one, or damaged)
        is left in Redis untouched and reported: one bad record must not keep intake from starting."""
        tasks = [self._read(task_id, raw) for task_id, raw in (await self.redis.hgetall(self.key)).items()]
        return [t for t in tasks if t is not None and t.status is not Status.CLOSED]

    def _read(self, task_id: object, raw: bytes | str) -> CallbackTask | None:
        """A stored task; one this version cannot read is left in Redis untouched and reported."""
        try:
            return CallbackTask.model_validate_json(raw)
        except ValidationError as exc:
            structlog.get_logger("routing.callbacks").error(
                "callback record unreadable, left in Redis", task_id=task_id, problems=exc.error_count(),
                first=exc.errors()[0]["msg"], key=self.key)
            return None
