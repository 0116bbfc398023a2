"""One PBX site: its AMI session, registry, engine and desks, and the one timer that wakes its engine.

A site follows one Asterisk (a ``[[pbx]]`` section, or the single ``[ami]`` as the site
``"default"``). Events flow one way: the site's AMI session hands each domain event to
:meth:`Site.on_event`, which feeds it to the site's :class:`~intake.core.engine.Engine` (registry ->
notices -> subscribers, in the order :meth:`Site.subscriptions` declares) and carries out what the
engine returns in :meth:`Site.execute`: records behind the event path, resyncs and restores over
AMI, the wallboard. The ticker wakes the engine at its next deadline.

Two seams other parts hook into:

- :meth:`Site.execute` is the one place where the engine's outputs (records, resyncs, membership
  restores, wrap-up resumption) are carried out;
- :meth:`Site.link_came_up` is the one place that hears the site's AMI link is up (its first
  login's PBX check, and every resync after a lost link).

What every site shares (the pops, the desktop hub, the caller history, the record writer, the
task supervisor, the supervisors' stream) is handed in as :class:`Shared`; everything per PBX is
built here from the site's own view of the configuration
(:meth:`intake.core.config.IntakeConfig.site_config`), so the desks need no notion of sites.
"""

# Why one module of ~440 lines: everything one PBX needs is wired and run here, taken whole from
# what was the composition root before there were sites; the server composes sites.

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any

import structlog
from pydantic import ValidationError
from redis.exceptions import RedisError

from intake.app import pbx_check
from intake.app.cluster import Cluster
from intake.app.connections import replicated_client
from intake.app.handler_status import HandlerStatusPush
from intake.app.journal import (
    CallJournal,
    JournalRecord,
    TalkRecord,
    WrapUpRecord,
    contact_record,
    one_per_stay,
)
from intake.app.journal_range import JournalRange, wrapups_of
from intake.app.pops import PopRouter
from intake.app.prometheus import IntakeCollector
from intake.app.signed_in_store import SignedInStore
from intake.app.supervise import Supervisor
from intake.app.write_behind import WriteBehind
from intake.core import outputs as out
from intake.core.config import IntakeConfig
from intake.core.engine import Engine, Evaluator, Notices, On, Subscription
from intake.core.handlers import WrapUpCalledOff
from intake.core.in_progress import InProgress, InProgressStore
from intake.core.live_demand import LiveDemand
from intake.core.metrics import local_day
from intake.core.registry import Fed, registry_of
from intake.core.signed_in import SignedInSampler
from routing.callback_desk import CallbackDesk
from routing.callbacks import CallbackStore, CallbackTask
from routing.handler_desk import HandlerDesk
from routing.ring_out_desk import RingOutDesk
from routing.steering import Steering
from routing.timers import TimerStore
from screenpop.delivery import DesktopHub
from screenpop.history import HistoryStore
from screenpop.models import ContactRecord
from telephony import events as ev
from telephony.session import AmiSession

log = structlog.get_logger("intake.site")

CALLBACKS_REFRESHED_EVERY = 1.0
"""With several nodes, how soon what a handler did with a call-back task on another node reaches
this node's memory (one HMGET of the open tasks)."""

Stay = tuple[str, str, float]
"""A call's stay in one queue: (call id, queue, queue entry)."""


@dataclass(frozen=True, slots=True)
class Shared:
    """What every site of a server uses together."""

    redis: Any  # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), through their common commands
    hub: DesktopHub
    pops: PopRouter
    history: HistoryStore
    writes: WriteBehind
    tasks: Supervisor
    publish: Callable[[], None]  # the supervisors' picture, now
    demand: LiveDemand | None = None  # every site's calls, as the wallboard's needed now counts them


class _SiteWrites:
    """The shared record writer as one site's desks see it: the site in each record's kind, so
    that a record spooled at shutdown goes back to its own site at the next start."""

    def __init__(self, writes: WriteBehind, kind: Callable[[str], str]) -> None:
        self._writes, self._kind = writes, kind

    # Any: a redis pipeline, and the record as its own model (see intake/app/write_behind.py)
    def submit(self, kind: str, stage: Callable[[Any], None], done: Callable[[], None] | None = None, *,
               record: Any = None) -> None:
        self._writes.submit(self._kind(kind), stage, done, record=record)


class Site:
    def __init__(self, config: IntakeConfig, secret: str, shared: Shared, *, tag: str = "") -> None:
        """``config``: the site's own view (``IntakeConfig.site_config``); ``secret``: its AMI
        secret; ``tag``: "" for the single ``[ami]`` site (its task names and records keep the
        names they always had), else the site's name."""
        self.name = config.sites[0].name
        self.config = config
        self.tag = tag
        self.shared = shared
        self.session = AmiSession(
            config.ami.host, config.ami.port, config.ami.username, secret,
            ping_interval=config.ami.ping_interval, ping_timeout=config.ami.ping_timeout,
            action_timeout=config.ami.action_timeout, backoff_initial=config.ami.reconnect_initial,
            backoff_max=config.ami.reconnect_max, max_clock_skew=config.ami.max_clock_skew_seconds, on_event=self.on_event,
        )
        self.registry = registry_of(config)
        # The single [ami] site's phones and clock are the server's: it pops through the shared router itself.
        self.pops = shared.pops.for_site(self.registry.handler_of, self.pbx_now) if tag else shared.pops
        prefix = config.redis.key_prefix  # the site's own (see IntakeConfig.site_config)
        self.cluster = Cluster(config, shared.redis, self.name)  # who leads the site's side effects (a lone node: this one)
        self.timers = TimerStore(shared.redis, prefix, self.cluster.fence, replicated_client(
            shared.redis, config.redis.replicas_to_wait, config.redis.wait_timeout_seconds))
        self.desk = HandlerDesk(config, self.session, self.registry.handlers.get, resync=self.session.resync,
                                timers=self.timers, gate=self.cluster.gate, seats=self.registry.seating,
                                called_off=self._wrapup_called_off)
        self.ring_outs = RingOutDesk(config, self.desk, self.registry.handlers.get)
        self.handler_status = HandlerStatusPush(config, self.registry.handlers.get, self.ring_outs.rule.reason, shared.hub,
                                                seats=self.registry.seating, after_wrapup=self.desk.not_ready_after_wrapup)
        self.steering = Steering(config, self.registry, self.session, self.pbx_now, resync=self.session.resync,
                                 gate=self.cluster.gate, fence=self.cluster.fence)
        self.callbacks = CallbackDesk(config, self.registry, CallbackStore(shared.redis, prefix, self.cluster.fence),
                                      shared.hub, self.session, self.pbx_now, writes=_SiteWrites(shared.writes, self.kind),
                                      file_history=self._file_called_back,
                                      on_change=lambda: self.engine.changed(), gate=self.cluster.gate)
        self.cluster.wire(self.desk, self.callbacks, self.session.resync)
        self.journal = CallJournal(shared.redis, prefix)
        self.in_progress = InProgressStore(shared.redis, prefix)
        self.signed_in = SignedInStore(shared.redis, prefix)
        self._signed_in = SignedInSampler({line.name: line.queues for line in config.lines})
        self._signed_in_write: asyncio.Task[None] | None = None  # one at a time: a minute's samples land in order
        self._summarised_before: date | None = None  # the local day whose day before is summarised
        self._summarising: asyncio.Task[None] | None = None
        self.engine = Engine(self.registry, clock=time.monotonic, pbx_now=self.pbx_now, subscriptions=self.subscriptions(),
                             evaluators=(Evaluator("policy", self.steering), Evaluator("callback-desk", self.callbacks)),
                             guard=shared.tasks.call, also_waiting=lambda: bool(self.callbacks.tasks))
        self._secret = secret
        self._background: set[asyncio.Task[None]] = set()  # membership restores after a PBX restart
        self._pbx_check: asyncio.Task[Any] | None = None  # what intake needs from the PBX, after the first login
        self._alarm = asyncio.Event()  # the engine's deadline came nearer than the ticker sleeps
        self._armed_for = float("inf")  # the deadline the ticker sleeps until

    def subscriptions(self) -> tuple[Subscription, ...]:
        """Who hears of each event, in this order. Each runs under its own guard: one that raises
        is logged and counted, and the others (and the call's records, which come after all of
        them as the engine's outputs) still see every notice."""
        return (
            Notices("pops", self.pops),
            Notices("callback-desk.notices", self.callbacks),
            Notices("ring-out-desk", self.ring_outs),
            Notices("handler-status", self.handler_status),
            *((Notices("live-demand", self.shared.demand),) if self.shared.demand is not None else ()),
            On("pops", ev.ChannelCreated, self.pops, "arriving"),
            On("callback-desk.events", ev.CallQueued, self, "_caller_called_again"),
            On("callback-desk.events", ev.OriginateFinished, self.callbacks, "originate_finished"),
            On("callback-desk.events", ev.PbxLinkDown, self.callbacks, "link_down"),
        )

    def _caller_called_again(self, e: ev.CallQueued) -> None:
        self.callbacks.caller_called_again(e.caller_number, e.call_id)

    def task(self, name: str) -> str:
        """A site's task as the supervisor (and /healthz) names it: ``ami``, or ``ami:north``."""
        return f"{name}:{self.tag}" if self.tag else name

    def kind(self, kind: str) -> str:
        """A site's record kind as the writer (and its spool) names it: ``journal``, or ``journal@north``."""
        return f"{kind}@{self.tag}" if self.tag else kind

    def pbx_now(self) -> float:
        return self.session.pbx_now()

    @property
    def up(self) -> bool:
        """The PBX link is logged in and the registry holds the PBX's picture."""
        return self.session.connected and self.registry.link_up

    # --- the event path ------------------------------------------------------------------------

    def on_event(self, event: Fed) -> None:
        outputs = self.engine.feed(event)
        if outputs:
            self.execute(outputs)
        due = self.engine.policy_due
        if due is not None and due < self._armed_for:  # sooner than the ticker sleeps: wake it
            self._armed_for = due
            self._alarm.set()

    def _wrapup_called_off(self, member: str, why: str) -> None:
        """The desk will not pause ``member`` for the wrap-up the registry shows due: it ends now."""
        self.on_event(WrapUpCalledOff(self.pbx_now(), member, why))

    def execute(self, outputs: Sequence[out.Output]) -> None:
        """Carry out what the engine asks, in its order, each under the records' guard."""
        for o in outputs:
            self.shared.tasks.call("records", partial(_EXECUTE[type(o)], self, o))

    def link_came_up(self, o: out.CheckPbx | out.ResumeWrapUps) -> None:
        """The site's link is up: its first login's PBX check (once a run), and the PBX's picture in
        after every (re)login, so the wrap-ups a lost link left pending go on."""
        if isinstance(o, out.ResumeWrapUps):
            self.cluster.resync_completed()  # a takeover leads from now; the wrap-ups resume
        elif self._pbx_check is None:
            self._pbx_check = asyncio.get_running_loop().create_task(pbx_check.check_at_startup(self.config, self._secret))

    def _call_over(self, o: out.CallOver) -> None:
        call = o.call
        recorded = partial(self.pops.unrecorded.recorded, call.caller_number, call.call_id, call.queued_at)
        places = self.pops.locations
        location = places.settled(call.call_id) if places is not None else None
        contact = contact_record(call, self.registry.handlers, location) if call.counted else None
        if contact is not None:
            self.file_contact("contact", contact, also=recorded)
        else:
            recorded()  # no record will come: a repeat count must not wait for one
        talk = TalkRecord.of(call)
        if talk is not None:
            self.file_talk(talk)
        self.desk.call_finished(call)

    def file_talk(self, talk: TalkRecord) -> None:
        """The call's talk time beside its journal record (staffing's handle time), behind the event path."""
        self.shared.writes.submit(self.kind("talk"), lambda pipe: self.journal.stage_talk(pipe, talk), record=talk)

    def file_wrapup(self, wrapup: WrapUpRecord) -> None:
        """The handler's measured wrap-up beside the call's journal record (the handle time's other half)."""
        self.shared.writes.submit(self.kind("wrapup"), lambda pipe: self.journal.stage_wrapup(pipe, wrapup), record=wrapup)

    def _restore(self, o: out.RestoreMemberships) -> None:
        task = self.desk.restore(o.member, o.lost)
        if task is not None:
            self.in_background(task)

    def in_background(self, work: Coroutine[Any, Any, None] | asyncio.Task[None]) -> None:
        """Run ``work`` beside the site's loop; the site's close waits for it."""
        task = work if isinstance(work, asyncio.Task) else asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def file_journal(self, record: JournalRecord) -> None:
        # Any: a redis pipeline, sync or async (redis-py types them apart; the core may not import redis at all)
        def stage(pipe: Any) -> None:
            self.journal.stage(pipe, record)
            self.in_progress.stage_done(pipe, record.call_id)  # in the same transaction: never both, never neither

        self.shared.writes.submit(self.kind("journal"), stage, record=record)

    def keep_in_progress(self, record: InProgress) -> None:
        stays = self.journal.stays_key(local_day(record.queued_at))  # never again once journalled (by any node)
        self.shared.writes.submit(self.kind("in-progress"), lambda pipe: self.in_progress.stage(pipe, record, stays),
                                  record=record)

    def _file_called_back(self, record: ContactRecord) -> None:
        """A call-back's history entry goes the way of a settled call's record: behind the event path."""
        self.file_contact("called-back", record)

    def file_contact(self, kind: str, record: ContactRecord, also: Callable[[], None] | None = None) -> None:
        """Write ``record`` to the caller's history behind the event path; once it is in Redis (or
        dropped), ``also()``, and what the pops hold of the number is read again."""
        def written() -> None:
            if also is not None:
                also()
            self.pops.held.changed(record.number)

        self.shared.writes.submit(kind, lambda pipe: self.shared.history.stage_contact(pipe, record), done=written, record=record)

    # Any: each record's JSON as spooled (validated here by its kind)
    def replay(self, kind: str, data: Any) -> JournalRecord | InProgress | None:
        """A record of this site the last run spooled goes first, the way it went then; the
        journal's and the calls in progress are returned (the figures and the adoption take them)."""
        text = json.dumps(data)  # read as JSON (the spool's own form), so strict models take enums by value
        if kind == "journal":
            journalled = JournalRecord.model_validate_json(text)
            self.file_journal(journalled)
            return journalled
        if kind == "in-progress":
            in_progress = InProgress.model_validate_json(text)
            self.keep_in_progress(in_progress)
            return in_progress
        if kind == "talk":
            self.file_talk(TalkRecord.model_validate_json(text))
            return None
        if kind == "wrapup":
            self.file_wrapup(WrapUpRecord.model_validate_json(text))
            return None
        self.callbacks.spooled(CallbackTask.model_validate_json(text))
        return None

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
            else:
                # A round that took longer than the tick (a busy machine, a slow log line) leaves the
                # next one due already: without this the ticker would run round after round without
                # ever giving the loop back, and the AMI link, the desktops and HTTP would starve.
                await asyncio.sleep(0)
            self.execute(self.engine.wake())
            self.shared.tasks.call("records", self.sample_signed_in)
            self.shared.tasks.call("records", partial(self.summarise_closed_day, time.time()))
            self.shared.tasks.ok(self.task("ticker"))

    def sample_signed_in(self) -> None:
        """The leader keeps how many handlers are signed in to each line (staffing's "signed in",
        intake.app.signed_in_store), once a minute and when a count changes; not before the
        registry holds the PBX's picture (an empty one would say nobody was)."""
        if not self.up or not self.cluster.gate.acts():
            return
        if self._signed_in_write is not None and not self._signed_in_write.done():
            return  # the next tick looks again
        samples = self._signed_in.sample(self.pbx_now(), self.registry.handlers.values())
        if samples:
            self._signed_in_write = asyncio.get_running_loop().create_task(self.signed_in.write(samples))
            self.in_background(self._signed_in_write)

    def summarise_closed_day(self, now: float) -> None:
        """The leader summarises the local day before ``now``'s once it is over (the first tick of
        a day, and the first after a start): :mod:`intake.app.journal_range` keeps it, so a year's
        staffing, forecast and return read 365 summaries and no past day's records again (a day
        whose records or gradings change later is summarised again when next read)."""
        if not self.up or not self.cluster.gate.acts():
            return
        today = date.fromisoformat(local_day(now))
        if today == self._summarised_before or (self._summarising is not None and not self._summarising.done()):
            return
        self._summarised_before = today
        self._summarising = asyncio.get_running_loop().create_task(self._summarise(today - timedelta(days=1), today))
        self.in_background(self._summarising)

    async def _summarise(self, day: date, today: date) -> None:
        try:
            await JournalRange(self.journal.redis, [self.journal.prefix], wrapups_of(self.config)).summaries(day, day, today)
        except (RedisError, OSError) as exc:  # the day is summarised when it is first read instead
            log.warning("day_not_summarised", site=self.name, day=day.isoformat(), error=repr(exc))
            return
        log.info("day_summarised", site=self.name, day=day.isoformat())

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
        return [c.snapshot(now) for c in sorted(self.registry.calls.values(), key=lambda c: c.queued_at)]

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def handler_views(self) -> list[dict[str, Any]]:
        position = self.registry.seating.position_of
        return [{**h.view(self.config.wrapup_reason), "position": position(h.member)} for h in self.registry.handlers.values()]

    def collector(self, shared_figures: dict[str, Any]) -> IntakeCollector:
        """The site's figures for /metrics (``shared_figures``: the server's own, given by one site only)."""
        return IntakeCollector(lambda: {**self.queue_report(), "leaders": self.cluster.view()}, self.handler_views, lambda: self.session.counters, self.steering.view,
                               self.ring_outs.view, site=self.tag or None, **shared_figures)

    # --- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        self.shared.tasks.start(self.task("ami"), self._follow_pbx)
        self.shared.tasks.start(self.task("ticker"), self.tick_forever)
        self.cluster.start(self.shared.tasks, self.task("lease"))
        if self.cluster.enabled:
            self.shared.tasks.start(self.task("callbacks-refresh"), self._refresh_callbacks)

    async def _refresh_callbacks(self) -> None:
        """What handlers did with call-back tasks on other nodes, into this node's memory
        (CallbackDesk.refresh); Redis away is waited out here, not a failed task."""
        while True:
            await asyncio.sleep(CALLBACKS_REFRESHED_EVERY)
            try:
                await self.callbacks.refresh()
            except (RedisError, OSError) as exc:
                log.debug("callbacks_not_refreshed", site=self.name, error=repr(exc))

    async def stop_tasks(self) -> None:
        for name in ("callbacks-refresh", "ticker", "lease", "ami"):
            await self.shared.tasks.stop(self.task(name))

    async def restore(self, journalled: list[JournalRecord], in_progress: list[InProgress]) -> None:
        """Before the PBX link starts: call-back tasks, today's figures, the calls in progress,
        the wrap-up timers (``journalled``, ``in_progress``: what the last run spooled)."""
        await self.callbacks.restore()
        stays = await self._rebuild_figures(journalled)
        if stays is not None:  # else the figures were not rebuilt: which calls are journalled is unknown
            await self._adopt_in_progress(stays, in_progress)
        await self.desk.load_timers()

    async def _rebuild_figures(self, spooled: list[JournalRecord]) -> set[Stay] | None:
        """Today's figures from the journal and the records the last run spooled, before the
        PBX link starts (so before the first resync offers the calls still waiting, which have
        no record yet): a restart never takes a figure back, and counts no call twice. Returns
        the stays the journal holds (None when it could not be read)."""
        day = local_day(time.time())
        try:
            stored = await self.journal.day(date.fromisoformat(day))
        except (RedisError, OSError, ValidationError) as exc:
            log.error("figures_not_rebuilt", day=day, site=self.name, error=repr(exc))
            return None
        records = one_per_stay(stored + [r for r in spooled if local_day(r.queued_at) == day])
        counted = self.registry.metrics.seed(r.settlement() for r in records)
        log.info("figures_rebuilt", day=day, site=self.name, calls=counted, skipped=len(records) - counted)
        return {(r.call_id, r.queue, r.queued_at) for r in stored + spooled}

    async def _adopt_in_progress(self, journalled: set[Stay], spooled: list[InProgress]) -> None:
        """The calls the last run offered and did not journal, to the registry before the first
        resync settles them; one the journal already has (a spooled record not yet in Redis) is
        not taken again."""
        try:
            stored = await self.in_progress.load()
        except (RedisError, OSError) as exc:
            log.error("calls_in_progress_not_read", site=self.name, error=repr(exc))
            stored = []
        records = {r.call_id: r for r in stored + spooled if r.stay not in journalled}
        adopted = self.registry.adopt_in_progress(records.values())
        log.info("calls_in_progress_adopted", site=self.name, calls=adopted,
                 already_journalled=len(stored) + len(spooled) - len(records))

    async def close(self) -> None:
        """The desks' actions in flight (before the link goes, so none is cut off), then the PBX
        link's log-off and the restores still running."""
        if self._pbx_check is not None:
            self._pbx_check.cancel()
        await self.cluster.close()  # the lease released first: another node leads at once
        await self.ring_outs.close()
        await self.desk.close()
        await self.timers.close()
        await self.steering.close()
        await self.session.stop()
        await asyncio.gather(*self._background, return_exceptions=True)


_EXECUTE: dict[type, Callable[[Site, Any], object]] = {  # Any: each takes the output kind it is keyed by
    out.KeepInProgress: lambda s, o: s.keep_in_progress(o.record),
    out.Journal: lambda s, o: s.file_journal(JournalRecord.of(o.call)),
    out.CallOver: Site._call_over,
    out.WrapUpOver: lambda s, o: s.file_wrapup(WrapUpRecord.of(o.wrapped)),
    out.Resync: lambda s, o: s.session.resync(o.reason),
    out.RestoreMemberships: Site._restore,
    out.ResumeWrapUps: Site.link_came_up,  # the PBX's picture is in
    out.CheckPbx: Site.link_came_up,
    out.Publish: lambda s, o: s.shared.publish(),
}
