"""The composition root: one PBX session, the registry, pops, the history, the HTTP face.

Events flow one way: the AMI session hands each domain event to :meth:`IntakeServer.on_event`,
the registry turns it into notices, and the notices fan out to pops and the supervisors'
stream. A short tick settles calls that left their queue and refreshes the wallboard (waits
grow with time, not only with events).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Callable
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
from intake.app.handler_status import HandlerStatusPush
from intake.app.journal import CallJournal, JournalRecord, contact_record, one_per_stay
from intake.app.pops import PopRouter
from intake.app.prometheus import IntakeCollector, prometheus_registry
from intake.app.supervise import Supervisor
from intake.app.supervisors import SupervisorStream
from intake.app.web import create_app
from intake.app.write_behind import WriteBehind
from intake.core.config import IntakeConfig
from intake.core.in_progress import InProgress, InProgressStore
from intake.core.metrics import local_day
from intake.core.registry import (
    Answered,
    Finished,
    MembershipsLost,
    Notice,
    Queued,
    Registry,
    ResyncWanted,
    Settled,
)
from routing.callback_desk import CallbackDesk
from routing.callbacks import CallbackStore, CallbackTask
from routing.handler_desk import HandlerDesk
from routing.ring_out_desk import RingOutDesk
from routing.steering import Steering
from routing.timers import TimerStore
from screenpop.delivery import DesktopHub
from screenpop.errors import NotYourCall, UnknownCall
from screenpop.held import HeldHistories
from screenpop.history import HistoryConfig, HistoryStore
from screenpop.history_watch import HistoryWatch
from screenpop.models import ContactRecord, Outcome
from screenpop.web import desktop_endpoint, redact_tokens_in_server_logs
from telephony.events import (
    CallQueued,
    ChannelCreated,
    DomainEvent,
    OriginateFinished,
    PbxLinkDown,
    PbxLinkUp,
    SnapshotCompleted,
)
from telephony.session import AmiSession

log = structlog.get_logger("intake.server")

TICK = 0.25  # seconds between settle/refresh ticks: a wallboard within a second of the PBX
POLICY_COALESCE = 0.25  # seconds: routing decisions for a burst of events are taken once (targets are 12 s+)
ANSWERED_MEMORY = 20_000  # answered calls whose outcome a handler may still file


REDIS_POOL = 32  # connections: enough for a burst of pops, bounded so a burst cannot exhaust Redis


def make_redis(url: str, **connection: Any) -> Any:
    """The server's Redis client; ``connection`` adds connection settings (a benchmark counts
    round trips with ``connection_class=CountingConnection``)."""
    if url == "embedded":
        import fakeredis

        return fakeredis.FakeAsyncRedis()
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    # A pop must cost one round trip: a connection opened mid-burst would add its handshake, so
    # the pool is bounded (a pop waits for a free connection rather than opening one) and warmed
    # at start (warm_redis), and connections skip the CLIENT SETINFO commands redis-py sends.
    # After Redis restarts, every pooled connection is dead and says so only when next used: one
    # retry on a fresh connection, for a connection error only (the command never reached a live
    # Redis; a timed-out one may have, and is not sent twice).
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=REDIS_POOL, timeout=2, socket_timeout=5,
                                                    socket_connect_timeout=2, driver_info=None,
                                                    retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
                                                    **connection)
    return aioredis.Redis(connection_pool=pool)


def http_config(app: Any, host: str, port: int) -> uvicorn.Config:
    """uvicorn's settings for intake's HTTP and WebSocket server (the benchmark's floor uses them too).

    No permessage-deflate: a pop is a couple of KB on a control room's LAN, and compressing every
    message cost the server a zlib flush per send (about 2% of its CPU under load, cProfile of
    scripts/bench.py's server) and each desktop socket a compressor's memory (about half of it:
    80 -> 40 KiB per desktop at 10,000). uvicorn's own WebSocket pings only once a
    minute (its default, 20 s, is a timer and a ping per socket on top of the desktops' heartbeat,
    which already ends a silent desktop): a net for the supervisors' sockets."""
    return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, ws_max_size=64 * 1024,
                          ws_per_message_deflate=False, ws_ping_interval=60.0, ws_ping_timeout=30.0, lifespan="off")


def history_watch_of(redis: Any, history: HistoryStore, held: HeldHistories) -> HistoryWatch | None:
    """Redis's reports of writes to caller histories, for what the pops hold; none for the
    in-process store (every write to it goes through this process, and says so itself)."""
    if type(redis).__module__.startswith("fakeredis"):
        return None
    held.watching(False)  # until the watch stands
    pool = redis.connection_pool
    return HistoryWatch(pool.connection_kwargs, history.watched_prefixes(), changed=held.changed,
                        everything=held.everything, watching=held.watching, tls="SSL" in pool.connection_class.__name__)


async def warm_redis(redis: Any, connections: int = REDIS_POOL) -> None:
    """Open the pool's connections now, so the first burst of pops finds them ready."""
    try:
        await asyncio.gather(*(redis.ping() for _ in range(connections)))
    except Exception as exc:  # noqa: BLE001 - Redis not up yet: the pool fills lazily later
        log.warning("redis_not_warmed", error=repr(exc))


def registry_of(config: IntakeConfig) -> Registry:
    """An empty registry for the configured lines, queues and handlers."""
    queues = {q: (line.name, line.target_seconds) for line in config.lines for q in line.queues}
    members = {h.member: (h.id, h.name) for h in config.handlers}
    return Registry(queues, handlers=members, wrapup_reason=config.wrapup_reason)


_CONSEQUENCES = (Queued, Answered, Settled, Finished, ResyncWanted, MembershipsLost)
"""The notices the server acts on itself (see IntakeServer._follow_up)."""


class IntakeServer:
    def __init__(self, config: IntakeConfig, secrets: dict[str, str], redis: Any, *, tasks: Supervisor | None = None) -> None:
        """``tasks``: the supervisor of the server's long-running tasks (tests restart them sooner)."""
        self.config = config
        self.redis = redis
        self.tokens = Principals.from_config(config, secrets)
        self.registry = registry_of(config)
        self.history = HistoryStore(redis, HistoryConfig(prefix=config.redis.key_prefix,
                                                         repeat_window_seconds=config.routing.repeat_window_seconds))
        self.hub = DesktopHub()
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
                                      on_change=self._picture_changed)
        self.journal = CallJournal(redis, config.redis.key_prefix)
        self.in_progress = InProgressStore(redis, config.redis.key_prefix)
        self.prometheus = prometheus_registry(IntakeCollector(self.queue_report, self.handler_views,
                                                              lambda: self.session.counters, self.steering.view,
                                                              self.ring_outs.view, self.pops.held_view,
                                                              tasks=self.tasks.health, writes=self.writes.view))
        self._background: set[asyncio.Task[None]] = set()  # membership restores after a PBX restart
        self._ami_secret = secrets["ami.secret"]
        self._pbx_check: asyncio.Task[Any] | None = None  # what intake needs from the PBX, after the first login
        self._policy_due: asyncio.TimerHandle | None = None
        self._policy_at = 0.0  # monotonic time of the last evaluation
        # call id -> (handler id, caller number) for calls answered recently: outcomes may be
        # filed after the call ended, but only by the handler who took it.
        self._answered: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._dirty = True
        self._http: uvicorn.Server | None = None

    # --- time ------------------------------------------------------------------------------

    def pbx_now(self) -> float:
        return self.session.pbx_now()

    # --- the event path ------------------------------------------------------------------------

    def on_event(self, event: DomainEvent) -> None:
        notices = self.registry.apply(event)
        self._handle(notices)
        if isinstance(event, ChannelCreated):
            self.pops.arriving(event)
        elif isinstance(event, CallQueued):
            self.callbacks.caller_called_again(event.caller_number, event.call_id)
        elif isinstance(event, OriginateFinished):
            self.callbacks.originate_finished(event)
        elif isinstance(event, PbxLinkDown):
            self.callbacks.link_down(event)
        elif isinstance(event, SnapshotCompleted):
            self.desk.resync_completed()  # the PBX's picture is in: resume the wrap-ups a restart left
        elif isinstance(event, PbxLinkUp) and self._pbx_check is None:
            self._pbx_check = asyncio.get_running_loop().create_task(pbx_check.check_at_startup(self.config, self._ami_secret))
        if notices and self._policy_due is None:
            # Every event in the next few ms shares one evaluation: the policy reads the whole
            # floor (every handler), and a burst of events must not run it once per frame.
            self._policy_due = asyncio.get_running_loop().call_later(POLICY_COALESCE, self._evaluate_policy)

    def _evaluate_policy(self) -> None:
        """The routing policy and the call-back desk look at the floor: at most once a tick,
        whether events or the tick asked (each reads every handler at work and every waiting call)."""
        if self._policy_due is not None:
            self._policy_due.cancel()
            self._policy_due = None
        self._policy_at = time.monotonic()
        # Guarded one by one: a failing evaluation is counted and logged, the call-back desk's
        # still runs, and so does the next evaluation (a call_later callback's error would
        # otherwise be logged by asyncio and lost; the ticker's would restart the ticker).
        self.tasks.call("policy", self.steering.evaluate)
        self.tasks.call("callback-desk", self.callbacks.evaluate)

    def _picture_changed(self) -> None:
        self._dirty = True

    def _handle(self, notices: list[Notice]) -> None:
        if not notices:
            return
        self._dirty = True
        # Each consumer on its own guard: one that raises (a bug of ours, a value nobody foresaw)
        # is logged and counted, and the others, the call's journal record and wrap-up among
        # them, still see every notice.
        guard = self.tasks.call
        guard("pops", partial(self.pops.handle, notices))
        guard("callback-desk.notices", partial(self.callbacks.handle, notices))
        guard("ring-out-desk", partial(self.ring_outs.handle, notices))
        guard("handler-status", partial(self.handler_status.handle, notices))
        for n in notices:
            if isinstance(n, _CONSEQUENCES):
                guard("records", partial(self._follow_up, n))

    def _follow_up(self, n: Notice) -> None:
        """What the server itself does about a notice: records, wrap-up, resyncs, restores."""
        if isinstance(n, Queued):
            if n.call.counted:  # offered: kept where a restart finds it until its journal record is written
                self._keep_in_progress(InProgress.of(n.call))
        elif isinstance(n, Answered):
            self._remember_answer(n.call.call_id, n.member, n.call.caller_number)
        elif isinstance(n, Settled):
            self._journal(n)
        elif isinstance(n, Finished):
            self._finished(n)
        elif isinstance(n, ResyncWanted):
            self.session.resync(n.reason)
        elif isinstance(n, MembershipsLost):
            task = self.desk.restore(n.member, n.lost)
            if task is not None:
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    def _journal(self, n: Settled) -> None:
        """The call's record, as soon as its outcome in the queue is known (see intake.app.journal)."""
        self._file_journal(JournalRecord.of(n.call))

    def _finished(self, n: Finished) -> None:
        call = n.call
        recorded = partial(self.pops.unrecorded.recorded, call.caller_number, call.call_id, call.queued_at)
        contact = contact_record(call, self.registry.handlers) if call.counted else None
        if contact is not None:
            self._file_contact("contact", contact, also=recorded)
        else:
            recorded()  # no record will come: a repeat count must not wait for one
        self.desk.call_finished(call)

    def _file_journal(self, record: JournalRecord) -> None:
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

    def _remember_answer(self, call_id: str, member: str, number: str) -> None:
        handler = self.registry.handlers.get(member)
        if handler is None or handler.handler_id is None:
            return
        self._answered[call_id] = (handler.handler_id, number)
        while len(self._answered) > ANSWERED_MEMORY:
            self._answered.popitem(last=False)

    async def file_outcome(self, handler_id: str, outcome: Outcome) -> None:
        """Store a handler's outcome for a call they answered; refuse any other call."""
        taken = self._answered.get(outcome.call_id)
        if taken is None:
            raise UnknownCall(outcome.call_id)
        if taken[0] != handler_id:
            raise NotYourCall(outcome.call_id, handler_id)
        await self.history.record_outcome(taken[1], outcome)
        log.info("outcome_filed", call_id=outcome.call_id, handler_id=handler_id, grading=outcome.grading)

    async def _ticker(self) -> None:
        last_publish = 0.0
        while True:
            await asyncio.sleep(TICK)
            self._handle(self.registry.tick(self.pbx_now()))
            now = time.monotonic()
            if now - self._policy_at >= TICK:  # waits grow by themselves: the target comes at risk between events
                self._evaluate_policy()
            # Waits grow by themselves: refresh at least once a second while calls (or call-backs) wait.
            if self._dirty or (now - last_publish >= 1.0 and (self.registry.waiting_calls() or self.callbacks.tasks)):
                self._dirty = False
                last_publish = now
                self.supervisors.publish()
            self.tasks.ok("ticker")

    async def _follow_pbx(self) -> None:
        """The AMI session reconnects by itself after any link failure; should its own loop fail,
        the supervisor starts it again. Shielded: shutdown stops the session itself (it logs off)."""
        await asyncio.shield(self.session.start())

    # --- views ----------------------------------------------------------------------------------

    def queue_report(self) -> dict[str, Any]:
        return {"at": self.pbx_now(), **self.registry.report(self.pbx_now())}

    def live_calls(self) -> list[dict[str, Any]]:
        now = self.pbx_now()
        calls = sorted(self.registry.calls.values(), key=lambda c: c.queued_at)
        return [c.snapshot(now) for c in calls]

    def handler_views(self) -> list[dict[str, Any]]:
        return [h.view(self.config.wrapup_reason) for h in self.registry.handlers.values()]

    def handler_me(self, handler_id: str) -> dict[str, Any]:
        """What a handler's desktop shows about its own handler (its socket is sent the same)."""
        return self.handler_status.view(handler_id)

    def picture(self) -> dict[str, Any]:
        return {**self.queue_report(), "calls": self.live_calls(), "handlers": self.handler_views(),
                "overflow": self.steering.view(), "callbacks": self.callbacks.view()}

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
        self.tasks.start("ticker", self._ticker)
        self.tasks.start("heap-collector", partial(heap.collect_on_schedule, quiet=lambda: not self.registry.waiting_calls()))
        if self.history_watch is not None:
            self.tasks.start("history-watch", self.history_watch.run)
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
            for name in ("ticker", "heap-collector", "history-watch", "ami"):
                await self.tasks.stop(name)
            if self._policy_due is not None:
                self._policy_due.cancel()
            if self._pbx_check is not None:
                self._pbx_check.cancel()
            await self.ring_outs.close()
            await self.desk.close()
            await self.steering.close()
            await self.session.stop()
            await self.pops.drain()
            await asyncio.gather(*self._background, return_exceptions=True)
            await self.writes.close(timeout=5.0)
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
