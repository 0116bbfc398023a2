"""``intake history import FILE``: warning markers from JSON lines, every line checked, all or nothing."""

from __future__ import annotations

import sys
from pathlib import Path

from intake.app.audit_cli import cli_trail, operator, recorded
from intake.app.cli_redis import cli_redis
from intake.app.connections import close_redis
from intake.core.audit import Action, RecordKind
from screenpop.history import HistoryConfig, HistoryStore
from screenpop.importer import import_markers


async def import_file(config_path: str | None, file: str, *, redis_url: str | None = None) -> int:
    found = cli_redis("history import", config_path, redis_url)
    if found is None:
        return 2
    trail = cli_trail(found)
    try:
        try:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            print(f"{file}: cannot read: {exc}", file=sys.stderr)
            return 2
        report = await import_markers(HistoryStore(found.redis, HistoryConfig(prefix=found.prefix)), lines)
        for marker in report.markers:  # collected: each in the audit trail
            trail.record(operator(), Action.COLLECTED, RecordKind.MARKER, why=f"imported from {Path(file).name}",
                         number=marker.number, record=marker.id)
        recorded_ok = await recorded(trail)
    finally:
        await close_redis(found.redis, trail.store.redis)
    if not report.ok:
        for problem in report.problems:
            print(f"{file}: {problem}", file=sys.stderr)
        print(f"{file}: nothing imported ({len(report.problems)} problem(s))", file=sys.stderr)
        return 1
    print(f"{file}: imported {report.written} marker(s)")
    return 0 if recorded_ok else 1
