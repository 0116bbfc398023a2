#!/usr/bin/env python3
"""The call journal in PostgreSQL: a throwaway server, a schema, a bulk load and the questions
intake answers, in SQL. A measurement for issue 17 (docs/journal-store.md), not wired into intake.

    python3 scripts/journal_sql.py [--days 365] [--calls 1500000] [--seed 17] [--port 55435]

starts a throwaway PostgreSQL (Debian's binaries, /usr/lib/postgresql/<version>/bin; root runs it
as the ``postgres`` user), loads the seeded year of scripts/year_of_calls.py into it, answers the
questions once, prints one JSON line (load seconds, size, each answer's seconds) and stops it.

The schema: ``calls``, one row per call's stay in a queue (the journal record's fields, and the
talk time filed when it ended), partitioned by local month of queue entry, with the stay as its
key (the journal's one-record-per-stay rule) and an index by line and time; ``gradings``, the
handler's outcome grading per call, filed by day (as the journal's ``journal-gradings:{day}``).

Each question gives the very figures intake's own code gives from the Redis journal, to the last
bit (tests/bench/test_journal_sql.py checks it): SQL does the work over every record and hands
intake's reports what they would have made from day summaries (the counts per month and line, the
answer-time histogram in 0.1 s bins, the 999 gradings by hour; the demand per quarter hour), so
rounding and percentages come from the same code. Floating-point sums are added in the journal's
order (a day's records by queue entry, then call id; a month by day), as intake adds them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "scripts"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import asyncpg
from year_of_calls import DrawnCall, draw_year

from intake.core.demand import IntervalDemand
from intake.core.metrics import (
    BIN,
    LONG_WAIT_SECONDS,
    PLAUSIBLE_WAIT_SECONDS,
    AnswerTimes,
)
from intake.core.returns import (
    HOME_OFFICE_SECONDS,
    DaySummary,
    LocalTime,
    Tally,
    misuse,
    monthly_returns,
)

PORT = 55435
"""The default port. It only names the socket file in the server's own directory (no TCP), so two
servers never collide."""
DEMAND_SECONDS = 900
COLUMNS = ("call_id", "line", "queue", "target_seconds", "queued_at", "settled", "waited_seconds",
           "waited_from_arrival", "outcome_seen", "end_reason", "handler_id", "position", "talk_seconds", "day", "hour")


# --- the server ---------------------------------------------------------------------------------

def binaries() -> Path:
    """Debian's PostgreSQL server binaries, the newest version installed."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise SystemExit("PostgreSQL's server is not installed (apt-get install postgresql)")
    return found[-1].parent


@dataclass(frozen=True, slots=True)
class Server:
    socket_dir: str
    port: int
    user: str = "intake"
    database: str = "postgres"

    async def connect(self) -> asyncpg.Connection:
        """A connection. No time zone is set: the local day and hour are written with each row (by
        Python's local time, as intake's journal keys its days), and the quarter hours are the epoch's."""
        conn: asyncpg.Connection = await asyncpg.connect(host=self.socket_dir, port=self.port, user=self.user,
                                                         database=self.database)
        return conn


@contextlib.contextmanager
def postgres(port: int = PORT) -> Iterator[Server]:
    """A PostgreSQL server of its own in a temporary directory (its unix socket there, no TCP),
    removed afterwards. Durability off (fsync, synchronous commit), as the Redis it is set against
    runs without persistence. Partition-wise aggregation on: a query grouped by day sums each
    month's partition on its own, in parallel workers."""
    bin_dir = binaries()
    workdir = tempfile.mkdtemp(prefix="intake-pg-")
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: its own system user runs it
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(workdir, "postgres", "postgres")
    data, log = f"{workdir}/data", Path(workdir) / "log"
    options = (f"-p {port} -k {workdir} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c shared_buffers=256MB -c work_mem=256MB -c maintenance_work_mem=256MB "
               "-c max_wal_size=4GB -c jit=off -c enable_partitionwise_aggregate=on")
    try:
        made = subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", data, "-U", "intake", "--auth=trust", "-E", "UTF8",
                               "--locale=C"], capture_output=True, text=True)
        if made.returncode:
            raise RuntimeError(f"initdb failed: {made.stderr.strip()[-2000:]}")
        started = subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", data, "-o", options, "-l", str(log), "-w", "start"],
                                 capture_output=True, text=True)
        if started.returncode:
            raise RuntimeError(f"PostgreSQL did not start: {log.read_text()[-2000:] if log.exists() else started.stderr}")
        try:
            yield Server(workdir, port)
        finally:
            subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"], capture_output=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- the schema and the load ----------------------------------------------------------------------

def _month_starts(first: date, last: date) -> list[date]:
    months = [date(first.year, first.month, 1)]
    while months[-1] <= last:
        m = months[-1]
        months.append(date(m.year + m.month // 12, m.month % 12 + 1, 1))
    return months


async def create_schema(conn: asyncpg.Connection, first: date, last: date) -> None:
    """The tables, a partition per local month from ``first`` to ``last`` (and a default one)."""
    await conn.execute("""
        DROP TABLE IF EXISTS calls, gradings;
        CREATE TABLE calls (
            call_id text NOT NULL, line text NOT NULL, queue text NOT NULL, target_seconds float8 NOT NULL,
            queued_at float8 NOT NULL, settled text NOT NULL, waited_seconds float8 NOT NULL,
            waited_from_arrival float8, outcome_seen boolean NOT NULL, end_reason text, handler_id text,
            position text, talk_seconds float8,
            day date NOT NULL, hour smallint NOT NULL  -- local, as the journal's day keys: set on writing
        ) PARTITION BY RANGE (day);
        CREATE TABLE calls_other PARTITION OF calls DEFAULT;
        CREATE TABLE gradings (call_id text NOT NULL, filed_on date NOT NULL, grading text NOT NULL);""")
    months = _month_starts(first, last)
    for start, end in itertools.pairwise(months):
        await conn.execute(f"CREATE TABLE calls_{start:%Y_%m} PARTITION OF calls FOR VALUES FROM ('{start}') TO ('{end}')")


def rows_of(drawn: Iterable[DrawnCall]) -> tuple[list[tuple[Any, ...]], list[tuple[str, date, str]]]:
    """A day's generated calls as rows of ``calls`` and ``gradings``."""
    calls, gradings = [], []
    local = LocalTime()
    for call in drawn:
        r = call.record
        day, hour = local(r.queued_at)
        calls.append((r.call_id, r.line, r.queue, r.target_seconds, r.queued_at, r.settled, r.waited_seconds,
                      r.waited_from_arrival, r.outcome_seen, r.end_reason, r.handler_id, r.position,
                      call.talk_seconds if call.talk_seconds is not None else r.talk_seconds, date.fromisoformat(day), hour))
        if call.grading is not None:
            gradings.append((r.call_id, date.fromisoformat(day), call.grading))
    return calls, gradings


async def load_day(conn: asyncpg.Connection, drawn: list[DrawnCall]) -> None:
    """A day's calls by COPY (binary)."""
    calls, gradings = rows_of(drawn)
    await conn.copy_records_to_table("calls", records=calls, columns=COLUMNS)
    if gradings:
        await conn.copy_records_to_table("gradings", records=gradings, columns=("call_id", "filed_on", "grading"))


async def index(conn: asyncpg.Connection) -> None:
    """The keys and indexes, made after the load (faster than kept up row by row), and the planner's statistics."""
    await conn.execute("""
        ALTER TABLE calls ADD PRIMARY KEY (call_id, queue, queued_at, day);
        CREATE INDEX calls_line_time ON calls (line, queued_at);
        CREATE INDEX gradings_call ON gradings (call_id, filed_on);
        ANALYZE calls; ANALYZE gradings;""")


async def size_bytes(conn: asyncpg.Connection) -> dict[str, int]:
    """On-disk bytes: the journal's tables with their indexes, and the whole database."""
    rows = await conn.fetch("""
        SELECT (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('calls')) AS calls,
               pg_total_relation_size('gradings') AS gradings, pg_database_size(current_database()) AS database""")
    return {k: int(v) for k, v in rows[0].items()}


# --- the questions ---------------------------------------------------------------------------------

# The days' calls with their wait from connection (the Home Office's): a subquery, not a CTE, so
# that each use reads the table itself (a CTE used twice is materialised: 1.5 M rows copied).
_CALLS = """(
    SELECT call_id, line, queued_at, settled, waited_seconds, target_seconds, day,
           coalesce(waited_from_arrival, waited_seconds) AS w
    FROM calls WHERE day BETWEEN $1 AND $2) c"""
_TIMED = f"settled = 'answered' AND w BETWEEN 0 AND {PLAUSIBLE_WAIT_SECONDS}"  # intake's AnswerTimes keeps these
_MONTH = "day - date_part('day', day)::int + 1"  # the month's first day (cheaper than to_char per row)

RETURN_SQL = f"""
WITH days AS (
    SELECT day, line, count(*) AS offered,
           count(*) FILTER (WHERE settled = 'answered') AS answered,
           count(*) FILTER (WHERE settled = 'answered' AND w <= {HOME_OFFICE_SECONDS}) AS within_10s,
           count(*) FILTER (WHERE settled = 'answered' AND waited_seconds <= target_seconds) AS within_target,
           count(*) FILTER (WHERE w > {LONG_WAIT_SECONDS}) AS over_2min,
           count(*) FILTER (WHERE settled = 'abandoned') AS abandoned,
           min(target_seconds) AS least_target, max(target_seconds) AS most_target,
           count(*) FILTER (WHERE {_TIMED}) AS timed,
           sum(w ORDER BY queued_at, call_id COLLATE "C") FILTER (WHERE {_TIMED}) AS total
    FROM {_CALLS} GROUP BY day, line),
months AS (
    SELECT {_MONTH} AS month, line, sum(offered)::int AS offered, sum(answered)::int AS answered,
           sum(within_10s)::int AS within_10s, sum(within_target)::int AS within_target,
           sum(over_2min)::int AS over_2min, sum(abandoned)::int AS abandoned,
           min(least_target) AS least_target, max(most_target) AS most_target,
           sum(timed)::int AS timed, coalesce(sum(total ORDER BY day), 0) AS total
    FROM days GROUP BY 1, 2),
bins AS (
    SELECT {_MONTH} AS month, line, trunc(w / {BIN}::float8)::int AS bin, count(*)::int AS n
    FROM {_CALLS} WHERE {_TIMED} GROUP BY 1, 2, 3),
histograms AS (
    SELECT month, line, array_agg(bin ORDER BY bin) AS bins, array_agg(n ORDER BY bin) AS ns FROM bins GROUP BY 1, 2)
SELECT to_char(m.month, 'YYYY-MM') AS month, m.line, offered, answered, within_10s, within_target, over_2min, abandoned,
       least_target, most_target, timed, total, coalesce(h.bins, '{{}}') AS bins, coalesce(h.ns, '{{}}') AS ns
FROM months m LEFT JOIN histograms h USING (month, line)"""

MISUSE_SQL = """
SELECT to_char(c.day, 'YYYY-MM') AS month, c.hour::int AS hour, g.grading, count(*)::int AS calls
FROM calls c JOIN (
    SELECT DISTINCT ON (call_id) call_id, grading FROM gradings
    WHERE filed_on BETWEEN $3 AND $4 ORDER BY call_id, filed_on DESC) g USING (call_id)
WHERE c.line = '999' AND c.day BETWEEN $1 AND $2
GROUP BY 1, 2, 3"""

DEMAND_SQL = f"""
WITH c AS (
    SELECT line, day, settled, waited_seconds, target_seconds, queued_at, call_id, floor(queued_at)::bigint AS second,
           talk_seconds + coalesce(($4::float8[])[array_position($3::text[], line)], 0) AS handle
    FROM calls WHERE day BETWEEN $1 AND $2)
-- the local quarter hour: every zone's offset is a whole number of quarter hours, so it starts
-- where the epoch's does. Grouped by day too (a quarter hour is in one day), so that each month's
-- partition is summed on its own, in parallel; no ORDER BY, which would merge them in one process.
SELECT line, (second - mod(second, {DEMAND_SECONDS}))::float8 AS start, count(*)::int AS offered,
       count(*) FILTER (WHERE settled = 'answered')::int AS answered,
       count(*) FILTER (WHERE settled = 'abandoned')::int AS abandoned,
       count(*) FILTER (WHERE settled = 'answered' AND waited_seconds <= target_seconds)::int AS within,
       count(*) FILTER (WHERE settled = 'answered' AND handle IS NOT NULL)::int AS handled,
       sum(handle ORDER BY queued_at, call_id COLLATE "C") FILTER (WHERE settled = 'answered' AND handle IS NOT NULL) AS handle,
       sum(greatest(0, waited_seconds) ORDER BY queued_at, call_id COLLATE "C") AS waited
FROM c GROUP BY line, day, 2"""

TALK_P90_SQL = """
SELECT line, hour::int AS hour, count(*)::int AS calls,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY talk_seconds) AS p90_talk_seconds
FROM calls WHERE day BETWEEN $1 AND $2 AND settled = 'answered' AND talk_seconds IS NOT NULL
GROUP BY 1, 2 ORDER BY 1, 2"""


async def month_summaries(conn: asyncpg.Connection, first: date, last: date) -> dict[str, DaySummary]:
    """Each local month's figures for the return and the misuse table, keyed by month (YYYY-MM):
    what :func:`intake.core.returns.monthly_returns` and :func:`~intake.core.returns.misuse`
    read, as they would from the days' summaries. Gradings filed from ``first`` to the day after
    ``last`` count, the latest filed winning (as the journal's reader)."""
    months: dict[str, DaySummary] = {}
    for r in await conn.fetch(RETURN_SQL, first, last):
        times = AnswerTimes(Counter(dict(zip(r["bins"], r["ns"], strict=True))), r["timed"], r["total"])
        # the row reads whether the month had one target and which: its least and most say that
        tally = Tally(r["offered"], r["answered"], r["within_10s"], r["within_target"], r["over_2min"], r["abandoned"],
                      {r["least_target"], r["most_target"]}, times)
        months.setdefault(r["month"], DaySummary()).lines[r["line"]] = tally
    for r in await conn.fetch(MISUSE_SQL, first, last, first, last + timedelta(days=1)):
        months.setdefault(r["month"], DaySummary()).graded[(r["hour"], r["grading"])] += r["calls"]
    return dict(sorted(months.items()))


async def returns(conn: asyncpg.Connection, first: date, last: date) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The monthly national return per line and the 999 misuse table (``intake returns``)."""
    months = await month_summaries(conn, first, last)
    return monthly_returns(months), misuse(months)


async def demand_history(conn: asyncpg.Connection, first: date, last: date,
                         wrapups: Mapping[str, float]) -> list[IntervalDemand]:
    """Each line's demand per local quarter hour, by line then start: the forecast's history
    (:meth:`intake.app.journal_range.JournalRange.demand`)."""
    lines, seconds = list(wrapups), [float(v) for v in wrapups.values()]
    rows = sorted(await conn.fetch(DEMAND_SQL, first, last, lines, seconds), key=lambda r: (r["line"], r["start"]))
    return [IntervalDemand(r["line"], r["start"], DEMAND_SECONDS, r["offered"], r["answered"], r["abandoned"], r["within"],
                           r["handle"] / r["handled"] if r["handled"] else None,
                           r["waited"] / r["abandoned"] if r["abandoned"] else None, r["waited"], None, handled=r["handled"])
            for r in rows]


async def talk_p90(conn: asyncpg.Connection, first: date, last: date) -> list[dict[str, Any]]:
    """The p90 talk time (nearest rank) of each line's answered calls per local hour of the day: a
    question no day summary answers, so it reads every record."""
    return [dict(r) for r in await conn.fetch(TALK_P90_SQL, first, last)]


# --- a run on its own -----------------------------------------------------------------------------

async def load_year(conn: asyncpg.Connection, start: date, days: int, calls: int, seed: int) -> int:
    """The seeded year of scripts/year_of_calls.py, loaded and indexed; the calls loaded."""
    await create_schema(conn, start, start + timedelta(days=days - 1))
    loaded = 0
    for _, drawn in draw_year(start, days, calls, seed):
        await load_day(conn, drawn)
        loaded += len(drawn)
    await index(conn)
    return loaded


async def run(server: Server, start: date, days: int, calls: int, seed: int) -> dict[str, object]:
    conn = await server.connect()
    try:
        last = start + timedelta(days=days - 1)
        began = time.perf_counter()
        loaded = await load_year(conn, start, days, calls, seed)
        seconds = {"load_and_index": time.perf_counter() - began}
        for name, ask in (("returns_and_misuse", returns(conn, start, last)),
                          ("demand_history", demand_history(conn, start, last, {"999": 10.0, "101": 10.0})),
                          ("talk_p90_per_line_and_hour", talk_p90(conn, start, last))):
            t = time.perf_counter()
            await ask
            seconds[name] = time.perf_counter() - t
        return {"calls": loaded, "seconds": {k: round(v, 2) for k, v in seconds.items()},
                "size_mb": {k: round(v / 2**20) for k, v in (await size_bytes(conn)).items()}}
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1))
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--calls", type=int, default=1_500_000)
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--port", type=int, default=PORT)
    args = p.parse_args(argv)
    with postgres(args.port) as server:
        print(json.dumps(asyncio.run(run(server, args.start, args.days, args.calls, args.seed))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
