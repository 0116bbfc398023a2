"""The composition root: one PBX session, the engine, pops, the history, the HTTP face.

Events flow one way: the AMI session hands each domain event to :meth:`IntakeServer.on_event`,
which feeds it to the :class:`~intake.core.engine.Engine` (registry -> notices -> subscribers, in
the order :meth:`IntakeServer.subscriptions` declares) and carries out what the engine returns:
records behind the event path, resyncs and restores over AMI, the wallboard. One timer task (the
"ticker") wakes the engine at its next deadline: the coalesced routing evaluation and the tick
that settles calls and refreshes the wallboard (waits grow with time, not only with events).
"""

# Why one module of ~400 lines: the composition root builds and wires every collaborator, and
# runs and stops them, in one place; Redis/HTTP setup is already in connections.py.

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from pydantic import ValidationError
from redis.exceptions import RedisError

from intake.app import heap, logs, pbx_check
from intake.app.auth import Principals
from intake.app.connections import (
    REDIS_POOL,
    history_watch_of,
    http_config,
    make_redis,
    warm_redis,
)
from intake.app.handler_status import HandlerStatusPush
from intake.app.journal import CallJournal, JournalRecord, contact_record, one_per_stay
from intake.app.pops import PopRouter
from intake.app.prometheus import IntakeCollector, prometheus_registry
from intake.app.supervise import Supervisor
from intake.app.supervisors import SupervisorStream
from intake.app.web import create_app
from intake.app.write_behind import WriteBehind
from intake.core import outputs as out
from intake.core.config import IntakeConfig
from intake.core.engine import Engine, Evaluator, Notices, On, Subscription
from intake.core.in_progress import InProgress, InProgressStore
from intake.core.metrics import local_day
from intake.core.registry import registry_of
from routing.callback_desk import CallbackDesk
from routing.callbacks import CallbackStore, CallbackTask
from routing.handler_desk import HandlerDesk
from routing.ring_out_desk import RingOutDesk
from routing.steering import Steering
from routing.timers import TimerStore
from screenpop.errors import NotYourCall, UnknownCall
from screenpop.history import HistoryConfig, HistoryStore
from screenpop.models import ContactRecord, Outcome
from screenpop.shared_delivery import SharedDesktopHub, hub_for
from screenpop.web import desktop_endpoint, redact_tokens_in_server_logs
from telephony import events as ev
from telephony.session import AmiSession

# Where the server's callers have always found them (the connections' settings and the empty
# registry live in their own modules now).
__all__ = ["REDIS_POOL", "IntakeServer", "history_watch_of", "http_config", "make_redis", "registry_of", "serve",
           "warm_redis"]

log = structlog.get_logger("intake.server")


class IntakeServer:
    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, config: IntakeConfig, secrets: dict[str, str], redis: Any, *, tasks: Supervisor | None = None) -> None:
        """``tasks``: the supervisor of the server's long-running tasks (tests restart them sooner)."""
        self.config = config
        self.redis = redis
        self.tokens = Principals.from_config(config, secrets)
        self.registry = registry_of(config)
        self.history = HistoryStore(redis, HistoryConfig(prefix=config.redis.key_prefix,
                                                         repeat_window_seconds=config.routing.repeat_window_seconds))
        self.hub = hub_for(redis, config.redis.key_prefix)  # a real Redis: seqs from each handler's stream there
        self.desktop_endpoint = desktop_endpoint(self.hub, self.tokens.handlers, self.file_outcome)
        self.pops = PopRouter(self.history, self.hub, {h.member: h.id for h in config.handlers}, self.pbx_now,
                              repeat_calls=config.routing.repeat_calls, hold_seconds=config.redis.history_held_seconds)
        self.history_watch = history_watch_of(redis, self.history, self.pops.held)
        self.tasks = tasks or Supervisor()  # every long-running task of the server, by name
        self.supervisors = SupervisorStream(self.tokens, self.picture)
        self.session = AmiSession(
            config.ami.host, config.ami.port, config.ami.username, secrets["ami.secret"],
            ping_interval=config.ami.ping_interval, ping_timeout=config.ami.ping_timeout,
            action_timeout=config.ami.action_timeout, backoff_initial=config.ami.reconnect_initial,
            backoff_max=config.ami.reconnect_max, max_clock_skew=config.ami.max_clock_skew_seconds, on_event=self.on_event,
        )
        self.desk = HandlerDesk(config, self.session, self.registry.handlers.get, resync=self.session.resync,
                                timers=TimerStore(redis, config.redis.key_prefix))
        self.ring_outs = RingOutDesk(config, self.desk, self.registry.handlers.get)
        self.handler_status = HandlerStatusPush(config, self.registry.handlers.get, self.ring_outs.rule.reason, self.hub)
        self.steering = Steering(config, self.registry, self.session, self.pbx_now, resync=self.session.resync)
        self.writes = WriteBehind(redis, dead_letters=f"{config.redis.key_prefix}dead-letters", supervisor=self.tasks,
                                  spool=Path(config.redis.unwritten_spool) if config.redis.unwritten_spool else None)
        self.callbacks = CallbackDesk(config, self.registry, CallbackStore(redis, config.redis.key_prefix), self.hub,
                                      self.session, self.pbx_now, writes=self.writes, file_history=self._file_called_back,
                                      on_change=lambda: self.engine.changed())
        self.journal = CallJournal(redis, config.redis.key_prefix)
        self.in_progress = InProgressStore(redis, config.redis.key_prefix)
        self.prometheus = prometheus_registry(IntakeCollector(self.queue_report, self.handler_views,
                                                              lambda: self.session.counters, self.steering.view,
                                                              self.ring_outs.view, self.pops.held_view,
                                                              tasks=self.tasks.health, writes=self.writes.view,
                                                              desktops=self.hub.stream_view))
        self.engine = Engine(self.registry, clock=time.monotonic, pbx_now=self.pbx_now, subscriptions=self.subscriptions(),
                             evaluators=(Evaluator("policy", self.steering), Evaluator("callback-desk", self.callbacks)),
                             guard=self.tasks.call, also_waiting=lambda: bool(self.callbacks.tasks))
        self._background: set[asyncio.Task[None]] = set()  # membership restores after a PBX restart
        self._ami_secret = secrets["ami.secret"]
        self._pbx_check: asyncio.Task[Any] | None = None  # what intake needs from the PBX, after the first login
        self._alarm = asyncio.Event()  # the engine's deadline came nearer than the ticker sleeps
        self._armed_for = float("inf")  # the deadline the ticker sleeps until
        self._http: uvicorn.Server | None = None

    def subscriptions(self) -> tuple[Subscription, ...]:
        """Who hears of each event, in this order. Each runs under its own guard: one that raises
        is logged and counted, and the others (and the call's records, which come after all of
        them as the engine's outputs) still see every notice."""
        return (
            Notices("pops", self.pops),
            Notices("callback-desk.notices", self.callbacks),
            Notices("ring-out-desk", self.ring_outs),
            Notices("handler-status", self.handler_status),
            On("pops", ev.ChannelCreated, self.pops, "arriving"),
            On("callback-desk.events", ev.CallQueued, self, "_caller_called_again"),
            On("callback-desk.events", ev.OriginateFinished, self.callbacks, "originate_finished"),
            On("callback-desk.events", ev.PbxLinkDown, self.callbacks, "link_down"),
        )

    def _caller_called_again(self, e: ev.CallQueued) -> None:
        self.callbacks.caller_called_again(e.caller_number, e.call_id)

    # --- time ------------------------------------------------------------------------------

    def pbx_now(self) -> float:
        return self.session.pbx_now()

    # --- the event path ------------------------------------------------------------------------

    def on_event(self, event: ev.DomainEvent) -> None:
        outputs = self.engine.feed(event)
        if outputs:
            self.execute(outputs)
        due = self.engine.policy_due
        if due is not None and due < self._armed_for:  # sooner than the ticker sleeps: wake it
            self._armed_for = due
            self._alarm.set()

    def execute(self, outputs: Sequence[out.Output]) -> None:
        """Carry out what the engine asks, in its order, each under the records' guard."""
        for o in outputs:
            self.tasks.call("records", partial(_EXECUTE[type(o)], self, o))

    def _journal(self, o: out.Journal) -> None:
        """The call's record, as soon as its outcome in the queue is known (see intake.app.journal)."""
        self._file_journal(JournalRecord.of(o.call))

    def _call_over(self, o: out.CallOver) -> None:
        call = o.call
        recorded = partial(self.pops.unrecorded.recorded, call.caller_number, call.call_id, call.queued_at)
        contact = contact_record(call, self.registry.handlers) if call.counted else None
        if contact is not None:
            self._file_contact("contact", contact, also=recorded)
        else:
            recorded()  # no record will come: a repeat count must not wait for one
        self.desk.call_finished(call)

    def _restore(self, o: out.RestoreMemberships) -> None:
        task = self.desk.restore(o.member, o.lost)
        if task is not None:
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _check_pbx(self, o: out.CheckPbx) -> None:
        if self._pbx_check is None:
            self._pbx_check = asyncio.get_running_loop().create_task(pbx_check.check_at_startup(self.config, self._ami_secret))

    def _file_journal(self, record: JournalRecord) -> None:
        # Any: a redis pipeline, sync or async (redis-py types them apart; the core may not import redis at all)
        def stage(pipe: Any) -> None:
            self.journal.stage(pipe, record)
            self.in_progress.stage_done(pipe, record.call_id)  # in the same transaction: never both, never neither

        self.writes.submit("journal", stage, record=record)

    def _keep_in_progress(self, record: InProgress) -> None:
        self.writes.submit("in-progress", lambda pipe: self.in_progress.stage(pipe, record), record=record)

    def _replay_spooled(self) -> tuple[list[JournalRecord], list[InProgress]]:
        """Records the last run could not write before it stopped go first, the way they went
        then; returns the journal's (today's figures count them before they reach Redis) and the
        calls in progress (the first resync settles them)."""
        journalled: list[JournalRecord] = []
        in_progress: list[InProgress] = []
        for kind, data in self.writes.spooled():
            try:  # read as JSON (the spool's own form), so strict models take enums by value
                if kind == "journal":
                    journalled.append(JournalRecord.model_validate_json(json.dumps(data)))
                    self._file_journal(journalled[-1])
                elif kind == "callback":
                    self.callbacks.spooled(CallbackTask.model_validate_json(json.dumps(data)))
                elif kind == "in-progress":
                    in_progress.append(InProgress.model_validate_json(json.dumps(data)))
                    self._keep_in_progress(in_progress[-1])
                else:
                    self._file_contact(kind, ContactRecord.model_validate_json(json.dumps(data)))
            except ValidationError as exc:
                log.error("spooled_record_invalid", kind=kind, data=data, problems=exc.error_count())
        return journalled, in_progress

    def _file_called_back(self, record: ContactRecord) -> None:
        """A call-back's history entry goes the way of a settled call's record: behind the event path."""
        self._file_contact("called-back", record)

    def _file_contact(self, kind: str, record: ContactRecord, also: Callable[[], None] | None = None) -> None:
        """Write ``record`` behind the event path; once it is in Redis (or dropped), ``also()``,
        and what the pops hold of the number is read again."""
        def written() -> None:
            if also is not None:
                also()
            self.pops.held.changed(record.number)

        self.writes.submit(kind, lambda pipe: self.history.stage_contact(pipe, record), done=written, record=record)

    async def file_outcome(self, handler_id: str, outcome: Outcome) -> None:
        """Store a handler's outcome for a call they answered; refuse any other call."""
        taken = self.engine.answered(outcome.call_id)
        if taken is None:
            raise UnknownCall(outcome.call_id)
        if taken[0] != handler_id:
            raise NotYourCall(outcome.call_id, handler_id)
        await self.history.record_outcome(taken[1], outcome)
        log.info("outcome_filed", call_id=outcome.call_id, handler_id=handler_id, grading=outcome.grading)

    async def tick_forever(self) -> None:
        """The one timer: wake the engine at its deadline (or sooner, when an event brought the
        deadline nearer) and carry out what it returns."""
        while True:
            self._armed_for = self.engine.deadline()
            delay = self._armed_for - time.monotonic()
            if delay > 0:
                self._alarm.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._alarm.wait(), delay)
            self.execute(self.engine.wake())
            self.tasks.ok("ticker")

    async def _follow_pbx(self) -> None:
        """The AMI session reconnects by itself after any link failure; should its own loop fail,
        the supervisor starts it again. Shielded: shutdown stops the session itself (it logs off)."""
        await asyncio.shield(self.session.start())

    # --- views ----------------------------------------------------------------------------------

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def queue_report(self) -> dict[str, Any]:
        return {"at": self.pbx_now(), **self.registry.report(self.pbx_now())}

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def live_calls(self) -> list[dict[str, Any]]:
        now = self.pbx_now()
        calls = sorted(self.registry.calls.values(), key=lambda c: c.queued_at)
        return [c.snapshot(now) for c in calls]

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def handler_views(self) -> list[dict[str, Any]]:
        return [h.view(self.config.wrapup_reason) for h in self.registry.handlers.values()]

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def handler_me(self, handler_id: str) -> dict[str, Any]:
        """What a handler's desktop shows about its own handler (the same view its socket is pushed)."""
        return self.handler_status.view(handler_id)

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def picture(self) -> dict[str, Any]:
        return {**self.queue_report(), "calls": self.live_calls(), "handlers": self.handler_views(),
                "overflow": self.steering.view(), "callbacks": self.callbacks.view()}

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    async def health(self) -> dict[str, Any]:
        try:
            redis_ok = bool(await asyncio.wait_for(self.redis.ping(), 1.0))
        except Exception:  # noqa: BLE001 - a boundary: the fault is logged and counted, never lost
            redis_ok = False
        ami_ok = self.session.connected and self.registry.link_up
        tasks = self.tasks.health()
        degraded = [name for name, task in tasks.items() if task["degraded"]]
        return {
            "ok": ami_ok and redis_ok and not degraded,
            "ami": {"connected": ami_ok, "ami_version": self.registry.pbx_version},
            "redis": {"reachable": redis_ok},
            "degraded": degraded,
            "tasks": tasks,
        }

    # --- running ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to finish: uvicorn closes its sockets, then the rest unwinds."""
        if self._http is not None:
            self._http.should_exit = True

    async def _rebuild_figures(self, spooled: list[JournalRecord]) -> set[tuple[str, str, float]] | None:
        """Today's figures from the journal and the records the last run spooled, before the
        PBX link starts (so before the first resync offers the calls still waiting, which have
        no record yet): a restart never takes a figure back, and counts no call twice. Returns
        the stays the journal holds (None when it could not be read)."""
        day = local_day(time.time())
        today = date.fromisoformat(day)
        try:
            stored = await self.journal.day(today)
        except (RedisError, OSError, ValidationError) as exc:
            log.error("figures_not_rebuilt", day=day, error=repr(exc))
            return None
        records = one_per_stay(stored + [r for r in spooled if local_day(r.queued_at) == day])
        counted = self.registry.metrics.seed(r.settlement() for r in records)
        log.info("figures_rebuilt", day=day, calls=counted, skipped=len(records) - counted)
        return {(r.call_id, r.queue, r.queued_at) for r in stored + spooled}

    async def _adopt_in_progress(self, journalled: set[tuple[str, str, float]], spooled: list[InProgress]) -> None:
        """The calls the last run offered and did not journal, to the registry before the first
        resync settles them; one the journal already has (a spooled record not yet in Redis) is
        not taken again."""
        try:
            stored = await self.in_progress.load()
        except (RedisError, OSError) as exc:
            log.error("calls_in_progress_not_read", error=repr(exc))
            stored = []
        records = {r.call_id: r for r in stored + spooled if r.stay not in journalled}
        adopted = self.registry.adopt_in_progress(records.values())
        log.info("calls_in_progress_adopted", calls=adopted, already_journalled=len(stored) + len(spooled) - len(records))

    async def close(self) -> None:
        """What a stop waits for once the long-running tasks are stopped: the desks' actions in
        flight (before the link goes, so none is cut off), the PBX link's log-off, the pops being
        composed, and the records (spooled if Redis cannot take them)."""
        if self._pbx_check is not None:
            self._pbx_check.cancel()
        await self.ring_outs.close()
        await self.desk.close()
        await self.steering.close()
        await self.session.stop()
        await self.pops.drain()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.writes.close(timeout=5.0)

    async def run(self, http_host: str, http_port: int, *, ready: asyncio.Event | None = None,
                  bound: list[int] | None = None) -> None:
        server = uvicorn.Server(http_config(create_app(self), http_host, http_port))
        self._http = server
        await warm_redis(self.redis)
        spooled, spooled_in_progress = self._replay_spooled()
        await self.callbacks.restore()
        journalled = await self._rebuild_figures(spooled)
        if journalled is not None:  # else the figures were not rebuilt: which calls are journalled is unknown
            await self._adopt_in_progress(journalled, spooled_in_progress)
        await self.desk.load_timers()
        # Every long-running task under the supervisor: what one raises is logged, counted and
        # restarted, and never stops the server (only the HTTP server's own end does).
        self.tasks.start("ami", self._follow_pbx)
        self.tasks.start("ticker", self.tick_forever)
        self.tasks.start("heap-collector", partial(heap.collect_on_schedule, quiet=lambda: not self.registry.waiting_calls()))
        if self.history_watch is not None:
            self.tasks.start("history-watch", self.history_watch.run)
        if isinstance(self.hub, SharedDesktopHub):
            self.tasks.start("desktop-streams", self.hub.follow)  # what other nodes add, to desktops here
        thresholds: tuple[int, int, int] | None = None
        try:
            web = asyncio.create_task(server.serve())
            while not server.started:
                if web.done():
                    break
                await asyncio.sleep(0.02)
            if bound is not None and server.servers:
                bound.extend(s.getsockname()[1] for s in server.servers[0].sockets)
            thresholds = heap.settle()
            if ready is not None:
                ready.set()
            await web
        finally:
            for name in ("ticker", "heap-collector", "history-watch", "desktop-streams", "ami"):
                await self.tasks.stop(name)
            await self.close()
            await self.tasks.close()
            if thresholds is not None:
                heap.restore(thresholds)


async def serve(config: IntakeConfig, secrets: dict[str, str], *, log_level: str = "info") -> None:
    logs.configure(log_level)
    redact_tokens_in_server_logs()
    redis = make_redis(config.redis.url)
    server = IntakeServer(config, secrets, redis)
    log.info("starting", http=f"{config.http.host}:{config.http.port}", ami=f"{config.ami.host}:{config.ami.port}")
    await server.run(config.http.host, config.http.port)


_EXECUTE: dict[type, Callable[[IntakeServer, Any], object]] = {  # Any: each takes the output kind it is keyed by
    out.KeepInProgress: lambda s, o: s._keep_in_progress(o.record),
    out.Journal: IntakeServer._journal,
    out.CallOver: IntakeServer._call_over,
    out.Resync: lambda s, o: s.session.resync(o.reason),
    out.RestoreMemberships: IntakeServer._restore,
    out.ResumeWrapUps: lambda s, o: s.desk.resync_completed(),  # the PBX's picture is in
    out.CheckPbx: IntakeServer._check_pbx,
    out.Publish: lambda s, o: s.supervisors.publish(),
}
