"""No task's exception stops the server: a failing ticker or routing evaluation is logged, counted on
/metrics, named by /healthz (503 while degraded), restarted, and healthy again once its cause goes.

The server is real (HTTP on loopback, the simulated PBX over real AMI, a real Redis); the fault is
put into one of the server's own steps (the registry's settle tick, the routing policy) as a bad
value would, and taken away again.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import secrets as token_source
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from intake.app.demo import demo_config
from intake.app.journal import JournalRecord
from intake.app.server import IntakeServer
from intake.app.supervise import Supervisor
from intake.core.engine import TICK
from intake.core.metrics import local_day
from screenpop.models import ContactRecord
from telephony.simulator import SimConfig, SimulatedPbx
from tests.intake.own_redis import OwnRedis
from tests.intake.timeline import T0
from tests.serving import running_server
from tests.waiting import eventually


class Fault:
    """Makes one of the server's steps raise, as a bad value in it would, until :meth:`heal`."""

    def __init__(self, owner: Any, method: str, error: Exception) -> None:
        self.owner, self.method, self.error = owner, method, error
        self.real: Callable[..., Any] = getattr(owner, method)
        self.hits = 0
        setattr(owner, method, self._step)

    def _step(self, *args: Any) -> Any:
        self.hits += 1
        # A new exception each time, as a bad value raises one: raising the same instance again
        # would add this raise's frames to its traceback, so every logged failure would be longer
        # (and slower to render) than the one before.
        raise copy.copy(self.error)

    def heal(self) -> None:
        setattr(self.owner, self.method, self.real)


@dataclass
class Served:
    server: IntakeServer
    http: httpx.AsyncClient
    auth: dict[str, str]  # a supervisor's
    sim: SimulatedPbx


@contextlib.asynccontextmanager
async def serving(redis: Any, spool: Path | None = None, *, members_at_start: bool = False) -> AsyncIterator[Served]:
    async with SimulatedPbx(SimConfig(traffic=None, members_at_start=members_at_start,
                                      secret=token_source.token_urlsafe(12), tick=0.005)) as sim:
        async with serving_on(sim, redis, spool) as served:
            yield served


@contextlib.asynccontextmanager
async def serving_on(sim: SimulatedPbx, redis: Any, spool: Path | None = None) -> AsyncIterator[Served]:
    """A server on a simulator that outlives it (a test may stop one server and start another)."""
    tokens = {h: token_source.token_urlsafe(18) for h in ("h1", "h2", "h3", "h4", "sup1")}
    config = demo_config(sim.config, sim.port, 0)
    if spool is not None:
        config = config.model_copy(update={"redis": config.redis.model_copy(update={"unwritten_spool": str(spool)})})
    secrets = {"ami.secret": sim.config.secret, "supervisors[0].token": tokens["sup1"]}
    secrets |= {f"handlers[{i}].token": tokens[h.id] for i, h in enumerate(config.handlers)}
    bound: list[int] = []
    # Restarts come within a fraction of a second here, so healing shows soon.
    tasks = Supervisor(backoff_initial=0.05, backoff_max=0.4)
    async with (running_server(config, secrets, redis, bound=bound, tasks=tasks) as server,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{bound[0]}") as http):
        yield Served(server, http, {"Authorization": f"Bearer {tokens['sup1']}"}, sim)


async def health_until(http: httpx.AsyncClient, check: Callable[[httpx.Response], bool]) -> httpx.Response:
    async def answered() -> httpx.Response | None:
        answer = await http.get("/healthz")
        return answer if check(answer) else None

    return await eventually(answered, 15, "/healthz to answer as expected")  # type: ignore[no-any-return]


def task_sample(metrics: str, name: str, task: str) -> float:
    found = re.search(rf'^{name}\{{task="{task}"\}} (\S+)$', metrics, re.MULTILINE)
    assert found, f"no {name} for {task} in /metrics"
    return float(found.group(1))


async def test_a_ticker_that_raises_is_restarted_the_server_keeps_serving_and_healthz_names_it(redis_client: Any):
    async with serving(redis_client) as served:
        server, http, auth, sim = served.server, served.http, served.auth, served.sim
        assert (await http.get("/healthz")).status_code == 200
        fault = Fault(server.registry, "tick", OverflowError("timestamp out of range for platform time_t"))
        sick = await health_until(http, lambda r: r.status_code == 503 and r.json()["tasks"]["ticker"]["failures"] >= 2)
        body = sick.json()
        assert body["ok"] is False and body["degraded"] == ["ticker"]
        assert body["tasks"]["ticker"]["last_error"] == "OverflowError: timestamp out of range for platform time_t"
        assert body["ami"]["connected"] and body["redis"]["reachable"]

        # Still serving, and still following the PBX while its ticker fails.
        call_id = sim.place_call("emergency", "07700900123", "Pat Caller")
        async def followed() -> bool:
            return call_id in {c["call_id"] for c in (await http.get("/api/calls", headers=auth)).json()["calls"]}

        await eventually(followed, 10, "the call in /api/calls")
        queues = await http.get("/api/queues", headers=auth)
        assert queues.status_code == 200 and queues.json()["lines"]["999"]["waiting"] == 1
        metrics = (await http.get("/metrics")).text
        assert task_sample(metrics, "intake_task_failures_total", "ticker") >= 2
        assert task_sample(metrics, "intake_task_failures_total", "ami") == 0

        fault.heal()
        well = await health_until(http, lambda r: r.status_code == 200)
        assert well.json()["tasks"]["ticker"]["degraded"] is False and well.json()["degraded"] == []
        assert task_sample((await http.get("/metrics")).text, "intake_task_up", "ticker") == 1
        assert fault.hits >= 2


async def test_a_failing_routing_evaluation_is_counted_and_the_next_one_still_runs(redis_client: Any):
    async with serving(redis_client) as served:
        server, http = served.server, served.http
        fault = Fault(server.steering, "evaluate", KeyError("handler-9"))
        sick = await health_until(http, lambda r: r.status_code == 503 and r.json()["tasks"]["policy"]["failures"] >= 3)
        tasks = sick.json()["tasks"]
        assert tasks["policy"]["last_error"] == "KeyError: 'handler-9'"
        assert tasks["ticker"]["failures"] == 0 and tasks["callback-desk"]["failures"] == 0  # the tick went on
        fault.heal()
        await health_until(http, lambda r: r.status_code == 200)
        assert fault.hits >= 3


async def test_ticker_rounds_slower_than_the_tick_still_leave_the_server_serving(redis_client: Any):
    """A round that overruns its tick (a busy machine, a costly step) leaves the next one due at
    once; the ticker must still give the loop back between them, or HTTP never gets a turn."""
    async with serving(redis_client) as served:
        server, http, auth = served.server, served.http, served.auth
        real, rounds = server.steering.evaluate, 0

        def costly() -> object:
            nonlocal rounds
            rounds += 1
            time.sleep(1.5 * TICK)  # the round's own work, holding the loop as CPU-bound work does
            return real()

        server.steering.evaluate = costly  # type: ignore[method-assign]
        await eventually(lambda: rounds >= 2, 10, "two costly rounds")
        queues = await http.get("/api/queues", headers=auth)
        assert queues.status_code == 200  # served between rounds that come back to back
        assert server.tasks.health()["ticker"]["up"]  # not got past only by something stopping the ticker
        server.steering.evaluate = real  # type: ignore[method-assign]


async def test_records_spooled_by_the_last_stop_are_written_at_start_up_and_the_spool_goes(redis_client: Any, tmp_path: Path):
    spool = tmp_path / "unwritten.jsonl"
    journal = JournalRecord(call_id="1700000000.7", line="999", queue="emergency", target_seconds=12.0, queued_at=T0,
                            settled="abandoned", waited_seconds=8.0)
    contact = ContactRecord(call_id="1700000000.7", number="07700900077", at=T0 + 8, line="999", queue="emergency",
                            waited_seconds=8.0, disposition="abandoned")
    spool.write_text(json.dumps({"kind": "journal", "call_id": journal.call_id, "data": journal.model_dump(mode="json")})
                     + "\n" + json.dumps({"kind": "contact", "call_id": contact.call_id, "data": contact.model_dump(mode="json")})
                     + "\n")
    async with serving(redis_client, spool=spool) as served:
        server = served.server
        await asyncio.wait_for(server.writes.flush(), 10)
        assert await server.journal.day(date.fromtimestamp(T0)) == [journal]
        found = await server.history.lookup("07700900077", T0 + 60)
        assert [r.call_id for r in found.recent] == [journal.call_id]
    assert not spool.exists()


async def test_a_call_settled_while_redis_is_away_at_shutdown_is_spooled_and_written_by_the_next_start(tmp_path: Path):
    redis_server, spool = OwnRedis(tmp_path), tmp_path / "unwritten.jsonl"
    await redis_server.start()
    first = redis_server.client()
    try:
        async with serving(first, spool=spool) as served:
            server, sim = served.server, served.sim
            redis_server.stop()
            call_id = sim.place_call("non-emergency", "07700900555", "Away Caller")
            await until(lambda: call_id in server.registry.calls)
            sim.hangup_caller(call_id)
            # The call in progress, then its journal record and history entry, held.
            await until(lambda: len(server.writes) == 3 and server.writes.failures >= 1)
        spooled = [json.loads(line) for line in spool.read_text().splitlines()]
        assert [(s["kind"], s["call_id"]) for s in spooled] == [("in-progress", call_id), ("journal", call_id), ("contact", call_id)]

        await redis_server.start()
        again = redis_server.client()
        try:
            async with serving(again, spool=spool) as served:
                server = served.server
                # Today's figures count the spooled call once, whether or not its write landed before they were rebuilt.
                figures = server.queue_report()["queues"]["non-emergency"]
                assert (figures["offered"], figures["abandoned"]) == (1, 1), figures
                await asyncio.wait_for(server.writes.flush(), 10)
                [record] = await server.journal.day(date.fromtimestamp(spooled[1]["data"]["queued_at"]))
                assert (record.call_id, record.settled) == (call_id, "abandoned")
                assert not await again.hexists(server.in_progress.key, call_id)  # removed with its journal record
                assert [r.call_id for r in (await server.history.lookup("07700900555", time.time())).recent] == [call_id]
            assert not spool.exists()
        finally:
            await again.aclose()
    finally:
        await first.aclose()
        redis_server.stop()


async def test_a_call_whose_journal_record_redis_refuses_is_dead_lettered_and_later_calls_are_written(redis_client: Any):
    async with serving(redis_client) as served:
        server, http, sim = served.server, served.http, served.sim
        # Something else took today's journal key with another type: Redis refuses the record (WRONGTYPE).
        await redis_client.set(server.journal.key(local_day(server.pbx_now())), "not a journal")
        first = sim.place_call("emergency", "07700900101", "First Caller")
        await until(lambda: first in server.registry.calls)
        sim.hangup_caller(first)
        await eventually(lambda: redis_client.exists("intake:dead-letters"), 10, "a dead letter")
        later = sim.place_call("emergency", "07700900102", "Later Caller")
        await until(lambda: later in server.registry.calls)
        sim.hangup_caller(later)
        async def filed() -> bool:
            return bool((await server.history.lookup("07700900102", time.time())).recent)

        await eventually(filed, 10, "the later call in its caller's history")
        await asyncio.wait_for(server.writes.flush(), 10)
        letters = [json.loads(raw) for raw in reversed(await redis_client.lrange("intake:dead-letters", 0, -1))]
        assert [(d["kind"], d["call_id"]) for d in letters] == [("journal", first), ("journal", later)]
        assert all(d["reason"].startswith("refused by Redis: ResponseError: WRONGTYPE") for d in letters)
        assert letters[0]["reason"].endswith("(its other commands were applied)")  # the EXPIRE beside the ZADD
        assert letters[0]["data"]["settled"] == "abandoned"
        # Each call's history entry went through beside its refused journal record.
        assert [r.call_id for r in (await server.history.lookup("07700900101", time.time())).recent] == [first]
        assert [r.call_id for r in (await server.history.lookup("07700900102", time.time())).recent] == [later]
        metrics = (await http.get("/metrics")).text
        assert 'intake_records_dead_lettered_total{kind="journal"} 2.0' in metrics
        assert len(server.writes) == 0


async def until(check: Callable[[], object]) -> None:
    await eventually(check, 10, every=0.02)


async def test_a_consumer_of_the_calls_news_that_raises_costs_no_other_consumer_the_news(redis_client: Any):
    # The pops raise on every notice (as composing a pop for a value nobody foresaw once did): the
    # call is still journalled and filed in the caller's history, and /healthz names the pops.
    async with serving(redis_client) as served:
        server, http, sim = served.server, served.http, served.sim
        fault = Fault(server.pops, "handle", ValueError("no label for this close reason"))
        call_id = sim.place_call("emergency", "07700900131", "Unlucky Caller")
        await until(lambda: call_id in server.registry.calls)
        sim.hangup_caller(call_id)
        await until(lambda: call_id not in server.registry.calls)
        await asyncio.wait_for(server.writes.flush(), 10)
        [record] = [r for r in await server.journal.day(date.fromtimestamp(server.pbx_now())) if r.call_id == call_id]
        assert record.settled == "abandoned"
        assert [r.call_id for r in (await server.history.lookup("07700900131", time.time())).recent] == [call_id]
        sick = (await http.get("/healthz")).json()
        assert sick["degraded"] == ["pops"] and sick["tasks"]["pops"]["last_error"] == "ValueError: no label for this close reason"
        assert fault.hits >= 2
        fault.heal()
