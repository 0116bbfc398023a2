"""The handlers signed in to each line, minute by minute, kept in Redis beside the journal: what
``intake staffing`` and ``GET /api/staffing/{day}`` set each interval's handlers needed against.

Key layout: ``{prefix}signed-in:{YYYY-MM-DD}`` (the sample's local day, as the journal's days) is
a hash, ``line|minute`` (the minute's start, epoch seconds) -> handlers signed in; a minute's
sample written again (the count changed within it) replaces the first. Kept as long as the
journal (:data:`intake.app.journal.RETENTION_SECONDS`).

Only the site's leader samples (:meth:`intake.app.site.Site.sample_signed_in`), behind the event
path: a write that fails is logged and the minute goes without a sample (the interval's figure is
the mean of the minutes that have one), never raised into the ticker. A sample is not a call's
record: it is not spooled or retried. The days' summaries never hold these figures (they would
freeze an interval whose minutes are still coming in): readers read them beside, every time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import structlog
from redis.exceptions import RedisError

from intake.app.journal import RETENTION_SECONDS
from intake.app.journal_range import _text, days_of
from intake.core.demand import SignedIn
from intake.core.metrics import local_day

log = structlog.get_logger("intake.signed_in")


def signed_in_key(prefix: str, day: str) -> str:
    return f"{prefix}signed-in:{day}"


class SignedInStore:
    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, redis: Any, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    async def write(self, samples: Iterable[SignedIn]) -> None:
        """Keep the samples; a failure is logged, never raised (the minute goes without)."""
        days: dict[str, dict[str, int]] = {}
        for s in samples:
            days.setdefault(local_day(s.at), {})[f"{s.line}|{int(s.at)}"] = s.handlers
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for day, fields in days.items():
                    pipe.hset(signed_in_key(self.prefix, day), mapping=fields)
                    pipe.expire(signed_in_key(self.prefix, day), RETENTION_SECONDS)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("signed_in_not_kept", prefix=self.prefix, error=str(exc))


# Any: a redis.asyncio client or fakeredis's in-process one, as SignedInStore's
async def read_signed_in(redis: Any, prefixes: Sequence[str], first: date, last: date) -> list[SignedIn]:
    """The samples of the local days ``first`` to ``last`` of every site (one key prefix each); a
    line two sites sampled in the same minute counts both sites' handlers. A field that is not a
    sample is left out."""
    keys = [signed_in_key(prefix, day.isoformat()) for prefix in prefixes for day in days_of(first, last)]
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(key)
        replies: list[dict[Any, Any]] = await pipe.execute()
    total: dict[tuple[str, float], int] = {}
    for reply in replies:
        for field, value in reply.items():
            line, _, minute = _text(field).rpartition("|")
            try:
                at, handlers = float(int(minute)), int(value)
            except ValueError:
                continue
            if line:
                total[(line, at)] = total.get((line, at), 0) + handlers
    return [SignedIn(at, line, handlers) for (line, at), handlers in sorted(total.items())]

