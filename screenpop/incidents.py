"""The incident store: what has happened where, in Redis, with a GEO index, for the pop.

Key layout (``prefix`` as the history's, ``intake:`` by default)::

    {prefix}incidents:geo:{YYYY-MM}  GEO (a ZSET)  member = "<source>:<id>"  the month's incidents, by point
    {prefix}incidents:at             ZSET          member = "<source>:<id>"  score = when it happened
    {prefix}incidents:record         HASH          "<source>:<id>" -> Incident JSON

An incident is written to its month's GEO set, the time index and the records together in one
MULTI/EXEC; writing it again (the same source and id) replaces it (and moves it, if its month
changed), so every feed is idempotent by id: the force's command-and-control system may send an
incident as often as its status changes, and a crime file may be imported twice. Ids are kept
apart per source (a force's "123" is not police.uk's).

**Why a GEO set per month**: a pop looks only at the period (90 days by default) of a store that
keeps a year or more; a city centre holds thousands of incidents within the radius over a year.
A lookup searches only the months of the period, and only the oldest of them needs each hit's
time checked (measured on a year of a large force's crime: scripts/bench_incidents.py).

**Retention**: every write removes incidents older than ``retention_seconds`` (by when they
happened) from the time index and the records; a month's GEO set expires whole ``retention_seconds``
after the month's end, and the time index and records that long after the last write, so with no
feed at all nothing outlives it either. A lookup never shows one older than ``period_seconds``,
which is never longer than the retention (the configuration checks it).

**Lookup** (:meth:`IncidentStore.near`, or :meth:`IncidentStore.near_call` sent with the
history's script in one round trip, :mod:`screenpop.pop_lookup`): one script finds, in each month
of the period, the nearest ``limit`` within ``radius_m`` (in the oldest month, of at most
``SCAN_LIMIT``, those within the period), and reads the nearest ``limit`` of them all. The pop
lists them at the caller's address first (within ``address_m``: the incidents at the caller's own
door, as markers are shown first), then nearest, then newest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from screenpop.models import describe
from screenpop.places import IncidentSource, NearbyIncident, Point
from screenpop.scripts import Script, ScriptCall, run_scripts

log = structlog.get_logger("screenpop.incidents")

DAY = 86_400.0
GEO_MAX_LAT = 85.05112878
"""Redis's GEO index covers the Web Mercator square: a point beyond this latitude cannot be indexed."""
SCAN_LIMIT = 2000
"""At most this many incidents within the radius are looked at, the nearest: a bounded script
even in a city centre with years of crime; the ``limit`` shown are the nearest of those in the period."""
WRITE_CHUNK = 5000
"""Incidents per MULTI/EXEC: the REST bulk's most (all or none); a crime file goes in several."""


class Incident(BaseModel):
    """An incident as a feed gives it and the store keeps it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
    """The feed's own id (printable ASCII, no spaces): with ``source``, what makes writes idempotent."""
    source: IncidentSource
    type: str = Field(min_length=1, max_length=120)
    grade: str = Field(default="", max_length=40)
    status: str = Field(default="", max_length=60)
    at: float = Field(allow_inf_nan=False)
    """When it happened (epoch seconds); for an imported crime, the first instant of its month."""
    point: Point

    @property
    def member(self) -> str:
        return f"{self.source}:{self.id}"


@dataclass(frozen=True, slots=True)
class IncidentStoreConfig:
    prefix: str = "intake:"
    radius_m: float = 500.0
    period_seconds: float = 90 * DAY
    limit: int = 20
    """At most this many incidents on a pop."""
    address_m: float = 25.0
    """Within this of the caller's location, an incident is at their address (listed first)."""
    retention_seconds: float = 400 * DAY

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= 200:  # unpacked into one HMGET
            raise ValueError(f"limit must be 1..200, got {self.limit}")
        if self.period_seconds > self.retention_seconds:
            raise ValueError("period_seconds must not be longer than retention_seconds")


_NEAR = Script.of("""
-- KEYS: time index, records, the period's oldest month's GEO set, its other months' GEO sets
-- ARGV: lon, lat, radius (m), since, how many to read, how many to look at in the oldest month
local since, limit, scan = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local hits = {}
for k = 3, #KEYS do
  local oldest = k == 3  -- the only month that may hold incidents from before the period
  local found = redis.call('GEOSEARCH', KEYS[k], 'FROMLONLAT', ARGV[1], ARGV[2], 'BYRADIUS', ARGV[3], 'm',
                           'ASC', 'COUNT', oldest and scan or limit, 'WITHDIST')
  local kept = 0
  for _, hit in ipairs(found) do
    local at = not oldest or redis.call('ZSCORE', KEYS[1], hit[1])
    if at and (not oldest or tonumber(at) > since) then
      hits[#hits + 1] = {tonumber(hit[2]), hit[1]}
      kept = kept + 1
      if kept >= limit then break end
    end
  end
end
table.sort(hits, function(a, b) return a[1] < b[1] end)
local ids, distances = {}, {}
for i = 1, math.min(limit, #hits) do
  ids[i] = hits[i][2]
  distances[i] = tostring(hits[i][1])
end
if #ids == 0 then return {{}, {}} end
return {distances, redis.call('HMGET', KEYS[2], unpack(ids))}
""")

_PRUNE = Script.of("""
-- KEYS: time index, records; ARGV: remove what happened before this, at most this many
-- (their months' GEO sets expire whole; a lookup never reaches back to them)
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #old > 0 then
  redis.call('ZREM', KEYS[1], unpack(old))
  redis.call('HDEL', KEYS[2], unpack(old))
end
return #old
""")
PRUNE_LIMIT = 5000  # per script call (unpack's bound), looped by prune()


class IncidentStore:
    """Writes incidents and finds those near a caller; every method is one round trip but prune()."""

    # Any: a redis.asyncio client or fakeredis's (the demo's embedded store), through their common commands
    def __init__(self, client: Any, config: IncidentStoreConfig = IncidentStoreConfig(), *, reader: Any = None) -> None:
        """``reader``: where lookups go, if not ``client`` (with Sentinel: whichever server answers)."""
        self._redis = client
        self.reader = client if reader is None else reader
        self.config = config
        p = config.prefix
        self.keys = (f"{p}incidents:at", f"{p}incidents:record")
        self._geo = f"{p}incidents:geo:"

    def geo_key(self, month: str) -> str:
        """The GEO set of one month's incidents ("YYYY-MM", UTC)."""
        return self._geo + month

    async def put(self, incidents: Iterable[Incident], now: float) -> int:
        """Store ``incidents`` (a later one with the same source and id replaces an earlier) and
        remove what is past retention; returns how many were stored. Up to ``WRITE_CHUNK`` go in
        one MULTI/EXEC, all or none; more (a crime file) go in one MULTI/EXEC per chunk, so that
        Redis never stops for one huge transaction: a failure half-way leaves the chunks before
        it, and the same write again (ids are stable) completes it. Each chunk first reads the
        months its incidents were in (one round trip), to move those whose month changed."""
        given = list({i.member: i for i in incidents}.values())  # the last of one id wins, as a later write would
        at, record = self.keys
        keep = self.config.retention_seconds
        ttl = max(1, int(keep))
        for start in range(0, max(1, len(given)), WRITE_CHUNK):
            chunk = given[start:start + WRITE_CHUNK]
            moved = await self._moved(chunk)
            async with self._redis.pipeline(transaction=True) as tx:
                for month, members in moved.items():
                    tx.zrem(self.geo_key(month), *members)
                by_month: dict[str, list[float | str]] = {}
                for i in chunk:
                    by_month.setdefault(month_of(i.at), []).extend((i.point.lon, i.point.lat, i.member))
                for month, places in by_month.items():
                    tx.geoadd(self.geo_key(month), places)
                    tx.expireat(self.geo_key(month), int(month_end(month) + keep) + 1)
                if chunk:
                    tx.zadd(at, {i.member: i.at for i in chunk})
                    tx.hset(record, mapping={i.member: i.model_dump_json() for i in chunk})
                if start + WRITE_CHUNK >= len(given):
                    tx.eval(_PRUNE.source, 2, *self.keys, repr(now - keep), PRUNE_LIMIT)
                for key in self.keys:
                    tx.expire(key, ttl)
                await tx.execute()
        return len(given)

    async def _moved(self, chunk: Sequence[Incident]) -> dict[str, list[str]]:
        """Month -> the members of ``chunk`` stored under it that now belong to another month."""
        if not chunk:
            return {}
        moved: dict[str, list[str]] = {}
        before = await self._redis.hmget(self.keys[1], [i.member for i in chunk])
        for incident, stored in zip(chunk, before):
            if stored is None:
                continue
            try:
                was = month_of(Incident.model_validate_json(stored).at)
            except ValidationError:
                continue  # unreadable: its month is unknown (its GEO set expires with the month)
            if was != month_of(incident.at):
                moved.setdefault(was, []).append(incident.member)
        return moved

    async def prune(self, now: float) -> int:
        """Remove every incident past retention (the writes remove them too, a bounded batch each)."""
        removed = 0
        while True:
            gone = int(await self._redis.eval(_PRUNE.source, 2, *self.keys,
                                              repr(now - self.config.retention_seconds), PRUNE_LIMIT))
            removed += gone
            if gone < PRUNE_LIMIT:
                return removed

    def near_call(self, point: Point, now: float) -> ScriptCall | None:
        """The script call that finds the incidents near ``point`` (None: a point the index cannot hold)."""
        if abs(point.lat) > GEO_MAX_LAT:
            return None
        c = self.config
        since = now - c.period_seconds
        # A day past now: an incident the force's clock puts a little ahead of ours is still shown.
        months = [self.geo_key(month) for month in months_between(since, now + DAY)]
        return ScriptCall(_NEAR, (*self.keys, *months), (repr(point.lon), repr(point.lat), repr(c.radius_m),
                                                         repr(since), c.limit, SCAN_LIMIT))

    # Any: the script's reply, Redis values
    def read_near(self, reply: Sequence[Any]) -> tuple[NearbyIncident, ...]:
        """The script's reply as the pop lists it: at the address first, then nearest, then newest.
        A record this version cannot read is left out and logged (the rest are shown)."""
        distances, records = reply
        found: list[NearbyIncident] = []
        seen: set[bytes] = set()
        for distance, raw in zip(distances, records):
            # None: removed since; seen: a member two writers moved at once is in two months, the nearer wins
            if raw is None or raw in seen:
                continue
            seen.add(raw)
            try:
                incident = Incident.model_validate_json(raw)
            except ValidationError as exc:
                log.error("incident_record_unreadable", problems="; ".join(describe(exc)))
                continue
            metres = round(float(distance), 1)
            found.append(NearbyIncident(id=incident.id, source=incident.source, type=incident.type,
                                        grade=incident.grade, status=incident.status, at=incident.at,
                                        point=incident.point, distance_m=metres,
                                        at_address=metres <= self.config.address_m))
        return tuple(sorted(found, key=lambda i: (not i.at_address, i.distance_m, -i.at)))

    async def near(self, point: Point, now: float) -> tuple[NearbyIncident, ...]:
        """The incidents within the radius and period of ``point`` (a Location is one), in one round trip."""
        call = self.near_call(point, now)
        if call is None:
            return ()
        (reply,) = await run_scripts(self.reader, [call])
        return self.read_near(reply)


def month_of(at: float) -> str:
    """The UTC month ("YYYY-MM") of an epoch time."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m")


def month_end(month: str) -> float:
    """The first instant after the month ("YYYY-MM")."""
    year, number = int(month[:4]), int(month[5:])
    return datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC).timestamp()


def months_between(since: float, until: float) -> list[str]:
    """Every month from ``since``'s to ``until``'s, oldest first."""
    months, month = [], month_of(since)
    last = month_of(until)
    while month <= last:
        months.append(month)
        month = month_of(month_end(month))
    return months
