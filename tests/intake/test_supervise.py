"""The supervisor keeps every task running: a failure is logged, counted, restarted after a capped
backoff, and shown as degraded until the task proves itself again. Clock and sleep are the test's."""

from __future__ import annotations

import asyncio
import random

from structlog.testing import capture_logs

from intake.app.supervise import Supervisor


class Ceiling(random.Random):
    """Draws the largest delay the backoff allows, so the test knows each restart's delay."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Flaky:
    """A task that raises on its first ``failures`` runs, then works until told to stop."""

    def __init__(self, failures: int) -> None:
        self.left = failures
        self.runs = 0
        self.working = asyncio.Event()
        self.finish = asyncio.Event()

    async def __call__(self) -> None:
        self.runs += 1
        if self.left > 0:
            self.left -= 1
            raise ValueError(f"bad value on run {self.runs}")
        self.working.set()
        await self.finish.wait()


def supervisor(clock: Clock, delays: list[float], **kw: float) -> Supervisor:
    async def sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    return Supervisor(backoff_initial=0.5, backoff_max=4.0, clock=clock, sleep=sleep, rng=Ceiling(), **kw)


async def test_a_task_that_raises_is_logged_counted_and_restarted_with_capped_backoff():
    clock, delays = Clock(), []
    tasks = supervisor(clock, delays)
    ticker = Flaky(failures=6)
    with capture_logs() as logs:
        tasks.start("ticker", ticker)
        await asyncio.wait_for(ticker.working.wait(), 5)
    assert ticker.runs == 7
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]  # doubling, capped
    failed = [e for e in logs if e["event"] == "task_failed"]
    assert [e["task"] for e in failed] == ["ticker"] * 6
    assert failed[-1]["error"] == "ValueError: bad value on run 6" and isinstance(failed[-1]["exc_info"], ValueError)
    assert tasks.health()["ticker"] == {"up": True, "degraded": True, "failures": 6,
                                        "last_error": "ValueError: bad value on run 6"}
    assert tasks.degraded() == ["ticker"]
    tasks.ok("ticker")  # a good round: healthy again, and the next fault restarts soon
    assert tasks.degraded() == [] and tasks.health()["ticker"]["failures"] == 6
    await tasks.close()
    assert tasks.health()["ticker"]["up"] is False


async def test_a_restarted_task_that_keeps_running_is_healthy_again_after_a_while():
    clock, delays = Clock(), []
    tasks = supervisor(clock, delays, healthy_after=30.0)
    watch = Flaky(failures=1)
    tasks.start("history-watch", watch)
    await asyncio.wait_for(watch.working.wait(), 5)
    clock.now += 29.0
    assert tasks.degraded() == ["history-watch"]
    clock.now += 1.0
    assert tasks.degraded() == []
    await tasks.close()


async def test_one_task_failing_leaves_the_others_running():
    clock, delays = Clock(), []
    tasks = supervisor(clock, delays)
    steady, failing = Flaky(failures=0), Flaky(failures=3)
    tasks.start("heap-collector", steady)
    tasks.start("ticker", failing)
    await asyncio.wait_for(asyncio.gather(steady.working.wait(), failing.working.wait()), 5)
    health = tasks.health()
    assert (steady.runs, health["heap-collector"]["failures"], health["heap-collector"]["degraded"]) == (1, 0, False)
    assert health["ticker"]["failures"] == 3
    await tasks.close()


async def test_a_task_that_returns_is_done_not_restarted():
    clock, delays = Clock(), []
    tasks = supervisor(clock, delays)
    once = Flaky(failures=0)
    once.finish.set()
    tasks.start("restore", once)
    await asyncio.wait_for(once.working.wait(), 5)
    await tasks.stop("restore")
    assert once.runs == 1 and delays == [] and tasks.health()["restore"]["up"] is False


async def test_a_failing_callback_is_counted_and_the_next_run_still_happens():
    clock, delays = Clock(), []
    tasks = supervisor(clock, delays)
    runs: list[str] = []

    def evaluate(fail: bool) -> None:
        runs.append("fail" if fail else "ok")
        if fail:
            raise KeyError("handler-9")

    with capture_logs() as logs:
        assert tasks.call("policy", lambda: evaluate(True)) is False
    assert tasks.health()["policy"] == {"up": False, "degraded": True, "failures": 1, "last_error": "KeyError: 'handler-9'"}
    assert [(e["event"], e["task"]) for e in logs] == [("task_failed", "policy")]
    assert tasks.call("policy", lambda: evaluate(False)) is True
    assert runs == ["fail", "ok"]
    assert tasks.health()["policy"] == {"up": True, "degraded": False, "failures": 1, "last_error": "KeyError: 'handler-9'"}
