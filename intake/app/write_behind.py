"""Settled calls' records reach Redis behind the event path: batched, in order, never dropped silently.

The event path must not wait on Redis, and a call that settled while Redis was failing over still
has to reach the caller's history and the call journal. Each record is staged as a function that
adds its commands to a pipeline; a single writer task sends what has accumulated as one MULTI/EXEC
(one round trip for a whole burst).

Two kinds of failure, two answers:
- **Redis is away** (connection refused or lost, timeout, or a state in which it takes no write:
  loading, read-only replica, out of memory...): the batch stays at the head and is tried again;
  later records queue behind it, so order holds.
- **Redis refuses one record** (a command error: WRONGTYPE, wrong arguments), or the record cannot
  even be staged (a value the staging cannot encode): that record is *poison*. It goes to a
  bounded dead-letter list in Redis with its kind, call id, reason and data, is counted and
  logged, and every other record flows on. A command error at EXEC leaves the rest of the
  transaction applied (Redis has no rollback), so results are read per record
  (``raise_on_error=False``) and the good ones are never sent twice; an error as the transaction
  is queued (EXECABORT) applies nothing, so the batch is halved until the poison stands alone.

Bounded, because a process cannot hold an unbounded outage: what falls off the end is counted and
logged. Records still held when the server stops are spooled to a local file (JSON lines: kind,
call id, data) when one is configured, which the next start-up reads back (:meth:`spooled`) and
submits first; the file is replaced at every stop by what is then still held. Writing a record
twice is harmless (journal and history entries are keyed by call id), so a start-up that dies
before its stop only means the file is read again. Without a spool each is logged with its data.

With replicas asked for (Redis with Sentinel), a record is acknowledged only once WAIT says a
replica holds it (intake.app.replicas); until then it is on the primary and still held.
"""

# Why one module of ~400 lines: ordering, poison isolation, the spool and the replicas'
# acknowledgement all act on the one queue of held records; WAIT's own mechanics are in replicas.py.

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from redis import exceptions as rx

from intake.app.replicas import Replicas
from intake.app.supervise import describe

if TYPE_CHECKING:
    from intake.app.supervise import Supervisor

log = structlog.get_logger("intake.write_behind")

Stage = Callable[[Any], None]  # adds its commands to a redis pipeline
Done = Callable[[], None]  # told once the record has left the queue: written, dead-lettered or dropped

# Redis answers these when it takes no write at all for now, whatever the record: hold and retry.
_AWAY = (ConnectionError, TimeoutError, OSError, rx.ConnectionError, rx.TimeoutError, rx.BusyLoadingError,
         rx.ReadOnlyError, rx.OutOfMemoryError, rx.AuthenticationError, rx.NoPermissionError, rx.TryAgainError,
         rx.MasterDownError, rx.ClusterDownError)
_AWAY_CODES = ("BUSY ", "MISCONF ", "NOREPLICAS ", "MASTERDOWN ", "LOADING ", "READONLY ", "OOM ", "NOAUTH ")


def redis_away(exc: BaseException) -> bool:
    """Is ``exc`` Redis being unable to take any write now (an outage), rather than refusing one record?"""
    return isinstance(exc, _AWAY) or str(exc).startswith(_AWAY_CODES)


async def drain_then_stop(flush: Callable[[], Awaitable[None]], timeout: float, supervisor: Supervisor | None,
                          name: str, task: asyncio.Task[None] | None) -> None:
    """A writer's stop: ``timeout`` seconds for what it holds to be written, then its task ends
    (run by ``supervisor`` under ``name``, or ``task``)."""
    try:
        await asyncio.wait_for(flush(), timeout)
    except TimeoutError:
        pass
    if supervisor is not None:
        await supervisor.stop(name)
    elif task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@dataclass(slots=True)
class Held:
    """One record waiting for Redis."""

    kind: str
    stage: Stage
    done: Done | None
    record: Any  # the record itself (a pydantic model, or plain data): its call id and data for a dead letter
    settled: bool = False  # written, dead-lettered or dropped: no longer to be sent
    on_primary: int = 0  # with replicas: the connection generation it was written in, awaiting WAIT (0: not written)

    @property
    def call_id(self) -> str | None:
        found = getattr(self.record, "call_id", None)
        if found is None and isinstance(self.record, dict):
            found = self.record.get("call_id")
        return None if found is None else str(found)

    # Any: the record's data as JSON (what a dead letter and the spool keep)
    def data(self) -> Any:
        """The record as JSON-able data, as far as it can be encoded (else its repr)."""
        try:
            data = self.record.model_dump(mode="json") if hasattr(self.record, "model_dump") else self.record
            json.dumps(data, allow_nan=False)
            return data
        except (TypeError, ValueError):
            return repr(self.record)[:4000]


class WriteBehind:
    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, redis: Any, *, dead_letters: str = "intake:dead-letters", dead_letter_limit: int = 10_000,
                 batch: int = 500, retry_every: float = 2.0, limit: int = 200_000,
                 supervisor: Supervisor | None = None, spool: Path | None = None,
                 replicas: Replicas | None = None) -> None:
        """``dead_letters``: the Redis list poison records go to (newest first, ``dead_letter_limit``
        kept); ``supervisor``: runs the writer task (restarted should it fail), else a plain task;
        ``spool``: the local file records still held at shutdown are kept in; ``replicas``: a
        record is acknowledged (written, ``done``) only once that many replicas hold it (WAIT) —
        ``redis`` is then the writer's own one-connection client (connections.writer_redis).

        With replicas, a record the primary took is kept (not acknowledged) until a WAIT says a
        replica holds it; the writer goes on writing the records behind it meanwhile, so the
        primary, which the pops read, stays current while no replica answers. What is still
        unacknowledged at shutdown is spooled like any record Redis did not take."""
        self.redis = redis
        self.replicas = replicas
        self.dead_letters = dead_letters
        self._dead_letter_limit = dead_letter_limit
        self._batch = batch
        self._retry_every = retry_every
        self._limit = limit
        self._supervisor = supervisor
        self.spool = spool
        self._queue: deque[Held] = deque()
        self._letters: deque[str] = deque()  # dead letters not yet in Redis
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task[None] | None = None
        self._started = False
        self.written = 0
        self.failures = 0  # attempts refused because Redis was away
        self.dropped = 0
        self.lost = 0  # still held when the server stopped, and not spooled
        self.spooled_at_stop = 0
        self.dead_lettered: Counter[str] = Counter()  # by kind
        self.replica_waits = 0  # WAITs that found fewer replicas than asked for (records kept, asked again)
        self._replica_missing = False  # since the last short WAIT: logged once per episode, not per retry

    def __len__(self) -> int:
        return sum(1 for held in self._queue if not held.settled)

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def view(self) -> dict[str, Any]:
        """The writer's figures, for /metrics and /healthz."""
        return {"held": len(self), "awaiting_replica": self.awaiting_replica(), "written": self.written,
                "retries": self.failures, "replica_waits": self.replica_waits, "dropped": self.dropped,
                "lost": self.lost, "spooled": self.spooled_at_stop, "dead_lettered": dict(self.dead_lettered)}

    def awaiting_replica(self) -> int:
        """Records the primary holds that no replica has been seen to hold yet (counted in ``held``)."""
        if self.replicas is None:
            return 0
        generation = self.replicas.generation
        return sum(1 for held in self._queue if not held.settled and held.on_primary == generation)

    # Any: a record is any of the kinds written behind (journal, in-progress, contact, call-back), kept as its own model
    def submit(self, kind: str, stage: Stage, done: Done | None = None, *, record: Any = None) -> None:
        """Queue one record's commands; returns at once (the event path never waits on Redis).
        ``done`` is called once the record is written, dead-lettered or dropped; ``record`` is
        what a dead letter keeps of it (its ``call_id`` and data)."""
        if len(self._queue) >= self._limit:
            lost = self._queue.popleft()
            if not lost.settled:
                self.dropped += 1
                log.error("record_dropped", kind=lost.kind, call_id=lost.call_id, limit=self._limit)
                self._settle(lost)
        self._queue.append(Held(kind, stage, done, record))
        self._idle.clear()
        self._wake.set()
        if not self._started:  # started by the first record, on its loop
            self._started = True
            if self._supervisor is not None:
                self._supervisor.start("write-behind", self.run)
            else:
                self._writer = asyncio.get_running_loop().create_task(self.run(), name="write-behind")

    async def flush(self) -> None:
        """Wait until everything submitted so far is written or dead-lettered (tests, shutdown)."""
        await self._idle.wait()

    async def close(self, timeout: float) -> None:
        """Give held records ``timeout`` seconds to reach Redis, then stop; names each one lost."""
        await drain_then_stop(self.flush, timeout, self._supervisor, "write-behind", self._writer)
        self._started = False
        unwritten = [held for held in self._queue if not held.settled]
        if self.spool is not None and self._spool(unwritten):
            return
        for held in unwritten:
            self.lost += 1
            log.error("record_not_written", kind=held.kind, call_id=held.call_id, data=held.data())
        if self.lost:
            log.error("records_lost_at_shutdown", count=self.lost)
        for letter in self._letters:
            log.error("dead_letter_not_written", letter=letter)

    # --- the spool -----------------------------------------------------------------------------

    def _spool(self, unwritten: list[Held]) -> bool:
        """Replace the spool by ``unwritten`` (and dead letters not yet in Redis); False if the file
        cannot be written (the caller logs each record instead)."""
        assert self.spool is not None
        if not unwritten and not self._letters:
            self.spool.unlink(missing_ok=True)  # everything read back at start-up is in Redis now
            return True
        lines = [json.dumps({"kind": h.kind, "call_id": h.call_id, "data": h.data()}) for h in unwritten]
        lines += [json.dumps({"kind": "dead-letter", "call_id": None, "data": letter}) for letter in self._letters]
        partial = self.spool.with_name(self.spool.name + ".partial")
        try:
            self.spool.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("w") as out:
                out.write("".join(line + "\n" for line in lines))
                out.flush()
                os.fsync(out.fileno())
            partial.replace(self.spool)
        except OSError as exc:
            log.error("spool_not_written", path=str(self.spool), error=describe(exc))
            return False
        self.spooled_at_stop = len(unwritten)
        for held in unwritten:
            log.warning("record_spooled", kind=held.kind, call_id=held.call_id)
        log.warning("records_spooled_at_shutdown", count=len(unwritten), path=str(self.spool))
        return True

    # Any: each record's JSON as spooled; the caller validates it by its kind
    def spooled(self) -> list[tuple[str, Any]]:
        """What the last run could not write: (kind, data) in the order it was submitted; dead
        letters it had not written go back to the dead-letter list. Unreadable lines are logged."""
        if self.spool is None or not self.spool.exists():
            return []
        found: list[tuple[str, Any]] = []
        for number, line in enumerate(self.spool.read_text().splitlines(), 1):
            try:
                entry = json.loads(line)
                kind, data = entry["kind"], entry["data"]
            except (ValueError, KeyError, TypeError) as exc:
                log.error("spooled_record_unreadable", path=str(self.spool), line=number, error=describe(exc))
                continue
            if kind == "dead-letter":
                self._letters.append(data)
            else:
                found.append((kind, data))
        log.info("spooled_records_found", count=len(found), path=str(self.spool))
        return found

    # --- the writer ----------------------------------------------------------------------------

    async def run(self) -> None:
        """The writer: runs until cancelled (under the server's supervisor)."""
        while True:
            self._wake.clear()
            while self._pending():
                if not await self._write_some():
                    await asyncio.sleep(self._retry_every)
            self._idle.set()
            await self._wake.wait()

    def _pending(self) -> bool:
        while self._queue and self._queue[0].settled:
            self._queue.popleft()
        return bool(self._queue or self._letters)

    async def _write_some(self) -> bool:
        """Write the head of the queue, then any dead letters; False when Redis is away (or, with
        replicas, while what is written waits for one)."""
        if self.replicas is None:
            batch = [held for held in islice(self._queue, self._batch) if not held.settled]
        else:  # what is on the primary in this generation is not written again, only confirmed
            generation = self.replicas.generation
            batch = list(islice((held for held in self._queue if not held.settled and held.on_primary != generation),
                                self._batch))
        if batch and not await self._write(batch):
            return False
        if self.replicas is not None and not await self._confirm():
            return False
        return await self._write_letters()

    async def _confirm(self) -> bool:
        """Acknowledge what a replica now holds; False while some record still waits for one."""
        assert self.replicas is not None
        waiting = [held for held in self._queue if not held.settled and held.on_primary]
        if not waiting:
            return True
        try:
            held_by_replicas = await self.replicas.hold()
        except Exception as exc:  # noqa: BLE001 - a boundary: the records stay held, never lost
            if not self._away(exc, "replicas_not_asked", len(waiting)):
                self.failures += 1  # a demoted primary refuses WAIT: the next connection asks the new one
                log.error("replicas_not_asked", error=describe(exc), held=len(waiting))
            return False
        generation = self.replicas.generation
        if not held_by_replicas:
            self.replica_waits += 1
            if not self._replica_missing:
                self._replica_missing = True
                log.warning("records_await_replica", count=sum(1 for h in waiting if h.on_primary == generation),
                            replicas=self.replicas.count)
            return False
        for held in waiting:
            if held.on_primary == generation:
                self.written += 1
                self._settle(held)
        if self._replica_missing:
            self._replica_missing = False
            log.info("records_held_by_replica", count=len(waiting))
        return True

    async def _write(self, batch: list[Held]) -> bool:
        """Write ``batch`` in order, isolating poison; False if Redis went away before all of it settled."""
        async with self.redis.pipeline(transaction=True) as pipe:
            if self.replicas is not None:
                try:
                    await self.replicas.pin(pipe)
                except Exception as exc:
                    if self._away(exc, "records_not_written", len(self)):
                        return False
                    raise
            staged: list[tuple[Held, int, int]] = []
            for held in batch:
                start = len(pipe)
                try:
                    held.stage(pipe)
                except Exception as exc:  # noqa: BLE001 - a boundary: the fault is logged and counted, never lost
                    del pipe.command_stack[start:]  # a half-staged record sends nothing
                    self._dead_letter(held, f"could not be staged: {describe(exc)}")
                    continue
                staged.append((held, start, len(pipe)))
            if not staged:
                return True
            try:
                results = await pipe.execute(raise_on_error=False)
            except Exception as exc:  # noqa: BLE001 - a boundary: the fault is logged and counted, never lost
                if self._away(exc, "records_not_written", len(self)):
                    return False
                refused = exc  # queued commands refused (EXECABORT) or not encodable: nothing applied
            else:
                for held, start, end in staged:
                    errors = [r for r in results[start:end] if isinstance(r, Exception)]
                    if errors:  # the record's other commands were applied: never send it again
                        applied = " (its other commands were applied)" if len(errors) < end - start else ""
                        self._dead_letter(held, f"refused by Redis: {describe(errors[0])}{applied}")
                    elif self.replicas is not None:  # acknowledged once a replica holds it (_confirm)
                        held.on_primary = self.replicas.generation
                    else:
                        self.written += 1
                        self._settle(held)
                if self.failures:
                    log.info("records_written", count=len(staged), held=len(self))
                return True
        if len(staged) == 1:
            self._dead_letter(staged[0][0], f"refused by Redis: {describe(refused)}")
            return True
        half = len(staged) // 2
        return await self._write([h for h, _, _ in staged[:half]]) and await self._write([h for h, _, _ in staged[half:]])

    def _away(self, exc: Exception, event: str, held: int) -> bool:
        """Is Redis away (counted and logged: the writer holds and tries again), rather than refusing?"""
        if not redis_away(exc):
            return False
        self.failures += 1
        log.error(event, error=describe(exc), held=held)
        return True

    def _dead_letter(self, held: Held, reason: str) -> None:
        self.dead_lettered[held.kind] += 1
        log.error("record_dead_lettered", kind=held.kind, call_id=held.call_id, reason=reason)
        self._letters.append(json.dumps({"kind": held.kind, "call_id": held.call_id, "reason": reason,
                                         "at": time.time(), "data": held.data()}))
        self._settle(held)

    async def _write_letters(self) -> bool:
        if not self._letters:
            return True
        letters = list(self._letters)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.lpush(self.dead_letters, *letters)
                pipe.ltrim(self.dead_letters, 0, self._dead_letter_limit - 1)
                results = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # noqa: BLE001 - a boundary: the fault is logged and counted, never lost
            if self._away(exc, "dead_letters_not_written", len(letters)):
                return False
            results = [exc]
        for _ in letters:
            self._letters.popleft()
        if isinstance(results[0], Exception):  # the list itself is refused: the log keeps them
            for letter in letters:
                log.error("dead_letter_not_written", error=describe(results[0]), letter=letter)
        return True

    def _settle(self, held: Held) -> None:
        if held.settled:
            return  # dropped past the limit while it was being written: told already
        held.settled = True
        if held.done is not None:
            try:
                held.done()
            except Exception:  # a listener's fault must not stop the records behind this one
                log.exception("record_done_failed", kind=held.kind, call_id=held.call_id)
