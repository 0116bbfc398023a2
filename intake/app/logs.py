"""Structured logs: one JSON object a line, the call's id bound where there is one.

Secrets never reach a log line: any field whose name says secret, token or password is masked by
:func:`redact` wherever it was bound, so a careless ``log.info(..., **config)`` cannot leak one.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

SENSITIVE = ("secret", "token", "password", "authorization")


@functools.lru_cache(maxsize=4096)
def _sensitive(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SENSITIVE)


# Any: structlog's processor signature (logger and event values are whatever the caller bound)
def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Every log line passes here: the verdict per key name is computed once (the names are few).
    for key in event:
        if _sensitive(key):
            event[key] = "***"  # same keys, new value: safe while iterating
    return event


# Any: a text stream (a file, sys.stderr or a test's buffer)
def configure(level: str = "info", *, json: bool = True, stream: Any = None) -> None:
    """Log lines as JSON (orjson: several times faster than the standard library's encoder, and
    the event path writes a few lines per call) to ``stream`` (bytes), default stderr."""
    if json:
        renderer: Any = structlog.processors.JSONRenderer(serializer=orjson.dumps)
        factory: Any = structlog.BytesLoggerFactory(stream or sys.stderr.buffer)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        factory = structlog.PrintLoggerFactory(stream or sys.stderr)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=factory,
        # Module-level loggers are built once, not on every line (the hot path's biggest cost
        # before this); configure() is called once per process, before any line is written.
        cache_logger_on_first_use=True,
    )
