"""A caller's records kept no longer than the law allows: the retention sweep, and erasure.

**Retention** (``[retention]``): contacts older than ``history_days`` (by when the call came),
outcomes older than ``outcomes_days`` (by when they were filed) and markers older than
``markers_days`` (by when they were created; 0 keeps them until removed) are removed number by
number, each number in one script (reads and removals of its keys together). Every node sweeps
every ``sweep_every_seconds``: a sweep that finds nothing older removes nothing, so two nodes
sweeping are harmless. Each number something was removed of is one entry in the audit trail.
Keys also expire whole after the longest retention without a write (a backstop:
screenpop.history's key TTL).

**Erasure** (``intake erase --number N``, on a lawful request): every key of the number's history
and the closed call-back tasks for it go; an open task stays (an abandoned 999 call is called
back whatever else) and is named. The erasure is in the audit trail, which keeps the number: the
trail is the record that the erasure happened.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from intake.app.audit import AuditTrail
from intake.core.audit import Action, RecordKind, Who
from intake.core.config import RetentionConfig
from screenpop.history import DAY, HistoryStore
from screenpop.models import is_history_number

log = structlog.get_logger("intake.retention")

_SWEEP = """
-- KEYS: contacts zset, contact hash, outcome hash, markers hash, call-backs zset
-- ARGV: cut-off for contacts, for outcomes, for markers ('' keeps that kind)
local removed = {0, 0, 0}
if ARGV[1] ~= '' then
  for _, index in ipairs({KEYS[1], KEYS[5]}) do
    local old = redis.call('ZRANGEBYSCORE', index, '-inf', '(' .. ARGV[1])
    if #old > 0 then
      redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. ARGV[1])
      redis.call('HDEL', KEYS[2], unpack(old))
      removed[1] = removed[1] + #old
    end
  end
end
local function older(key, field, cutoff, slot)
  if cutoff == '' then return end
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local ok, record = pcall(cjson.decode, all[i + 1])
    if ok and type(record) == 'table' and tonumber(record[field]) and tonumber(record[field]) < tonumber(cutoff) then
      redis.call('HDEL', key, all[i])
      removed[slot] = removed[slot] + 1
    end
  end
end
older(KEYS[3], 'at', ARGV[2], 2)
older(KEYS[4], 'created_at', ARGV[3], 3)
return removed
"""

SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Swept:
    numbers: int  # numbers looked at
    contacts: int
    outcomes: int
    markers: int


class Retention:
    # Any: a redis.asyncio client (or fakeredis's in-process one), used through their common commands
    def __init__(self, redis: Any, history: HistoryStore, config: RetentionConfig, audit: AuditTrail,
                 prefix: str, *, clock: Callable[[], float]) -> None:
        self.redis, self.history, self.config, self.audit, self.prefix = redis, history, config, audit, prefix
        self.clock = clock
        self.who = Who(subject="intake:retention", id=audit.node or "intake", role=SYSTEM)

    async def forever(self) -> None:
        """Sweep every ``sweep_every_seconds`` from start-up (a task under the server's supervisor;
        not at once: nodes restarted together do not all sweep at the same moment)."""
        while True:
            await asyncio.sleep(self.config.sweep_every_seconds)
            await self.sweep()

    async def numbers(self) -> set[str]:
        """Every number with a key of its history (found by SCAN: never blocks Redis)."""
        found: set[str] = set()
        for prefix in self.history.watched_prefixes():
            async for key in self.redis.scan_iter(match=f"{prefix}{{*}}", count=1000):
                text = key.decode() if isinstance(key, bytes) else key
                number = text[len(prefix):].strip("{}")
                if is_history_number(number):
                    found.add(number)
        return found

    async def sweep(self) -> Swept:
        now = self.clock()
        cut = [_cutoff(now, days) for days in (self.config.history_days, self.config.outcomes_days,
                                              self.config.markers_days)]
        if cut == ["", "", ""]:
            return Swept(0, 0, 0, 0)
        totals = [0, 0, 0]
        numbers = await self.numbers()
        for number in sorted(numbers):
            keys = self.history.keys(number)
            removed = await self.redis.eval(_SWEEP, 5, keys.contacts, keys.contact, keys.outcome, keys.markers,
                                            keys.called_back, *cut)
            for slot, (count, kind, days) in enumerate(zip(removed, (RecordKind.HISTORY, RecordKind.OUTCOME,
                                                                     RecordKind.MARKER),
                                                           (self.config.history_days, self.config.outcomes_days,
                                                            self.config.markers_days), strict=True)):
                if int(count):
                    totals[slot] += int(count)
                    self.audit.record(self.who, Action.EXPIRED, kind, number=number, record=f"{int(count)} removed",
                                      why=f"retention: {kind.value} kept {days:g} days")
            if any(int(c) for c in removed):
                self.history.on_change(number)
        swept = Swept(len(numbers), *totals)
        if any(totals):
            log.info("retention_swept", numbers=swept.numbers, contacts=swept.contacts, outcomes=swept.outcomes,
                     markers=swept.markers)
        return swept


def backstop_seconds(config: RetentionConfig) -> float:
    """The history keys' TTL (refreshed by each write): the longest retention, 10 years for "kept"."""
    days = [config.history_days, config.outcomes_days]
    return (3650.0 if 0 in days else max(days)) * DAY


def _cutoff(now: float, days: float) -> str:
    return "" if days <= 0 else repr(now - days * DAY)


@dataclass(frozen=True, slots=True)
class Erased:
    keys: int  # history keys removed
    callbacks: int  # closed call-back tasks removed
    open_callbacks: list[str]  # tasks still open for the number: kept


# Any: a redis.asyncio client, used through its common commands
async def erase(redis: Any, history: HistoryStore, prefix: str, number: str) -> Erased:
    """Remove ``number``'s history and closed call-back tasks."""
    keys = history.keys(number)
    removed = int(await redis.delete(keys.contacts, keys.contact, keys.outcome, keys.markers, keys.called_back))
    closed, still_open = 0, []
    async for key in redis.scan_iter(match=f"{prefix}*callbacks", count=1000, _type="hash"):
        for task_id, raw in (await redis.hgetall(key)).items():
            try:
                task = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(task, dict) or task.get("number") != number:
                continue
            if task.get("status") == "closed":
                closed += int(await redis.hdel(key, task_id))
            else:
                still_open.append(task_id.decode() if isinstance(task_id, bytes) else str(task_id))
    return Erased(removed, closed, still_open)
