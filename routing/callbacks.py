"""Call-back tasks for abandoned 999 calls: what one is, the pure rules, and where it is kept.

Every abandoned 999 call needs a call-back tracked to an outcome. A task is opened when the
registry settles a 999 call as abandoned; it is offered to one ready 999 handler at a time;
the handler starts the call-back (an Originate from their phone) and records the outcome,
which closes it. A new call from the same number while a task is open closes it too (the
caller got through). A task left open past ``escalate_seconds`` is escalated to supervisors.
Tasks live in one Redis hash, so an intake restart finds the open ones again.
"""

from __future__ import annotations

from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

Status = Literal["open", "calling", "closed"]


class CallbackTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str  # the abandoned call's id: one task per abandoned call
    number: str
    queue: str
    abandoned_at: float
    waited_seconds: float
    status: Status = "open"
    offered_to: str | None = None  # handler id whose desktop shows it
    escalated: bool = False
    outcome: str | None = None
    history: list[str] = []

    def note(self, at: float, what: str) -> None:
        self.history.append(f"{at:.3f} {what}")


def escalations(tasks: list[CallbackTask], now: float, escalate_seconds: float) -> list[CallbackTask]:
    """Open tasks unresolved for ``escalate_seconds`` and not yet escalated."""
    return [t for t in tasks if t.status != "closed" and not t.escalated and now - t.abandoned_at >= escalate_seconds]


def linked(tasks: list[CallbackTask], number: str) -> list[CallbackTask]:
    """Open tasks a new call from ``number`` resolves."""
    return [t for t in tasks if t.status != "closed" and number and t.number == number]


def to_offer(tasks: list[CallbackTask], ready: list[str], busy_with: dict[str, str]) -> list[tuple[CallbackTask, str]]:
    """Oldest unoffered open tasks paired with ready handlers (in the order given) who are not
    already offered a task: one call-back on a desktop at a time."""
    free = [h for h in ready if h not in busy_with.values()]
    waiting = sorted((t for t in tasks if t.status == "open" and t.offered_to is None), key=lambda t: t.abandoned_at)
    return list(zip(waiting, free))


class CallbackStore:
    """Tasks in one Redis hash (task id -> JSON); a closed task is kept for the audit trail."""

    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis, self.key = redis, f"{prefix}callbacks"

    async def save(self, task: CallbackTask) -> None:
        await self.redis.hset(self.key, task.id, task.model_dump_json())

    async def load_open(self) -> list[CallbackTask]:
        """The open tasks. A record this version cannot read (written by a newer one, or damaged)
        is left in Redis untouched and reported: one bad record must not keep intake from starting."""
        tasks = []
        for task_id, raw in (await self.redis.hgetall(self.key)).items():
            try:
                tasks.append(CallbackTask.model_validate_json(raw))
            except ValidationError as exc:
                structlog.get_logger("routing.callbacks").error(
                    "callback record unreadable, left in Redis", task_id=task_id, problems=exc.error_count(),
                    first=exc.errors()[0]["msg"], key=self.key)
        return [t for t in tasks if t.status != "closed"]
