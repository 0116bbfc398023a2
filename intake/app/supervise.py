"""One supervisor for every long-running task of the server: nothing one task raises stops intake.

A task that raises is logged with its name and traceback, counted, and started again after a
capped, jittered backoff (:class:`telephony.timing.Backoff`), so a fault that repeats on every
start costs a log line every few seconds, not a hot loop. A callback the loop runs for us
(``call_later``: the routing policy) cannot be restarted, only guarded: :meth:`Supervisor.call`
counts and logs a failing run, and the next run happens as it would have.

A task is *degraded* from its failure until it proves itself again: it says so with
:meth:`Supervisor.ok` after a good round (the ticker, every tick), or it has run ``healthy_after``
seconds without failing. ``/healthz`` and ``/metrics`` read :meth:`Supervisor.health`.
Clock, sleep and rng are injected so tests drive restarts without waiting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from telephony.timing import Backoff

log = structlog.get_logger("intake.supervise")

Run = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class TaskHealth:
    """What the supervisor knows of one task (or guarded callback)."""

    backoff: Backoff
    up: bool = False
    failures: int = 0
    last_error: str | None = None
    failing: bool = False  # failed, and not yet proved healthy since
    started_at: float = 0.0  # supervisor clock, when it last (re)started
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def view(self) -> dict[str, Any]:
        return {"up": self.up, "degraded": self.failing, "failures": self.failures, "last_error": self.last_error}


def describe(exc: BaseException) -> str:
    """The error as one short line for /healthz: its type and message, bounded."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."


class Supervisor:
    def __init__(self, *, backoff_initial: float = 0.5, backoff_max: float = 30.0, healthy_after: float = 30.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rng: random.Random | None = None) -> None:
        self._backoff = (backoff_initial, backoff_max)
        self.healthy_after = healthy_after
        self._clock, self._sleep, self._rng = clock, sleep, rng
        self._tasks: dict[str, TaskHealth] = {}

    def _entry(self, name: str) -> TaskHealth:
        entry = self._tasks.get(name)
        if entry is None:
            entry = self._tasks[name] = TaskHealth(Backoff(*self._backoff, rng=self._rng))
        return entry

    # --- tasks -------------------------------------------------------------------------------

    def start(self, name: str, run: Run) -> None:
        """Run ``run()`` as the task ``name`` on the running loop, again after every failure,
        until it returns or is stopped."""
        entry = self._entry(name)
        if entry.task is not None and not entry.task.done():
            raise RuntimeError(f"task {name!r} is already running under the supervisor")
        entry.task = asyncio.get_running_loop().create_task(self._keep(name, run, entry), name=f"supervised {name}")

    async def _keep(self, name: str, run: Run, entry: TaskHealth) -> None:
        while True:
            entry.up, entry.started_at = True, self._clock()
            try:
                await run()
            except Exception as exc:  # noqa: BLE001 - BaseException (cancellation, exit) is not ours to keep
                entry.up = False
                if self._clock() - entry.started_at >= self.healthy_after:
                    entry.backoff.reset()  # it ran well for a while: this is a new fault, restart soon
                delay = entry.backoff.next()
                self._failed(name, entry, exc, restart_in=round(delay, 3))
                await self._sleep(delay)
                continue
            finally:
                entry.up = False
            log.info("task_finished", task=name)
            return

    def ok(self, name: str) -> None:
        """Task ``name`` has just done a round of its work without failing: it is healthy again."""
        entry = self._tasks.get(name)
        if entry is not None and entry.failing:
            entry.failing = False
            entry.backoff.reset()
            log.info("task_recovered", task=name, failures=entry.failures)

    async def stop(self, name: str) -> None:
        """Cancel task ``name`` and wait for it to end (shutdown order is the server's to choose)."""
        entry = self._tasks.get(name)
        if entry is not None and entry.task is not None:
            entry.task.cancel()
            await asyncio.gather(entry.task, return_exceptions=True)
            entry.task = None

    async def close(self) -> None:
        """Stop every task still running."""
        for name in list(self._tasks):
            await self.stop(name)

    # --- callbacks -------------------------------------------------------------------------

    def call(self, name: str, fn: Callable[[], object]) -> bool:
        """Run ``fn()`` now, guarded: a failure is logged and counted under ``name``, never raised.
        Returns whether it succeeded."""
        entry = self._entry(name)
        entry.up = True
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - a boundary: the fault is logged and counted, never lost
            self._failed(name, entry, exc)
            return False
        self.ok(name)
        return True

    # --- what it knows ---------------------------------------------------------------------

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def health(self) -> dict[str, dict[str, Any]]:
        """Every task and guarded callback by name: up, degraded, failures, last error."""
        now = self._clock()
        for name, entry in self._tasks.items():
            if entry.failing and entry.up and entry.task is not None and now - entry.started_at >= self.healthy_after:
                self.ok(name)
        return {name: entry.view() for name, entry in sorted(self._tasks.items())}

    def degraded(self) -> list[str]:
        return [name for name, view in self.health().items() if view["degraded"]]

    def _failed(self, name: str, entry: TaskHealth, exc: Exception, **more: Any) -> None:
        entry.failures += 1
        entry.failing = True
        entry.last_error = describe(exc)
        if entry.task is None:
            entry.up = False  # a callback: down until a run succeeds
        log.error("task_failed", task=name, failures=entry.failures, error=entry.last_error, exc_info=exc, **more)
