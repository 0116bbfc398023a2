"""``intake audit verify``, ``intake audit export`` and ``intake erase``: the trail checked, a
number's entries handed over, a number's records erased. Each disclosure and erasure is itself
recorded, by the operating-system user who ran the command."""

from __future__ import annotations

import getpass
import socket
import sys
from datetime import datetime

from intake.app.audit import AuditTrail, encode_lines
from intake.app.cli_redis import CliRedis, cli_redis
from intake.app.connections import close_redis
from intake.app.retention import erase
from intake.core.audit import Action, AuditEntry, Finding, RecordKind, Who
from screenpop.history import HistoryConfig, HistoryStore
from screenpop.models import is_history_number

WRITE_TIMEOUT = 10.0  # seconds the command's own entry may take to reach Redis (a replica, with Sentinel)


def operator() -> Who:
    """Who runs the command: the operating-system user on this machine."""
    user = getpass.getuser()
    return Who(subject=f"os:{user}@{socket.gethostname()}", id=user, role="admin")


def cli_trail(found: CliRedis) -> AuditTrail:
    from intake.app.connections import writer_redis
    from intake.app.replicas import Replicas

    replicas = found.config.redis.replicas_to_wait if found.config is not None else 0
    wait = found.config.redis.wait_timeout_seconds if found.config is not None else 1.0
    return AuditTrail(writer_redis(found.redis, replicas), found.prefix, node=f"cli:{socket.gethostname()}",
                      replicas=Replicas(replicas, wait) if replicas else None, retry_every=0.5)


async def recorded(trail: AuditTrail) -> bool:
    """Wait for the command's own entries; False (said on stderr) if they did not reach Redis."""
    await trail.close(WRITE_TIMEOUT)
    if len(trail):
        print(f"intake: {len(trail)} audit entr(y/ies) not written (Redis did not take them): see the log",
              file=sys.stderr)
        return False
    return True


async def verify(config_path: str | None, redis_url: str | None) -> int:
    found = cli_redis("audit verify", config_path, redis_url)
    if found is None:
        return 2
    trail = cli_trail(found)
    try:
        result = await trail.store.verify()
    finally:
        await close_redis(found.redis, trail.store.redis)
    if isinstance(result, Finding):
        print(f"audit trail NOT intact: {result}", file=sys.stderr)
        return 1
    print(f"audit trail intact: {result.entries} entries; last {result.tail.encode()}")
    return 0


def moment(text: str) -> float:
    """Epoch seconds, or an ISO date or date-time (local time unless it says otherwise)."""
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text).timestamp()


def _about(verb: str, number: str, config_path: str | None, redis_url: str | None) -> tuple[CliRedis, AuditTrail] | None:
    """The verb's Redis and audit trail, for a number; None after saying on stderr why not."""
    if not is_history_number(number):
        print(f"intake {verb}: {number!r} is not a caller number", file=sys.stderr)
        return None
    found = cli_redis(verb, config_path, redis_url)
    return None if found is None else (found, cli_trail(found))


async def export(config_path: str | None, redis_url: str | None, number: str, since: float | None,
                 until: float | None, reason: str) -> int:
    if (opened := _about("audit export", number, config_path, redis_url)) is None:
        return 2
    found, trail = opened
    try:
        entries: list[AuditEntry] = [link.entry async for link in trail.store.entries(number=number, since=since,
                                                                                      until=until)]
        sys.stdout.write(encode_lines(entries))
        trail.record(operator(), Action.DISCLOSED, RecordKind.AUDIT, why=f"reason: {reason}", number=number,
                     record=f"{len(entries)} entries")
        ok = await recorded(trail)
    finally:
        await close_redis(found.redis, trail.store.redis)
    print(f"intake audit export: {len(entries)} entries about {number}", file=sys.stderr)
    return 0 if ok else 1


async def erase_number(config_path: str | None, redis_url: str | None, number: str, reason: str) -> int:
    if (opened := _about("erase", number, config_path, redis_url)) is None:
        return 2
    found, trail = opened
    try:
        history = HistoryStore(found.redis, HistoryConfig(prefix=found.prefix))
        done = await erase(found.redis, history, found.prefix, number)
        trail.record(operator(), Action.ERASED, RecordKind.HISTORY, why=f"reason: {reason}", number=number,
                     record=f"{done.keys} keys, {done.callbacks} closed call-back tasks")
        ok = await recorded(trail)
    finally:
        await close_redis(found.redis, trail.store.redis)
    print(f"erased {number}: {done.keys} history keys, {done.callbacks} closed call-back task(s)")
    if done.open_callbacks:
        print(f"kept: call-back task(s) still open for {number}: {', '.join(done.open_callbacks)} "
              "(erase again once closed)")
    return 0 if ok else 1
