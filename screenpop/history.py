"""The caller history store: contacts, outcomes and markers per number, in Redis.

Key layout (``prefix`` defaults to ``intake:``; the number in braces is a cluster hash tag, so
all five keys of a number live in one slot and one script may touch them all)::

    {prefix}contacts:{number}   ZSET  score = at (PBX epoch)  member = call_id
    {prefix}calledback:{number} ZSET  score = at (PBX epoch)  member = "callback:<task id>"
    {prefix}contact:{number}    HASH  call_id -> ContactRecord JSON (without outcome)
    {prefix}outcome:{number}    HASH  call_id -> Outcome JSON
    {prefix}markers:{number}    HASH  marker id -> Marker JSON

Call-backs (contacts with disposition "called back": calls *to* the number) have an index of
their own, so that every count (24 h, 30 days, the repeat window) stays a plain ZCOUNT of calls
*from* the number; the lookup merges the two indexes' newest entries into ``recent``.

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
  its way behind the event path; see :mod:`intake.app.unrecorded`).

Each call id counts once: a named call already in the index is counted as recorded, not again
(a call id is a channel's Uniqueid, so one moved on to a second queue is recorded once).

A stored record this version cannot read (damaged, or written by a newer version with fields
this one does not know) is left out of ``recent`` and logged; the rest of the history is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
import structlog
from pydantic import ValidationError

from screenpop.errors import NotANumber, NotReplicated
from screenpop.models import (
    CallerHistory,
    ContactRecord,
    Marker,
    Outcome,
    describe,
    is_history_number,
)
from screenpop.scripts import Script, ScriptCall, run_scripts

log = structlog.get_logger("screenpop.history")

DAY = 86_400.0
CALLING_LIMIT = 100
"""At most this many unrecorded calls go with one lookup, the newest: enough to pass any
``repeat_calls`` (1..100), and a bounded script call even for a number Redis was away for."""

_LOOKUP = Script.of("""
-- KEYS: contacts zset, contact hash, outcome hash, markers hash, call-backs zset
-- ARGV: now, now - 24 h, now - 30 d, how many recent records, now - repeat window,
--       then pairs (call id, queue entry) of calls the index may not hold yet
local limit = tonumber(ARGV[4])
local calls = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], '-inf', 'WITHSCORES', 'LIMIT', 0, limit)
local backs = redis.call('ZREVRANGEBYSCORE', KEYS[5], ARGV[1], '-inf', 'WITHSCORES', 'LIMIT', 0, limit)
-- the newest `limit` of both, newest first (a call before a call-back at the same instant)
local ids, i, j = {}, 1, 1
while #ids < limit and (i < #calls or j < #backs) do
  if j >= #backs or (i < #calls and tonumber(calls[i + 1]) >= tonumber(backs[j + 1])) then
    ids[#ids + 1] = calls[i]
    i = i + 2
  else
    ids[#ids + 1] = backs[j]
    j = j + 2
  end
end
local contacts, outcomes = {}, {}
if #ids > 0 then
  contacts = redis.call('HMGET', KEYS[2], unpack(ids))
  outcomes = redis.call('HMGET', KEYS[3], unpack(ids))
end
local now, since = tonumber(ARGV[1]), tonumber(ARGV[5])
-- Counts read the calls' index only: a call-back is not a call from the number.
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
""")
_LOOKUP_SHA = _LOOKUP.sha


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


class Replicated(Protocol):
    """Writes staged commands and says whether replicas hold them (intake.app.replicas.ReplicatedWrite)."""

    replicas: Any  # Any: what it asks for, with its ``count`` (intake.app.replicas.Replicas)
    client: Any  # Any: the redis.asyncio client it writes with

    # Any: a redis pipeline
    async def __call__(self, stage: Callable[[Any], None]) -> bool: ...


_KEY_KINDS = ("contacts", "contact", "outcome", "markers", "calledback")  # HistoryKeys' fields, in order


@dataclass(frozen=True, slots=True)
class HistoryKeys:
    contacts: str
    contact: str
    outcome: str
    markers: str
    called_back: str


class HistoryStore:
    """Reads and writes a caller's history; every method is one round trip to Redis."""

    def __init__(self, client: aioredis.Redis, config: HistoryConfig = HistoryConfig(), *,
                 reader: aioredis.Redis | None = None, replicated: Replicated | None = None) -> None:
        """``reader``: where lookups go, if not ``client`` (with Sentinel: whichever server answers);
        ``replicated``: writes outcomes and markers so that they count as done only once replicas
        hold them (else NotReplicated is raised: the primary has the write, the caller tries again)."""
        self._redis = client
        self.reader = client if reader is None else reader
        self._replicated = replicated
        self._config = config
        self._prefixes = tuple(f"{config.prefix}{kind}:" for kind in _KEY_KINDS)  # keys() runs for every lookup and record
        # Told the number after every write this store makes itself (a staged record's writer
        # tells whoever needs to know when its batch is in): what is held of it no longer stands.
        self.on_change: Callable[[str], None] = _nobody

    @property
    def replicated_client(self) -> Any:  # Any: the client of ``replicated``, for its owner to close
        return None if self._replicated is None else self._replicated.client

    def _changed(self, *numbers: str) -> None:
        for number in numbers:
            self.on_change(number)

    def keys(self, number: str) -> HistoryKeys:
        if not is_history_number(number):
            raise NotANumber(number)
        tag = "{" + number + "}"
        contacts, contact, outcome, markers, called_back = self._prefixes
        return HistoryKeys(contacts + tag, contact + tag, outcome + tag, markers + tag, called_back + tag)

    def watched_prefixes(self) -> list[str]:
        """Every key of a number's history starts with one of these (none with two of them)."""
        return list(self._prefixes)

    async def record_contact(self, record: ContactRecord) -> None:
        async with self._redis.pipeline(transaction=True) as tx:
            self.stage_contact(tx, record)
            await tx.execute()
        self._changed(record.number)

    # Any: a redis pipeline, sync or async (redis-py types them apart; the core may not import redis at all)
    def stage_contact(self, pipe: Any, record: ContactRecord) -> None:
        """Add the commands that store ``record`` to ``pipe`` (a writer batches many records); a
        call-back goes to its own index, out of the counts' way."""
        keys, ttl = self.keys(record.number), self._ttl
        index = keys.called_back if record.disposition == "called back" else keys.contacts
        # Every node files every call's record: the first write wins, a second is a no-op (one
        # entry, one count), whatever the other node made of the call.
        pipe.zadd(index, {record.call_id: record.at}, nx=True)
        pipe.hsetnx(keys.contact, record.call_id, record.model_dump_json(exclude={"outcome"}))
        pipe.expire(index, ttl)
        pipe.expire(keys.contact, ttl)

    async def record_outcome(self, number: str, outcome: Outcome) -> None:
        keys = self.keys(number)

        def stage(tx: Any) -> None:  # Any: a redis pipeline
            tx.hset(keys.outcome, outcome.call_id, outcome.model_dump_json())
            tx.expire(keys.outcome, self._ttl)

        await self._write(f"the outcome of call {outcome.call_id}", stage)
        self._changed(number)

    # Any: a redis pipeline, staged by ``stage``
    async def _write(self, what: str, stage: Callable[[Any], None]) -> None:
        """One MULTI/EXEC; with ``replicated``, done only once replicas hold it."""
        if self._replicated is None:
            async with self._redis.pipeline(transaction=True) as tx:
                stage(tx)
                await tx.execute()
        elif not await self._replicated(stage):
            raise NotReplicated(what, self._replicated.replicas.count)

    async def add_marker(self, marker: Marker) -> None:
        await self.add_markers([marker])

    async def add_markers(self, markers: Iterable[Marker]) -> int:
        """Write all markers in one MULTI/EXEC: all of them are stored or none."""
        staged = [(self.keys(marker.number).markers, marker) for marker in markers]

        def stage(tx: Any) -> None:  # Any: a redis pipeline
            for key, marker in staged:
                tx.hset(key, marker.id, marker.model_dump_json())

        if staged:
            await self._write(f"{len(staged)} marker(s)", stage)
        self._changed(*{marker.number for _, marker in staged})
        return len(staged)

    async def remove_marker(self, number: str, marker_id: str) -> bool:
        removed = bool(await self._redis.hdel(self.keys(number).markers, marker_id))
        self._changed(number)
        return removed

    async def lookup(self, number: str, now: float, calling: Mapping[str, float] | None = None) -> CallerHistory:
        """The number's history as of ``now`` (PBX epoch) in one round trip.

        ``calling``: call id -> queue entry of calls from the number the index may not hold yet;
        they count in ``calls_in_window`` when they entered a queue within the window (no upper
        bound: a call we know of has arrived, whatever the estimate of the PBX clock says).
        """
        (reply,) = await run_scripts(self.reader, [self.lookup_call(number, now, calling)])
        return self.read_lookup(number, now, reply)

    def lookup_call(self, number: str, now: float, calling: Mapping[str, float] | None = None) -> ScriptCall:
        """:meth:`lookup`'s script call, to be sent with others in one round trip (screenpop.pop_lookup)."""
        keys = self.keys(number)
        args: list[str | int | float] = [repr(now), repr(now - DAY), repr(now - 30 * DAY), self._config.recent_limit,
                                         repr(now - self._config.repeat_window_seconds)]
        newest = sorted((calling or {}).items(), key=lambda c: c[1], reverse=True)[:CALLING_LIMIT]
        for call_id, at in newest:
            args += (call_id, repr(at))
        return ScriptCall(_LOOKUP, (keys.contacts, keys.contact, keys.outcome, keys.markers, keys.called_back), args)

    # Any: the script's reply, a list of Redis values
    def read_lookup(self, number: str, now: float, reply: Sequence[Any]) -> CallerHistory:
        """The history from the reply to :meth:`lookup_call` for ``number`` at ``now``."""
        count_24h, count_30d, contacts, outcomes, markers, in_window = reply
        return CallerHistory(
            number=number,
            recent=tuple(_merge(number, contacts, outcomes)),
            count_24h=int(count_24h),
            count_30d=int(count_30d),
            markers=tuple(sorted(
                (m for m in map(Marker.model_validate_json, markers) if m.is_current(now)),
                key=lambda m: (m.created_at, m.id),
            )),
            calls_in_window=int(in_window),
            window_seconds=self._config.repeat_window_seconds,
        )

    @property
    def _ttl(self) -> int:
        return max(1, int(self._config.retention_seconds))


def _nobody(_number: str) -> None:
    pass


def _merge(number: str, contacts: Sequence[bytes | None], outcomes: Sequence[bytes | None]) -> Iterable[ContactRecord]:
    """The records with their outcomes. One that cannot be read is left out (an outcome that
    cannot be read, left off its call) and logged: one bad record must not cost the handler the
    rest of the caller's history."""
    for contact, outcome in zip(contacts, outcomes):
        if contact is None:  # an id in the index whose record is gone: nothing to show
            continue
        try:
            record = ContactRecord.model_validate_json(contact)
        except ValidationError as exc:
            _unreadable("contact", number, exc)
            continue
        if outcome is not None:
            try:
                record = record.model_copy(update={"outcome": Outcome.model_validate_json(outcome)})
            except ValidationError as exc:
                _unreadable("outcome", number, exc, call_id=record.call_id)
        yield record


def _unreadable(kind: str, number: str, exc: ValidationError, **about: str) -> None:
    log.error("history_record_unreadable", kind=kind, number=number, problems="; ".join(describe(exc)), **about)
