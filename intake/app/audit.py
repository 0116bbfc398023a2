"""The audit trail's writer: ``audit.record(...)`` at every point personal data is consulted,
altered, disclosed or erased; the entries reach Redis behind the caller, in order, never lost.

:meth:`AuditTrail.record` only builds the entry and queues it: it never waits and never raises
into its caller (a pop, a route). One writer task appends what has queued as one batch (one
script, one round trip: :mod:`intake.app.audit_store`). Redis away: the batch stays at the head
and is tried again, as the records are (:mod:`intake.app.write_behind`); with replicas asked for
(Sentinel), an entry is settled only once WAIT says a replica holds it, and entries a failover
may have lost (appended on a connection that then reconnected: another generation) are appended
again (kept once by their ``id`` in an export). What is still held at a stop goes to a local
spool file, read back at the next start. A full queue (``limit``) refuses the newest entry,
counted and logged with its content.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import ValidationError

from intake.app.audit_store import AuditStore, ChainMoved
from intake.app.replicas import Replicas
from intake.app.supervise import describe
from intake.app.write_behind import drain_then_stop, redis_away
from intake.core.audit import Action, AuditEntry, RecordKind, Tail, Who
from screenpop.models import is_history_number

if TYPE_CHECKING:
    from intake.app.auth import Principal
    from intake.app.supervise import Supervisor

log = structlog.get_logger("intake.audit")

TASK = "audit-trail"


def who_of(principal: Principal) -> Who:
    return Who(subject=principal.subject, id=principal.id, role=principal.role.value, position=principal.position)


@dataclass(slots=True)
class _Held:
    """One entry waiting for Redis: what :meth:`AuditTrail.record` was given, made into the entry
    (checked, given its id) by the writer, off the caller's path."""

    entry: AuditEntry | None
    given: tuple[Any, ...] = ()  # Any: record()'s arguments (who, action, kind, at, why, number, record)
    on_primary: int = 0  # with replicas: the generation it was appended in, awaiting WAIT (0: not appended)

    def made(self, node: str) -> AuditEntry:
        if self.entry is None:
            who, action, kind, at, why, number, record = self.given
            self.entry = AuditEntry.of(who, action, kind, id=uuid.uuid4().hex, at=at, why=why, node=node,
                                       number=number, record=record)
        return self.entry


class AuditTrail:
    # Any: a redis.asyncio client (the writer's own one-connection client with replicas: connections.writer_redis)
    def __init__(self, redis: Any, prefix: str, *, node: str, supervisor: Supervisor | None = None,
                 spool: Path | None = None, replicas: Replicas | None = None, limit: int = 100_000,
                 batch: int = 200, retry_every: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        self.store = AuditStore(redis, prefix)
        self.node = node
        self.spool = spool
        self.replicas = replicas
        self._supervisor = supervisor
        self._limit, self._batch, self._retry_every, self._clock = limit, batch, retry_every, clock
        self._queue: deque[_Held] = deque()
        self._tail: Tail | None = None  # the tail last seen (None: ask)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task[None] | None = None
        self._started = False
        self._people: dict[str, Who] = {}  # handler id -> who they last signed in as (or by id only)
        # Where a handler sits now (the positions store plugs in here); None: not known.
        self.position_of: Callable[[str], str | None] = lambda _handler_id: None
        self.written = self.retries = self.refused = self.spooled_at_stop = 0

    # --- what call sites use ------------------------------------------------------------------

    def record(self, who: Who | Principal, action: Action, kind: RecordKind, *, why: str,
               number: str | None = None, record: str = "") -> None:
        """Queue one entry; returns at once and never raises. The entry is made and checked by the
        writer (a pop pays for a tuple, not a validated model); one that fails is logged whole."""
        try:
            if not isinstance(who, Who):
                who = self.seen(who)
            held = _Held(None, (who, action, kind, self._clock(), why, number, record))
        except Exception:
            log.exception("audit_entry_invalid", who=repr(who)[:300], action=repr(action), number=number, why=why)
            return
        self._queue_held(held)

    def seen(self, principal: Principal) -> Who:
        """``principal`` as an entry names them; a handler is remembered, so pops (which know only
        the handler's id) name them as they signed in."""
        who = who_of(principal)
        if who.role in ("handler", "supervisor"):
            self._people[who.id if who.role == "handler" else f"{who.role}:{who.id}"] = who
        return who

    def supervisor(self, supervisor_id: str) -> Who:
        """A supervisor as their wallboard's entries name them: as they last signed in on this node (else by id)."""
        return self._people.get(f"supervisor:{supervisor_id}") or Who(subject="", id=supervisor_id, role="supervisor")

    def handler(self, handler_id: str) -> Who:
        """A handler as their pops' entries name them: as they last signed in on this node (else by
        id), at the position they sit at now (:attr:`position_of`)."""
        who = self._people.get(handler_id)
        if who is None:
            who = self._people[handler_id] = Who(subject="", id=handler_id, role="handler")
        position = self.position_of(handler_id)
        if position is not None and position != who.position:  # kept: a pop for them made it once
            who = self._people[handler_id] = who.model_copy(update={"position": position})
        return who

    def consulted_by_pop(self, handler_id: str, call_id: str, number: str) -> None:
        self.record(self.handler(handler_id), Action.CONSULTED, RecordKind.HISTORY, why=f"call {call_id}",
                    number=number, record=number)

    def consulted_incidents_by_pop(self, handler_id: str, call_id: str, number: str, shown: int) -> None:
        """A pop listed the incidents near its caller's location (``shown`` of them; none is a look too)."""
        self.record(self.handler(handler_id), Action.CONSULTED, RecordKind.INCIDENTS, why=f"call {call_id}",
                    number=number if is_history_number(number) else None, record=f"{shown} incident(s) near the caller")

    # --- the queue --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._queue)

    # Any: a JSON view (plain values), for /metrics and /healthz
    def view(self) -> dict[str, Any]:
        return {"held": len(self._queue), "written": self.written, "retries": self.retries, "refused": self.refused,
                "spooled": self.spooled_at_stop}

    def _queue_held(self, held: _Held) -> None:
        if len(self._queue) >= self._limit:
            self.refused += 1
            log.error("audit_entry_refused", limit=self._limit, given=repr(held.given)[:2000])
            return
        self._queue.append(held)
        self._woken()

    def _woken(self) -> None:
        self._idle.clear()
        self._wake.set()
        self.start()  # a command line's trail: by its first entry

    def start(self) -> None:
        """Start the writer (the server: at start-up, so it carries no pop's or route's log context)."""
        if not self._started:
            self._started = True
            if self._supervisor is not None:
                self._supervisor.start(TASK, self.run)
            else:
                self._writer = asyncio.get_running_loop().create_task(self.run(), name=TASK)

    async def flush(self) -> None:
        """Wait until every entry queued so far is in Redis (held by a replica, with replicas)."""
        await self._idle.wait()

    # --- the writer -------------------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            self._wake.clear()
            while self._queue:
                if not await self._write_some():
                    await asyncio.sleep(self._retry_every)
            self._idle.set()
            await self._wake.wait()

    async def _write_some(self) -> bool:
        """Append the entries not yet on the primary, then settle what replicas hold; False: try again later."""
        self._make_entries()
        if self.replicas is None:
            batch = list(islice(self._queue, self._batch))
        else:  # what is on the primary in this generation is not appended again, only confirmed
            generation = self.replicas.generation
            batch = list(islice((held for held in self._queue if held.on_primary != generation), self._batch))
        try:
            if batch:
                await self._append(batch)
            if self.replicas is None:
                return True
            if not await self.replicas.hold():
                self.retries += 1
                return False
        except Exception as exc:  # noqa: BLE001 - a boundary: the entries stay held, never lost
            self.retries += 1
            self._tail = None
            log.error("audit_not_written", error=describe(exc), held=len(self._queue), away=redis_away(exc))
            return False
        generation = self.replicas.generation
        while self._queue and self._queue[0].on_primary == generation:
            self._queue.popleft()
            self.written += 1
        return True

    def _make_entries(self) -> None:
        """Make the entries recorded since the last batch; drop (logged whole) any that is invalid."""
        invalid = []
        for held in self._queue:
            if held.entry is None:
                try:
                    held.made(self.node)
                except Exception:
                    log.exception("audit_entry_invalid", given=repr(held.given)[:2000])
                    invalid.append(held)
        for held in invalid:
            self._queue.remove(held)

    async def _append(self, batch: list[_Held]) -> None:
        entries = [held.made(self.node) for held in batch]
        for _ in range(100):  # each retry means another node appended meanwhile: it cannot go on for ever
            after = self._tail if self._tail is not None else await self.store.tail()
            async with self.store.redis.pipeline(transaction=False) as pipe:
                if self.replicas is not None:
                    await self.replicas.pin(pipe)
                self.store.stage_append(pipe, after, entries)
                (reply,) = await pipe.execute()
            try:
                self._tail = self.store.appended(reply)
            except ChainMoved as moved:
                self._tail = moved.tail
                continue
            if self.replicas is None:  # the batch is the head of the queue
                for _ in batch:
                    self._queue.popleft()
                self.written += len(batch)
            else:
                for held in batch:
                    held.on_primary = self.replicas.generation
            return
        raise RuntimeError("the audit trail's tail kept moving: 100 tries")

    # --- start and stop ---------------------------------------------------------------------------

    def restore(self) -> int:
        """Queue what the last run spooled (before anything new); returns how many."""
        if self.spool is None or not self.spool.exists():
            return 0
        count = 0
        for number, line in enumerate(self.spool.read_text().splitlines(), 1):
            try:
                self._queue.append(_Held(AuditEntry.model_validate_json(line)))
                count += 1
            except ValidationError as exc:
                log.error("audit_spool_unreadable", path=str(self.spool), line=number, error=str(exc).splitlines()[0])
        if count:
            self._woken()
        log.info("audit_spool_read", count=count, path=str(self.spool))
        return count

    async def close(self, timeout: float) -> None:
        """Give held entries ``timeout`` seconds to reach Redis, then stop and spool the rest."""
        await drain_then_stop(self.flush, timeout, self._supervisor, TASK, self._writer)
        self._writer, self._started = None, False
        self._make_entries()
        held = [h.made(self.node) for h in self._queue]
        if self.spool is not None and self._spool(held):
            return
        for entry in held:
            log.error("audit_entry_not_written", entry=entry.model_dump(mode="json"))

    def _spool(self, held: list[AuditEntry]) -> bool:
        assert self.spool is not None
        if not held:
            self.spool.unlink(missing_ok=True)
            return True
        partial = self.spool.with_name(self.spool.name + ".partial")
        try:
            self.spool.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("w") as out:
                out.write("".join(entry.model_dump_json() + "\n" for entry in held))
                out.flush()
                os.fsync(out.fileno())
            partial.replace(self.spool)
        except OSError as exc:
            log.error("audit_spool_not_written", path=str(self.spool), error=describe(exc))
            return False
        self.spooled_at_stop = len(held)
        log.warning("audit_entries_spooled", count=len(held), path=str(self.spool))
        return True


def spool_beside(records_spool: str | None) -> Path | None:
    """The trail's spool: beside the records' (``redis.unwritten_spool``), None when that is off."""
    if not records_spool:
        return None
    path = Path(records_spool)
    return path.with_name(path.stem + ".audit" + (path.suffix or ".jsonl"))


def encode_lines(entries: list[AuditEntry]) -> str:
    """Entries as JSON lines (an export)."""
    return "".join(json.dumps(e.model_dump(mode="json"), sort_keys=True) + "\n" for e in entries)


class AuditCollector(Collector):
    """The trail's writer's figures for /metrics."""

    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail

    def collect(self) -> Iterator[Metric]:
        view = self.trail.view()
        held = GaugeMetricFamily("intake_audit_entries_held", "audit trail entries not yet in Redis (or on a replica)")
        held.add_metric([], view["held"])
        yield held
        for key, doc in (("written", "audit trail entries written to Redis (with replicas asked for: held by them)"),
                         ("retries", "attempts to write audit entries that failed (Redis away, no replica yet)"),
                         ("refused", "audit entries refused: the writer's queue was full")):
            counter = CounterMetricFamily(f"intake_audit_entries_{key}", doc)
            counter.add_metric([], view[key])
            yield counter
