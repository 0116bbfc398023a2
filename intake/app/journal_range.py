"""Reading a range of days of the call journal fast: a year of a large force is ~1.5 million
records (docs/returns.md has the figures).

The journal keeps a sorted set per local day (:mod:`intake.app.journal`); this reads the days a
few at a time in pipelined round trips, and parses each member with orjson straight into the
reports' slim :class:`~intake.core.returns.JournalCall` (pydantic's validation would cost several
times the whole read). A member that is not a record is counted in ``unreadable`` and left out,
never raised: one bad member must not cost a year's return. The parsing runs in a worker thread a
batch at a time, so a server that reports goes on following its calls between batches.

The returns need no record, only each day's figures: :meth:`JournalRange.summaries` keeps a past
day's :class:`~intake.core.returns.DaySummary` beside the journal (``{prefix}journal-summary:{day}``,
with the day's counts of records, talk times and measured wrap-ups it was made from) and reads a year as 365 of
them. A summary whose counts are not the journal's (a record spooled in late, the talk time of a
call that went on past midnight) is made again from the records, and so is
one a grading may have changed (:meth:`intake.app.journal.CallJournal.grade` drops those of the
day it files and the day before); today's is never kept. A summary also holds the day's demand
per line and quarter hour as sums (:func:`intake.core.demand.quarter_tallies`: talk and wrap-up
apart; each call's measured wrap-up, ``{prefix}journal-wrapup:{day}``, else its line's configured
one as it was when the day was summarised), so a year's staffing and forecast history are read the
same way (:meth:`JournalRange.demand`), to the very figures the records give. The site's leader
summarises each day as it ends (:meth:`intake.app.site.Site.summarise_closed_day`), so a report
seldom pays for a day's records. So every figure still comes from the journal alone: a summary is
a cache of it, and ``fresh=True`` ignores the cache.

Every site's journal is read (one key prefix each); one record per stay, as
:func:`intake.app.journal.one_per_stay` (a stay's record is in its queue entry's day only, so the
check is per day). Gradings are read for the range and the day after it (an outcome is journalled
by the day it was filed, a call-back's by the day of the abandon it followed up: see :mod:`intake.app.journal`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import orjson

from intake.app.journal import RETENTION_SECONDS
from intake.core.config import IntakeConfig
from intake.core.demand import IntervalDemand, IntervalTally, SignedIn, from_tallies
from intake.core.in_progress import stay_name
from intake.core.returns import DaySummary, JournalCall, summarise

DAYS_PER_TRIP = 8
"""Days read per round trip: ~35,000 records at a large force's rate, a few MB of replies."""
DEMAND_SECONDS = 900
"""The kept demand's interval: a quarter hour (a half hour is two of them)."""
SETTLED = frozenset({"answered", "abandoned", "left"})


@dataclass(frozen=True, slots=True)
class JournalRead:
    calls: list[JournalCall]
    unreadable: int
    """Members of the days' sets that are not journal records (left out)."""
    days: int


def wrapups_of(config: IntakeConfig) -> dict[str, float]:
    """Each line's configured wrap-up (the pause after each answered call)."""
    return {line.name: line.wrapup_seconds for line in config.lines}


def days_of(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True, slots=True)
class Gradings:
    """The handlers' gradings of the calls of a range of days (and the day after it)."""

    of: dict[str, str]
    """Call id -> grading."""
    called_back: frozenset[str] = frozenset()
    """The abandoned calls among them graded by their call-back."""


def _parse_day(members: list[bytes], gradings: Gradings, talks: dict[Any, Any],
               wrapups: dict[Any, Any]) -> tuple[list[JournalCall], int]:
    """The day's records as calls, with their gradings, talk times and measured wrap-ups (by stay: ``stay_name``)."""
    calls: list[JournalCall] = []
    seen: set[tuple[str, str, float]] = set()
    bad = 0
    loads = orjson.loads
    talked = {_text(k): _text(v) for k, v in talks.items()}
    wrapped = {_text(k): _text(v) for k, v in wrapups.items()}
    graded, called_back = gradings.of, gradings.called_back
    for member in members:
        try:
            r = loads(member)
            stay = (r["call_id"], r["queue"], r["queued_at"])
            settled = r["settled"]
            if settled not in SETTLED:
                raise ValueError(settled)
            name = stay_name(*stay) if talked or wrapped else ""
            talk = talked.get(name) if talked else None
            wrapup = wrapped.get(name) if wrapped else None
            call = JournalCall(stay[0], r["line"], float(stay[2]), settled, float(r["waited_seconds"]),
                               r.get("waited_from_arrival"), float(r["target_seconds"]), graded.get(stay[0]),
                               float(talk) if talk is not None else r.get("talk_seconds"),
                               float(wrapup) if wrapup is not None else r.get("wrapup_seconds"),
                               stay[0] in called_back)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            bad += 1
            continue
        if stay not in seen:
            seen.add(stay)
            calls.append(call)
    return calls, bad


def _summary(kept: bytes | str, demand: bool, returns: bool) -> DaySummary | None:
    try:
        return DaySummary.loads(kept, demand=demand, returns=returns)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # made again from the records


def _summarise_days(days: list[date], replies: list[list[bytes]], talks: list[dict[Any, Any]],
                    measured: list[dict[Any, Any]], gradings: Gradings, wrapups: Mapping[str, float]) -> dict[date, DaySummary]:
    made: dict[date, DaySummary] = {}
    for day, members, talked, wrapped in zip(days, replies, talks, measured, strict=True):
        calls, _ = _parse_day(members, gradings, talked, wrapped)
        summary = summarise(calls).get(day.isoformat(), DaySummary())
        # the journal's counts, the summary's check (duplicates and bad members included)
        summary.records, summary.talks, summary.wrapups = len(members), len(talked), len(wrapped)
        summary.count_demand(calls, wrapups)
        made[day] = summary
    return made


def _parse_batch(days: list[list[bytes]], talks: list[dict[Any, Any]], measured: list[dict[Any, Any]],
                 gradings: Gradings) -> tuple[list[JournalCall], int]:
    calls: list[JournalCall] = []
    bad = 0
    for members, talked, wrapped in zip(days, talks, measured, strict=True):
        parsed, unreadable = _parse_day(members, gradings, talked, wrapped)
        calls.extend(parsed)
        bad += unreadable
    return calls, bad


class JournalRange:
    """The journal of one or more sites (their key prefixes), read by a range of local days."""

    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, redis: Any, prefixes: Sequence[str], wrapups: Mapping[str, float] | None = None) -> None:
        self.redis = redis
        self.prefixes = tuple(prefixes)
        self.wrapups = dict(wrapups or {})
        """Each line's configured wrap-up: a day's demand counts it where a record has none of its own."""

    async def read(self, first: date, last: date) -> JournalRead:
        """The records of the local days ``first`` to ``last`` (both included), with gradings."""
        days = days_of(first, last)
        gradings = await self._gradings([*days, last + timedelta(days=1)])
        calls: list[JournalCall] = []
        bad = 0
        for start in range(0, len(days), DAYS_PER_TRIP):
            batch = days[start:start + DAYS_PER_TRIP]
            async with self.redis.pipeline(transaction=False) as pipe:
                for prefix in self.prefixes:
                    for day in batch:
                        pipe.zrange(f"{prefix}journal:{day.isoformat()}", 0, -1)
                        pipe.hgetall(f"{prefix}journal-talk:{day.isoformat()}")
                        pipe.hgetall(f"{prefix}journal-wrapup:{day.isoformat()}")
                replies = await pipe.execute()
            parsed, unreadable = await asyncio.to_thread(_parse_batch, replies[::3], replies[1::3], replies[2::3], gradings)
            calls.extend(parsed)
            bad += unreadable
        return JournalRead(calls, bad, len(days))

    async def summaries(self, first: date, last: date, today: date, *, fresh: bool = False,
                        demand: bool = True, returns: bool = True) -> dict[str, DaySummary]:
        """Each local day's summary, every site's added, ``first`` to ``last`` (days without calls
        left out); ``demand=False``: without the days' demand (a return's), ``returns=False``:
        without the return's tallies (the staffing's and the forecast's)."""
        days = days_of(first, last)
        keys = [(prefix, day) for prefix in self.prefixes for day in days]
        async with self.redis.pipeline(transaction=False) as pipe:
            for prefix, day in keys:
                pipe.zcard(f"{prefix}journal:{day.isoformat()}")
                pipe.hlen(f"{prefix}journal-talk:{day.isoformat()}")
                pipe.hlen(f"{prefix}journal-wrapup:{day.isoformat()}")
                pipe.get(f"{prefix}journal-summary:{day.isoformat()}")
            replies = await pipe.execute()
        found: dict[tuple[str, date], DaySummary] = {}
        stale: list[tuple[str, date]] = []
        for (prefix, day), count, talks, wrapups, kept in zip(keys, replies[::4], replies[1::4], replies[2::4], replies[3::4],
                                                              strict=True):
            if not count:
                continue
            summary = None if fresh or kept is None or day >= today else _summary(kept, demand, returns)
            if summary is not None and (summary.records, summary.talks, summary.wrapups) == (count, talks, wrapups):
                found[(prefix, day)] = summary
            else:
                stale.append((prefix, day))
        for prefix in self.prefixes:
            wanted = [day for p, day in stale if p == prefix]
            for start in range(0, len(wanted), DAYS_PER_TRIP):
                found.update(await self._summarise(prefix, wanted[start:start + DAYS_PER_TRIP], today))
        total: dict[str, DaySummary] = {}
        for (_, day), summary in sorted(found.items(), key=lambda kv: kv[0][1]):
            if day.isoformat() in total:  # another site's
                total[day.isoformat()].merge(summary)
            else:
                total[day.isoformat()] = summary
        return total

    async def demand(self, first: date, last: date, today: date, seconds: int = DEMAND_SECONDS,
                     signed_in: Iterable[SignedIn] = (), *, fresh: bool = False) -> list[IntervalDemand]:
        """Each line's demand per interval (a quarter, half or whole hour) of the days ``first`` to
        ``last``, from the days' summaries, by line then start: the staffing's and the forecast's.
        The same figures as :func:`intake.core.demand.intervals` of the days' records; the
        handlers signed in are never in a summary: give them (:mod:`intake.app.signed_in_store`)."""
        quarters: dict[tuple[str, float], IntervalTally] = {}
        for summary in (await self.summaries(first, last, today, fresh=fresh, returns=False)).values():
            for key, tally in summary.quarters.items():  # a day's quarters are its own: a record filed under the day before adds up
                was = quarters.get(key)
                quarters[key] = tally if was is None else was.copy().merge(tally)
        return from_tallies(quarters, seconds, signed_in)

    async def _summarise(self, prefix: str, days: list[date], today: date) -> dict[tuple[str, date], DaySummary]:
        """Make the days' summaries from their records, and keep those of days that are over."""
        reader = JournalRange(self.redis, [prefix], self.wrapups)
        gradings = await reader._gradings(sorted({d for day in days for d in (day, day + timedelta(days=1))}))
        async with self.redis.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.zrange(f"{prefix}journal:{day.isoformat()}", 0, -1)
                pipe.hgetall(f"{prefix}journal-talk:{day.isoformat()}")
                pipe.hgetall(f"{prefix}journal-wrapup:{day.isoformat()}")
            replies = await pipe.execute()
        made = await asyncio.to_thread(_summarise_days, days, replies[::3], replies[1::3], replies[2::3], gradings,
                                       self.wrapups)
        async with self.redis.pipeline(transaction=False) as pipe:
            for day, summary in made.items():
                if day < today:
                    pipe.set(f"{prefix}journal-summary:{day.isoformat()}", summary.dumps(), ex=RETENTION_SECONDS)
            await pipe.execute()
        return {(prefix, day): summary for day, summary in made.items()}

    async def _gradings(self, days: list[date]) -> Gradings:
        found: dict[str, str] = {}
        called_back: set[str] = set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for prefix in self.prefixes:
                for day in days:
                    pipe.hgetall(f"{prefix}journal-gradings:{day.isoformat()}")
                    pipe.hgetall(f"{prefix}journal-called-back:{day.isoformat()}")
            replies: list[dict[Any, Any]] = await pipe.execute()
        for reply in replies[::2]:  # the days in order: a grading filed again later wins
            for call_id, grading in reply.items():
                found[_text(call_id)] = _text(grading)
        for reply in replies[1::2]:
            called_back.update(_text(call_id) for call_id in reply)
        return Gradings(found, frozenset(called_back))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
