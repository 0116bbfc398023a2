"""The caller history store: contacts, outcomes and markers per number, in Redis.

Key layout (``prefix`` defaults to ``intake:``; the number in braces is a cluster hash tag, so
all four keys of a number live in one slot and one script may touch them all)::

    {prefix}contacts:{number}   ZSET  score = at (PBX epoch)  member = call_id
    {prefix}contact:{number}    HASH  call_id -> ContactRecord JSON (without outcome)
    {prefix}outcome:{number}    HASH  call_id -> Outcome JSON
    {prefix}markers:{number}    HASH  marker id -> Marker JSON

Outcomes live apart from contacts because the handler may file one before the call's record is
written (the record is written when the call ends; the outcome when the handler presses save,
which may be during the call): neither write reads the other, so both orders give the same
result, merged at lookup.

Why a Lua script for :meth:`HistoryStore.lookup` and not a pipeline: the reads depend on each
other (which call ids are the newest decides which hash fields to fetch). A pipeline cannot do
that in one round trip without HGETALL of whole hashes, which grows with a repeat caller's
history; the script fetches only the newest ``recent_limit`` records. It is sent by EVALSHA; only
after the server lost its script cache (restart, SCRIPT FLUSH) does one lookup cost a second
round trip, the EVAL that reloads it.

Calls in the repeat window (``calls_in_window``, what a pop's "repeat caller" flag is judged on)
are counted by queue entry, in the same script, from two sources:

- the contacts recorded in the index: settled calls (a record is written when a call ends);
- the calls the lookup is given in ``calling``: calls from the number Redis may not have yet
  (the call ringing now, calls still in progress, and settled calls whose record is still on
  its way behind the event path; see :mod:`intake.unrecorded`).

Each call id counts once: a named call already in the index is counted as recorded, not again
(a call id is a channel's Uniqueid, so one moved on to a second queue is recorded once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from screenpop.errors import NotANumber
from screenpop.models import CallerHistory, ContactRecord, Marker, Outcome, is_history_number

DAY = 86_400.0
CALLING_LIMIT = 100
"""At most this many unrecorded calls go with one lookup, the newest: enough to pass any
``repeat_calls`` (1..100), and a bounded script call even for a number Redis was away for."""

_LOOKUP = b"""
-- KEYS: contacts zset, contact hash, outcome hash, markers hash
-- ARGV: now, now - 24 h, now - 30 d, how many recent records, now - repeat window,
--       then pairs (call id, queue entry) of calls the index may not hold yet
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'LIMIT', 0, ARGV[4])
local contacts, outcomes = {}, {}
if #ids > 0 then
  contacts = redis.call('HMGET', KEYS[2], unpack(ids))
  outcomes = redis.call('HMGET', KEYS[3], unpack(ids))
end
local now, since = tonumber(ARGV[1]), tonumber(ARGV[5])
local in_window = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[5], ARGV[1])
for i = 6, #ARGV - 1, 2 do
  local recorded = redis.call('ZSCORE', KEYS[1], ARGV[i])
  recorded = recorded and tonumber(recorded)
  local counted = recorded and recorded > since and recorded <= now
  if tonumber(ARGV[i + 1]) > since and not counted then
    in_window = in_window + 1
  end
end
return {
  redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[2], ARGV[1]),
  redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[3], ARGV[1]),
  contacts,
  outcomes,
  redis.call('HVALS', KEYS[4]),
  in_window,
}
"""
_LOOKUP_SHA = hashlib.sha1(_LOOKUP).hexdigest()


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    prefix: str = "intake:"
    recent_limit: int = 10
    """How many of the newest contacts a lookup returns."""
    retention_seconds: float = 400 * DAY
    """A number's contacts and outcomes vanish this long after its last write. Markers are
    removed by people, never by age (they carry their own ``expires_at``)."""
    repeat_window_seconds: float = 3600.0
    """The window ``calls_in_window`` counts over, ending at the lookup's ``now``."""

    def __post_init__(self) -> None:
        # The script unpacks the ids into one HMGET: keep that a small, bounded call.
        if not 1 <= self.recent_limit <= 200:
            raise ValueError(f"recent_limit must be 1..200, got {self.recent_limit}")
        if not self.repeat_window_seconds > 0:
            raise ValueError(f"repeat_window_seconds must be above 0, got {self.repeat_window_seconds}")


@dataclass(frozen=True, slots=True)
class HistoryKeys:
    contacts: str
    contact: str
    outcome: str
    markers: str


class HistoryStore:
    """Reads and writes a caller's history; every method is one round trip to Redis."""

    def __init__(self, client: aioredis.Redis, config: HistoryConfig = HistoryConfig()) -> None:
        self._redis = client
        self._config = config

    def keys(self, number: str) -> HistoryKeys:
        if not is_history_number(number):
            raise NotANumber(number)
        tag, p = "{" + number + "}", self._config.prefix
        return HistoryKeys(f"{p}contacts:{tag}", f"{p}contact:{tag}", f"{p}outcome:{tag}", f"{p}markers:{tag}")

    async def record_contact(self, record: ContactRecord) -> None:
        async with self._redis.pipeline(transaction=True) as tx:
            self.stage_contact(tx, record)
            await tx.execute()

    def stage_contact(self, pipe: Any, record: ContactRecord) -> None:
        """Add the commands that store ``record`` to ``pipe`` (a writer batches many records)."""
        keys, ttl = self.keys(record.number), self._ttl
        pipe.zadd(keys.contacts, {record.call_id: record.at})
        pipe.hset(keys.contact, record.call_id, record.model_dump_json(exclude={"outcome"}))
        pipe.expire(keys.contacts, ttl)
        pipe.expire(keys.contact, ttl)

    async def record_outcome(self, number: str, outcome: Outcome) -> None:
        keys = self.keys(number)
        async with self._redis.pipeline(transaction=True) as tx:
            tx.hset(keys.outcome, outcome.call_id, outcome.model_dump_json())
            tx.expire(keys.outcome, self._ttl)
            await tx.execute()

    async def add_marker(self, marker: Marker) -> None:
        await self.add_markers([marker])

    async def add_markers(self, markers: Iterable[Marker]) -> int:
        """Write all markers in one MULTI/EXEC: all of them are stored or none."""
        async with self._redis.pipeline(transaction=True) as tx:
            count = 0
            for marker in markers:
                tx.hset(self.keys(marker.number).markers, marker.id, marker.model_dump_json())
                count += 1
            if count:
                await tx.execute()
        return count

    async def remove_marker(self, number: str, marker_id: str) -> bool:
        return bool(await self._redis.hdel(self.keys(number).markers, marker_id))

    async def lookup(self, number: str, now: float, calling: Mapping[str, float] | None = None) -> CallerHistory:
        """The number's history as of ``now`` (PBX epoch) in one round trip.

        ``calling``: call id -> queue entry of calls from the number the index may not hold yet;
        they count in ``calls_in_window`` when they entered a queue within the window (no upper
        bound: a call we know of has arrived, whatever the estimate of the PBX clock says).
        """
        keys = self.keys(number)
        window = self._config.repeat_window_seconds
        args: list[str | int] = [keys.contacts, keys.contact, keys.outcome, keys.markers,
                                 repr(now), repr(now - DAY), repr(now - 30 * DAY), self._config.recent_limit,
                                 repr(now - window)]
        newest = sorted((calling or {}).items(), key=lambda c: c[1], reverse=True)[:CALLING_LIMIT]
        for call_id, at in newest:
            args += (call_id, repr(at))
        try:
            reply = await self._redis.evalsha(_LOOKUP_SHA, 4, *args)
        except NoScriptError:
            reply = await self._redis.eval(_LOOKUP.decode(), 4, *args)
        count_24h, count_30d, contacts, outcomes, markers, in_window = reply
        return CallerHistory(
            number=number,
            recent=tuple(_merge(contacts, outcomes)),
            count_24h=int(count_24h),
            count_30d=int(count_30d),
            markers=tuple(sorted(
                (m for m in map(Marker.model_validate_json, markers) if m.is_current(now)),
                key=lambda m: (m.created_at, m.id),
            )),
            calls_in_window=int(in_window),
            window_seconds=window,
        )

    @property
    def _ttl(self) -> int:
        return max(1, int(self._config.retention_seconds))


def _merge(contacts: Sequence[bytes | None], outcomes: Sequence[bytes | None]) -> Iterable[ContactRecord]:
    for contact, outcome in zip(contacts, outcomes):
        if contact is None:  # an id in the index whose record is gone: nothing to show
            continue
        record = ContactRecord.model_validate_json(contact)
        if outcome is not None:
            record = record.model_copy(update={"outcome": Outcome.model_validate_json(outcome)})
        yield record
