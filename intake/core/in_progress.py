"""Calls in progress, kept where a restart finds them.

A call offered (counted) has no journal record until its outcome is known; should intake die in
between, and the call be answered or abandoned before it is back, AMI never tells the restarted
intake of that outcome. So each offered call is written here when it is offered and removed in
the same transaction as its journal record (:meth:`InProgressStore.stage_done`): at start-up,
every call that is here is one the journal does not have, and the first resync settles it
(:meth:`intake.core.registry.Registry.adopt_in_progress`).

Key: ``{prefix}calls:in-progress``, a hash, call id -> the record's JSON.
"""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from intake.core.calls import CallFacts
from screenpop.places import Location

log = structlog.get_logger("intake.in_progress")

_UNLESS_JOURNALLED = """
-- KEYS[1]: the calls in progress, KEYS[2] (if given): the stays journalled; ARGV: call id, record, stay
if KEYS[2] and redis.call('HEXISTS', KEYS[2], ARGV[3]) == 1 then
  return 0
end
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
"""


def stay_name(call_id: str, queue: str, queued_at: float) -> str:
    """A call's stay in a queue as the journal's stays hash names it (:mod:`intake.app.journal`)."""
    return f"{call_id}|{queue}|{queued_at!r}"


class InProgress(BaseModel):
    """What a restart needs to follow (or settle) a call offered before it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    call_id: str
    queue: str
    line: str
    target_seconds: float
    queued_at: float
    arrived_at: float | None = None
    caller_number: str = ""
    caller_name: str = ""
    channel: str = ""
    silent: bool = False
    location: Location | None = None  # the call's own (PIDF-LO): a restart's pops still show it

    @classmethod
    def of(cls, call: CallFacts) -> InProgress:
        return cls(call_id=call.call_id, queue=call.queue, line=call.line, target_seconds=call.target_seconds,
                   queued_at=call.queued_at, arrived_at=call.arrived_at, caller_number=call.caller_number,
                   caller_name=call.caller_name, channel=call.channel, silent=call.silent,
                   location=call.location)

    @property
    def stay(self) -> tuple[str, str, float]:
        """The call's stay in its queue, as the journal keys it (:func:`intake.app.journal.one_per_stay`)."""
        return (self.call_id, self.queue, self.queued_at)

    @property
    def stay_name(self) -> str:
        """:attr:`stay` as the journal's stays hash names it (:func:`intake.app.journal.stay_of`)."""
        return stay_name(self.call_id, self.queue, self.queued_at)


class InProgressStore:
    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, redis: Any, prefix: str = "intake:") -> None:
        self.redis = redis
        self.key = f"{prefix}calls:in-progress"

    # Any: a redis pipeline, sync or async (redis-py types them apart; the core may not import redis at all)
    def stage(self, pipe: Any, record: InProgress, journalled: str | None = None) -> None:
        """Every node writes every call: the first write wins, and none once ``journalled`` (the
        stays hash of the call's day in the journal, :mod:`intake.app.journal`) holds the call's
        stay: a node slower than the one that journalled it must not leave it in progress."""
        pipe.eval(_UNLESS_JOURNALLED, 2 if journalled else 1, self.key, *([journalled] if journalled else []),
                  record.call_id, record.model_dump_json(), record.stay_name)

    # Any: a redis pipeline, sync or async (redis-py types them apart; the core may not import redis at all)
    def stage_done(self, pipe: Any, call_id: str) -> None:
        """Staged in the batch that writes the call's journal record, so both land together."""
        pipe.hdel(self.key, call_id)

    async def load(self) -> list[InProgress]:
        """Every call in progress as the last run left them; an unreadable entry is logged and skipped."""
        raw = await self.redis.hgetall(self.key)
        records = []
        for call_id, data in raw.items():
            try:
                records.append(InProgress.model_validate_json(data))
            except ValidationError as exc:
                log.error("in_progress_record_invalid", call_id=str(call_id)[:80], problems=exc.error_count())
        return records
