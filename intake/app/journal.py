"""The call journal: one record per settled call, kept in Redis by local day, and the reports
read back from it; at start-up, today's live figures are rebuilt from it.

A record is written when the call's outcome in its queue is known (the registry's ``Settled``:
answered, abandoned or left), not when the call ends: a call answered before a restart and
still talking after it is in the journal, so in the rebuilt figures (the restarted server learns
it from the PBX as answered before it watched, and counts it nowhere else). A call offered and
not yet settled is kept in :mod:`intake.core.in_progress` until its record is written (both in one
transaction): a restart settles it from there if its outcome came while intake was down, and
the record says so (``outcome_seen`` false).

Key layout: ``{prefix}journal:{YYYY-MM-DD}`` is a sorted set, score = queue entry (PBX epoch),
member = the record's JSON (it carries the call id, so two calls never collide, and the same
record written twice is one member). Every node writes every call's record, so the first write
of a stay wins and a later one is a no-op, whatever it says: ``{prefix}journal-stays:{YYYY-MM-DD}``
is a hash of the stays (``call id|queue|queue entry``) the day holds, and one Lua script adds the
record only if its stay is new (two nodes that saw an outcome a little differently, one of them
through a resync, must not leave two records of one call). The day is the server's local day, the one a control
room's "yesterday 14:00-15:00" means. Readers take one record per (call id, queue, queue entry).

The handler's grading of a call (its outcome) is journalled beside it, for the national returns'
999 misuse: ``{prefix}journal-gradings:{YYYY-MM-DD}`` is a hash, call id -> grading, by the local
day the outcome was **filed** (the server knows the call's id then, not always its queue entry);
outcomes come during the call's wrap-up, so a reader of a range of days also reads the next
day's gradings (:mod:`intake.app.journal_range`). A grading filed again replaces the first. A call-back's grading
(:meth:`CallJournal.grade` with ``under``) is filed under the **abandoned** call it followed up, in
the day of its abandon, and the call's id is also put in ``{prefix}journal-called-back:{YYYY-MM-DD}``
(a hash, call id -> grading) so the misuse return can say how many of its gradings came by call-back.

Beside the record, filed once known (both keyed by the stay, in the queue entry's day):
``{prefix}journal-talk:{YYYY-MM-DD}`` (answer to hang-up, when the call is over) and
``{prefix}journal-wrapup:{YYYY-MM-DD}`` (the answering handler's wrap-up as it really lasted, when
it is over: :mod:`intake.core.wrapups`); staffing's handle time is their sum.

:func:`hourly_report` is pure: records in, one row per hour out.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from intake.core.calls import CallFacts, CallState, CallView
from intake.core.handlers import Handler
from intake.core.in_progress import stay_name
from intake.core.metrics import (
    LONG_WAIT_SECONDS,
    UNDATED,
    Disposition,
    Settlement,
    local_day,
)
from intake.core.notices import WrappedUp
from screenpop.models import ContactRecord, is_history_number
from screenpop.places import Location

RETENTION_SECONDS = 400 * 86_400

FIRST_WRITE_WINS = """
-- KEYS[1]: the day's journal, KEYS[2]: the stays it holds; ARGV: stay, record, queue entry, retention
if redis.call('HSETNX', KEYS[2], ARGV[1], 1) == 1 then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""

Settled = Disposition


class JournalRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    call_id: str
    line: str
    queue: str
    target_seconds: float
    queued_at: float
    settled: Settled
    waited_seconds: float
    """Queue entry to answer (answered) or to leaving the queue (abandoned, left)."""
    waited_from_arrival: float | None = None
    """The call's arrival at the PBX to answer, where the events showed the arrival."""
    outcome_seen: bool = True
    """False when the outcome came while intake was down or away from the PBX: an answer's time is
    then bounded by the resync that found it talking, and a call found gone is ``left`` with
    ``end_reason`` saying so (AMI tells nobody afterwards how it ended). Absent in older records."""
    end_reason: str | None = None
    handler_id: str | None = None
    """Who answered (their configured id), as the PBX showed them at the answer. Absent in older records."""
    position: str | None = None
    """The position (hot-desking) they answered at; None at a fixed phone. Absent in older records."""
    talk_seconds: float | None = None
    """Answer to hang-up: not known when the record is written (at the answer), so read back from
    the day's talk times (:meth:`CallJournal.day`) once the call is over. None until then, for a
    call not answered, and in older records."""
    wrapup_seconds: float | None = None
    """The answering handler's wrap-up after the call, as measured (:mod:`intake.core.wrapups`):
    read back like the talk time, once it is over. None until then, when none was measured, and in
    older records."""

    @classmethod
    def of(cls, call: CallFacts) -> JournalRecord:
        s = Settlement.of(call)
        return cls(call_id=call.call_id, line=call.line, queue=call.queue, target_seconds=call.target_seconds,
                   queued_at=call.queued_at, settled=s.disposition, waited_seconds=round(s.waited, 3),
                   waited_from_arrival=None if s.waited_from_arrival is None else round(s.waited_from_arrival, 3),
                   outcome_seen=call.outcome_seen, end_reason=None if call.outcome_seen else call.end_reason,
                   handler_id=call.answered_handler, position=call.answered_position)

    def settlement(self) -> Settlement:
        """The record as the live figures count it (rebuilding them at start-up)."""
        return Settlement(self.queue, self.settled, self.queued_at + self.waited_seconds, self.waited_seconds,
                          self.waited_from_arrival, self.target_seconds)

    @property
    def within_target(self) -> bool:
        return self.settled == "answered" and self.waited_seconds <= self.target_seconds


class TalkRecord(BaseModel):
    """How long an answered call talked, filed when it is over: the journal's record was written at
    the answer, before anyone knew (see :meth:`CallJournal.day`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    call_id: str
    queue: str
    queued_at: float
    talk_seconds: float

    @classmethod
    def of(cls, call: CallView) -> TalkRecord | None:
        """The talk of a counted call that was answered and is over; None for any other."""
        if not call.counted or call.answered_at is None or call.talk_seconds is None:
            return None
        return cls(call_id=call.call_id, queue=call.queue, queued_at=call.queued_at, talk_seconds=round(call.talk_seconds, 3))


class WrapUpRecord(BaseModel):
    """How long the answering handler's wrap-up after a call really lasted, filed when it is over."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    call_id: str
    queue: str
    queued_at: float
    wrapup_seconds: float
    handler_id: str | None = None

    @classmethod
    def of(cls, wrapped: WrappedUp) -> WrapUpRecord:
        call = wrapped.call
        return cls(call_id=call.call_id, queue=call.queue, queued_at=call.queued_at,
                   wrapup_seconds=round(wrapped.seconds, 3), handler_id=wrapped.handler_id)


class CallJournal:
    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, redis: Any, prefix: str = "intake:") -> None:
        self.redis = redis
        self.prefix = prefix

    def key(self, day: str) -> str:
        return f"{self.prefix}journal:{day}"

    def stays_key(self, day: str) -> str:
        """The stays the day's journal holds (see the module's docstring)."""
        return f"{self.prefix}journal-stays:{day}"  # not under journal:*, which readers scan for the days' sets

    async def append(self, record: JournalRecord) -> None:
        async with self.redis.pipeline(transaction=True) as tx:
            self.stage(tx, record)
            await tx.execute()

    # Any: a redis pipeline, sync or async (redis-py types them apart; the core may not import redis at all)
    def stage(self, pipe: Any, record: JournalRecord) -> None:
        """Add the commands that append ``record`` to ``pipe`` (a writer batches many records)."""
        day = local_day(record.queued_at)
        if day == UNDATED:  # a journal is read by day: a record no day holds is refused, not filed apart
            raise ValueError(f"call {record.call_id}: queue entry {record.queued_at!r} is in no day")
        pipe.eval(FIRST_WRITE_WINS, 2, self.key(day), self.stays_key(day), stay_name(record.call_id, record.queue, record.queued_at),
                  record.model_dump_json(), record.queued_at, RETENTION_SECONDS)

    def gradings_key(self, day: str) -> str:
        """The gradings of outcomes filed that day (see the module's docstring)."""
        return f"{self.prefix}journal-gradings:{day}"

    def called_back_key(self, day: str) -> str:
        """The abandoned calls of a day graded by their call-back (see the module's docstring)."""
        return f"{self.prefix}journal-called-back:{day}"

    async def grade(self, call_id: str, grading: str, filed_at: float, *, under: float | None = None) -> None:
        """Journal the handler's grading of a call, filed at ``filed_at``; ``under``: a call-back's
        grading, filed under the abandoned call ``call_id`` in the day of ``under`` (its abandon)."""
        day = local_day(filed_at if under is None else under)
        key = self.gradings_key(day)
        async with self.redis.pipeline(transaction=True) as tx:
            tx.hset(key, call_id, grading)
            tx.expire(key, RETENTION_SECONDS)
            if under is not None:
                tx.hset(self.called_back_key(day), call_id, grading)
                tx.expire(self.called_back_key(day), RETENTION_SECONDS)
            # The call is that day's or the day before's: their kept summaries no longer hold (journal_range)
            tx.delete(f"{self.prefix}journal-summary:{day}", f"{self.prefix}journal-summary:{_day_before(day)}")
            await tx.execute()

    def talk_key(self, day: str) -> str:
        """The day's talk times: a hash, stay -> seconds (not under journal:*, as stays_key)."""
        return f"{self.prefix}journal-talk:{day}"

    # Any: a redis pipeline, sync or async (as stage)
    def stage_talk(self, pipe: Any, talk: TalkRecord) -> None:
        """Add the commands that file a call's talk time to ``pipe`` (idempotent: keyed by its stay)."""
        self._stage_seconds(pipe, self.talk_key, talk.call_id, talk.queue, talk.queued_at, talk.talk_seconds)

    def wrapup_key(self, day: str) -> str:
        """The day's measured wrap-ups: a hash, stay -> seconds (not under journal:*, as stays_key)."""
        return f"{self.prefix}journal-wrapup:{day}"

    # Any: a redis pipeline, sync or async (as stage)
    def stage_wrapup(self, pipe: Any, wrapup: WrapUpRecord) -> None:
        """Add the commands that file a call's measured wrap-up to ``pipe`` (keyed by its stay: a
        node that measured it a little differently writes over it, never beside it)."""
        self._stage_seconds(pipe, self.wrapup_key, wrapup.call_id, wrapup.queue, wrapup.queued_at, wrapup.wrapup_seconds)

    # Any: a redis pipeline, sync or async (as stage)
    @staticmethod
    def _stage_seconds(pipe: Any, key_of: Callable[[str], str], call_id: str, queue: str, queued_at: float,
                       seconds: float) -> None:
        """File one stay's seconds in its queue entry's day's hash (``key_of(day)``), kept as long as the journal."""
        day = local_day(queued_at)
        if day == UNDATED:
            raise ValueError(f"call {call_id}: queue entry {queued_at!r} is in no day")
        key = key_of(day)
        pipe.hset(key, stay_name(call_id, queue, queued_at), repr(seconds))
        pipe.expire(key, RETENTION_SECONDS)

    async def day(self, day: date) -> list[JournalRecord]:
        """The day's records, one per call's stay in a queue, each with its talk time once the call
        is over and its measured wrap-up once that is."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrange(self.key(day.isoformat()), 0, -1)
            pipe.hgetall(self.talk_key(day.isoformat()))
            pipe.hgetall(self.wrapup_key(day.isoformat()))
            raw, talks, wrapups = await pipe.execute()
        records = one_per_stay(JournalRecord.model_validate_json(r) for r in raw)
        if not talks and not wrapups:
            return records
        talked, wrapped = _seconds(talks), _seconds(wrapups)
        found = []
        for r in records:
            stay = stay_name(r.call_id, r.queue, r.queued_at)
            update = {k: v for k, v in (("talk_seconds", talked.get(stay)), ("wrapup_seconds", wrapped.get(stay))) if v is not None}
            found.append(r.model_copy(update=update) if update else r)
        return found


def _seconds(kept: dict[Any, Any]) -> dict[str, float]:
    return {_text(k): float(_text(v)) for k, v in kept.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _day_before(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def one_per_stay(records: Iterable[JournalRecord]) -> list[JournalRecord]:
    """One record per call's stay in a queue (call id, queue, entry), the first kept: a record
    written twice (a retried write, a spooled one) counts once."""
    kept: dict[tuple[str, str, float], JournalRecord] = {}
    for record in records:
        kept.setdefault((record.call_id, record.queue, record.queued_at), record)
    return list(kept.values())


COLUMNS = ("hour", "offered", "answered", "answered_within_target", "answered_within_target_pct",
           "under_10s", "10s_to_60s", "60s_and_over", "abandoned", "waited_over_2min")


# Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
def hourly_report(records: Iterable[JournalRecord], line: str | None = None) -> list[dict[str, Any]]:
    """One row per local hour (0-23) of the records' day.

    Answered within target counts against every offered call, abandoned ones included (see
    :mod:`intake.core.metrics`). The Home Office buckets are measured from the call's arrival at the
    PBX where known, else from queue entry.
    """
    rows: list[dict[str, Any]] = [dict.fromkeys(COLUMNS, 0) | {"hour": h} for h in range(24)]
    for r in records:
        if line is not None and r.line != line:
            continue
        row = rows[time.localtime(r.queued_at).tm_hour]
        row["offered"] += 1
        row["waited_over_2min"] += r.waited_seconds > LONG_WAIT_SECONDS
        if r.settled == "abandoned":
            row["abandoned"] += 1
        if r.settled != "answered":
            continue
        row["answered"] += 1
        row["answered_within_target"] += r.within_target
        waited = r.waited_from_arrival if r.waited_from_arrival is not None else r.waited_seconds
        bucket = "under_10s" if waited < 10 else "10s_to_60s" if waited < 60 else "60s_and_over"
        row[bucket] += 1
    for row in rows:
        row["answered_within_target_pct"] = (round(100 * row["answered_within_target"] / row["offered"], 1)
                                             if row["offered"] else None)
    return rows


# Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
def report_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
    return out.getvalue()


def contact_record(call: CallFacts, handlers: dict[str, Handler], location: Location | None = None) -> ContactRecord | None:
    """The caller's history entry for a settled call; None when there is no number to file it under.
    ``location``: where the caller was on this call (the call's own or the location service's;
    intake.app.locations), kept with the record and expiring with it."""
    if not is_history_number(call.caller_number):
        return None
    answered = call.answered_at is not None
    handler = handlers.get(call.answered_by or "")
    return ContactRecord(
        call_id=call.call_id,
        number=call.caller_number,
        at=call.queued_at,
        line=call.line,  # type: ignore[arg-type]
        queue=call.queue,
        handler_id=handler.handler_id if handler is not None else None,
        waited_seconds=round(call.waited(call.ended_at or call.queued_at), 3),
        talked_seconds=call.talk_seconds,
        disposition="answered" if answered else ("abandoned" if call.state is CallState.ABANDONED else "left"),
        location=location if location is not None and location.source != "history" else call.location,
    )
