"""The Redis an ``intake`` command-line verb works on: from ``--redis-url``, or the configuration
file's ``[redis]`` (one Redis by URL, or the primary the Sentinels name), with its key prefix."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from intake.app.connections import make_redis, redis_of
from intake.core import config as config_mod
from intake.core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class CliRedis:
    redis: Any  # Any: a redis.asyncio client, used through its common commands
    prefix: str
    config: config_mod.IntakeConfig | None  # None with --redis-url


def cli_redis(verb: str, config_path: str | None, redis_url: str | None) -> CliRedis | None:
    """The verb's Redis, or None after saying on stderr why there is none."""
    prefix, redis_config, password, cfg = "intake:", None, None, None
    if redis_url is None:
        if config_path is None:
            print(f"intake {verb}: give --config or --redis-url", file=sys.stderr)
            return None
        try:
            cfg = config_mod.load(config_path)
            if cfg.redis.password is not None:
                password = config_mod.SecretRef(cfg.redis.password).resolve()
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return None
        except LookupError as exc:
            print(f"intake {verb}: redis.password: {exc}", file=sys.stderr)
            return None
        redis_url, prefix, redis_config = cfg.redis.url, cfg.redis.key_prefix, cfg.redis
    if redis_url == "embedded" and not (redis_config and redis_config.sentinels):
        print(f"intake {verb}: the embedded store lives inside a running server; this works on Redis", file=sys.stderr)
        return None
    redis = make_redis(redis_url) if redis_config is None else redis_of(redis_config, password)  # Sentinel: its primary
    return CliRedis(redis, prefix, cfg)
