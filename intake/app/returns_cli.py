"""``intake returns --from DAY --to DAY``: the national returns from the journal, as JSON or CSV.

JSON: ``{"from", "to", "site", "records", "returns": [...], "misuse": {"rows", "months"}}``;
``--csv`` prints one table (``--table returns``, the default, or ``misuse``) in the layout
docs/returns.md documents. The journal of every site the configuration names is read (``--site``:
one). Past days' summaries kept beside the journal are used (``--fresh``: made again from the
records). Recorded in the audit trail as a consultation of a report (counts, no caller's data).
"""

from __future__ import annotations

import json
import sys
from datetime import date

from intake.app.audit_cli import cli_trail, operator, recorded
from intake.app.cli_redis import cli_redis
from intake.app.connections import close_redis
from intake.app.journal_range import JournalRange, wrapups_of
from intake.core.audit import Action, RecordKind
from intake.core.returns import (
    MISUSE_COLUMNS,
    RETURN_COLUMNS,
    as_csv,
    misuse,
    monthly_returns,
)


async def returns(config_path: str | None, redis_url: str | None, first: date, last: date, *,
                  csv_table: str | None = None, site: str | None = None, fresh: bool = False) -> int:
    if last < first:
        print(f"intake returns: --to {last} is before --from {first}", file=sys.stderr)
        return 2
    found = cli_redis("returns", config_path, redis_url)
    if found is None:
        return 2
    prefixes = [found.prefix]
    if found.config is not None:
        names = [s.name for s in found.config.sites]
        if site is not None and site not in names:
            print(f"intake returns: no site {site!r} (the configuration has {', '.join(names)})", file=sys.stderr)
            await close_redis(found.redis)
            return 2
        prefixes = [found.config.site_config(n).redis.key_prefix for n in names if site in (None, n)]
    trail = cli_trail(found)
    try:
        wrapups = wrapups_of(found.config) if found.config is not None else {}
        days = await JournalRange(found.redis, prefixes, wrapups).summaries(first, last, date.today(), fresh=fresh)
        name = f"returns-{first}-{last}" + (f"-{site}" if site else "")
        trail.record(operator(), Action.CONSULTED, RecordKind.REPORT, why="intake returns", record=name)
        ok = await recorded(trail)
    finally:
        await close_redis(found.redis, trail.store.redis)
    rows, misused = monthly_returns(days), misuse(days)
    if csv_table == "misuse":
        sys.stdout.write(as_csv(misused["rows"], MISUSE_COLUMNS))
    elif csv_table is not None:
        sys.stdout.write(as_csv(rows, RETURN_COLUMNS))
    else:
        print(json.dumps({"from": first.isoformat(), "to": last.isoformat(), "site": site, "records": sum(d.records for d in days.values()),
                          "returns": rows, "misuse": misused}))
    return 0 if ok else 1
