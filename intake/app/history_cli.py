"""``intake history import FILE``: warning markers from JSON lines, every line checked, all or nothing."""

from __future__ import annotations

import sys
from pathlib import Path

from intake.app.connections import close_redis, make_redis, redis_of
from intake.core import config as config_mod
from intake.core.errors import ConfigError
from screenpop.history import HistoryConfig, HistoryStore
from screenpop.importer import import_markers


async def import_file(config_path: str | None, file: str, *, redis_url: str | None = None) -> int:
    prefix, redis_config, password = "intake:", None, None
    if redis_url is None:
        if config_path is None:
            print("intake history import: give --config or --redis-url", file=sys.stderr)
            return 2
        try:
            cfg = config_mod.load(config_path)
            if cfg.redis.password is not None:
                password = config_mod.SecretRef(cfg.redis.password).resolve()
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        except LookupError as exc:
            print(f"intake history import: redis.password: {exc}", file=sys.stderr)
            return 2
        redis_url, prefix, redis_config = cfg.redis.url, cfg.redis.key_prefix, cfg.redis
    if redis_url == "embedded" and not (redis_config and redis_config.sentinels):
        print("intake history import: the embedded store lives inside a running server; import into Redis", file=sys.stderr)
        return 2
    try:
        lines = Path(file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{file}: cannot read: {exc}", file=sys.stderr)
        return 2
    redis = make_redis(redis_url) if redis_config is None else redis_of(redis_config, password)  # Sentinel: its primary
    try:
        report = await import_markers(HistoryStore(redis, HistoryConfig(prefix=prefix)), lines)
    finally:
        await close_redis(redis)
    if not report.ok:
        for problem in report.problems:
            print(f"{file}: {problem}", file=sys.stderr)
        print(f"{file}: nothing imported ({len(report.problems)} problem(s))", file=sys.stderr)
        return 1
    print(f"{file}: imported {report.written} marker(s)")
    return 0
