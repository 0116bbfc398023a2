"""The composition root: the PBX sites, the pops, the caller history, the records, the HTTP face.

Each PBX is a :class:`~intake.app.site.Site` (its AMI session, registry, engine and desks, its
ticker); the server holds one per ``[[pbx]]`` (or one, ``"default"``, for the single ``[ami]``)
and what they share: the pops and desktops, the caller history, the record writer, the task
supervisor, the supervisors' stream. Views show each site and their total; a site whose PBX link
is down is shown down while the others carry on.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from pydantic import ValidationError
from redis.exceptions import RedisError

from intake.app import heap, logs, site_views, wallboard_audit
from intake.app.audit import AuditCollector, AuditTrail, spool_beside
from intake.app.auth import (
    HandlerPrincipal,
    Principal,
    Principals,
    Role,
    SupervisorPrincipal,
)
from intake.app.authenticator import Authenticator
from intake.app.balancer import NodeState, node_state
from intake.app.connections import (
    REDIS_POOL,
    history_watch_of,
    http_config,
    listen,
    make_redis,
    reader_redis,
    redis_of,
    replicated_write,
    warm_redis,
    writer_redis,
)
from intake.app.incidents_feed import incident_of_outcome, store_config
from intake.app.journal import JournalRecord
from intake.app.limits import Limits
from intake.app.locations import caller_locations
from intake.app.oidc_flow import SignIn
from intake.app.pops import PopRouter
from intake.app.position_claims import PositionClaims
from intake.app.positions import Positions, PositionStore
from intake.app.prometheus import SitesCollector, prometheus_registry
from intake.app.replicas import Replicas
from intake.app.retention import Retention, backstop_seconds
from intake.app.sessions import close_sockets_of_the_signed_out, end_expired_sessions
from intake.app.shown import shown_again
from intake.app.site import Shared, Site
from intake.app.socket_auth import socket_check
from intake.app.supervise import Supervisor
from intake.app.supervisors import SupervisorStream
from intake.app.wallboard import Wallboard
from intake.app.web import create_app
from intake.app.write_behind import WriteBehind
from intake.core.audit import Action, RecordKind
from intake.core.config import TEST_BED, IntakeConfig
from intake.core.errors import StateChangeFailed
from intake.core.in_progress import InProgress
from intake.core.live_demand import LiveDemand
from intake.core.registry import registry_of
from routing.callbacks import CallbackTask
from screenpop.errors import NotYourCall, UnknownCall
from screenpop.history import HistoryConfig, HistoryStore
from screenpop.incidents import IncidentStore
from screenpop.models import ContactRecord, Outcome
from screenpop.pop_lookup import PopLookup
from screenpop.shared_delivery import SharedDesktopHub, hub_for
from screenpop.web import desktop_endpoint, redact_tokens_in_server_logs

# Where the server's callers have always found them (the connections' settings and the empty
# registry live in their own modules now).
__all__ = ["REDIS_POOL", "IntakeServer", "history_watch_of", "http_config", "make_redis", "registry_of", "serve",
           "warm_redis"]

log = structlog.get_logger("intake.server")


class _OfTheFirstSite:
    """A part of the first site where a one-PBX server's callers (tests, tools) have always found it."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, server: IntakeServer, owner: type) -> Any:  # Any: whichever part of the site is named
        return getattr(server.site, self.name)


class IntakeServer:
    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's), used through their common commands
    def __init__(self, config: IntakeConfig, secrets: dict[str, str], redis: Any, *, tasks: Supervisor | None = None) -> None:
        """``secrets``: as :func:`intake.core.config.resolve_secrets` gives them; ``tasks``: the
        supervisor of the server's long-running tasks (tests restart them sooner)."""
        self.config = config
        self.redis = redis
        self.tokens = Principals.from_config(config, secrets)
        self.metrics_token = secrets.get("http.metrics_token")  # None: /metrics is open (a test bed)
        self.limits = Limits(config.http)  # refused tokens and sign-ins, per client address
        self.authenticator = Authenticator.from_config(config, self.tokens, redis)
        self.sign_in = (SignIn(config.oidc, secrets["oidc.client_secret"], self.authenticator, redis, config.redis.key_prefix)
                        if config.oidc is not None and "oidc.client_secret" in secrets else None)
        replicas, wait = config.redis.replicas_to_wait, config.redis.wait_timeout_seconds
        self.history = HistoryStore(redis, HistoryConfig(prefix=config.redis.key_prefix,
                                                         repeat_window_seconds=config.routing.repeat_window_seconds,
                                                         retention_seconds=backstop_seconds(config.retention)),
                                    reader=reader_redis(redis), replicated=replicated_write(redis, replicas, wait))
        # a real Redis: each handler's seqs from their stream there, shared by every node
        streams = config.desktop_streams
        self.hub = hub_for(redis, config.redis.key_prefix, node=config.cluster.node_id or "",  # "": one of its own
                           budget_seconds=streams.seq_budget_seconds, stream_length=streams.stream_length,
                           presence_seconds=streams.presence_seconds)
        self.desktop_endpoint = desktop_endpoint(
            self.hub, socket_check(self.authenticator, HandlerPrincipal, self.limits, lambda who: self.audit.seen(who)),
            self.file_outcome)
        self.pops = PopRouter(self.history, self.hub, lambda member: self.site.registry.handler_of(member), self.pbx_now,
                              repeat_calls=config.routing.repeat_calls, hold_seconds=config.redis.history_held_seconds)
        self.history_watch = history_watch_of(redis, self.history, self.pops.held)
        self.tasks = tasks or Supervisor()  # every long-running task of the server, by name
        # DPA 2018 s.62: every look at, change to and disclosure of a caller's data (intake.app.audit)
        self.audit = AuditTrail(writer_redis(redis, replicas), config.redis.key_prefix,
                                node=config.cluster.node(config.http.port), supervisor=self.tasks,
                                spool=spool_beside(config.redis.unwritten_spool),
                                replicas=Replicas(replicas, wait) if replicas else None, limit=config.audit.queue_limit)
        self.pops.consulted = self.audit.consulted_by_pop  # before the sites take their copies of the router
        self.hub.shown = shown_again(self.audit)  # a pop sent again to a desktop that resumed is consulted again
        # The caller's location on pops and pop.place: the call's own, the service's, the record's
        self.locations = self.pops.locations = caller_locations(config.location, self.hub, self.pbx_now, self.audit)
        # Incidents near callers (screenpop.incidents): read with the history when a call brings its location
        self.incidents = IncidentStore(redis, store_config(config.incidents, config.redis.key_prefix),
                                       reader=reader_redis(redis))
        self.pops.nearby = PopLookup(self.history, self.incidents)
        self.locations.nearby = self.pops.nearby.near  # a late location's pop.place lists them too
        self.pops.consulted_incidents = self.audit.consulted_incidents_by_pop
        self.retention = Retention(redis, self.history, config.retention, self.audit, config.redis.key_prefix,
                                   clock=time.time)
        self.supervisors = SupervisorStream(socket_check(self.authenticator, SupervisorPrincipal, self.limits,
                                                         lambda who: self.audit.seen(who)), self.picture)
        self.supervisors.shown = wallboard_audit.wallboard(self.audit).shown  # each caller shown, once per supervisor per call
        self.callers_by_api = wallboard_audit.api(self.audit)  # GET /api/calls and /api/callbacks: the same rule
        self.demand = LiveDemand(config)  # the wallboard's needed now, fed by every site's calls
        self.wallboard = Wallboard(config, lambda number, now: self.history.lookup(number, now), self.supervisors.publish,
                                   self.demand)
        self.writes = WriteBehind(writer_redis(redis, replicas), dead_letters=f"{config.redis.key_prefix}dead-letters",
                                  supervisor=self.tasks,
                                  spool=Path(config.redis.unwritten_spool) if config.redis.unwritten_spool else None,
                                  replicas=Replicas(replicas, wait) if replicas else None)
        shared = Shared(redis, self.hub, self.pops, self.history, self.writes, self.tasks, self._publish, self.demand)
        self.sites = {pbx.name: Site(config.site_config(pbx.name), secrets[config.secret_key(pbx.name)], shared,
                                     tag=pbx.name if config.pbx else "")
                      for pbx in config.sites}
        self.site = next(iter(self.sites.values()))  # the first (for [ami], the only one)
        self._site_of_handler = {h.id: self.sites[config.site_of_handler(h.id)] for h in config.handlers}
        self.audit.position_of = self._position_now  # pops' entries name where the handler sits
        self.positions = Positions(config, PositionStore(redis, config.redis.key_prefix), lambda h: self.site_of(h).desk,
                                   lambda h: self.site_of(h).name,
                                   lambda site, member: self.sites[site].registry.handler_of(member))
        # A position held longer than [desktop] position_claim_max_seconds is freed (intake.app.position_claims)
        self.position_claims = PositionClaims(self.positions, config.desktop.position_claim_max_seconds, self.audit)
        self.positions.taken = self.position_claims.taken
        self.hub.states_from(lambda handler_id: self.site_of(handler_id).handler_status.status(handler_id))
        shared_figures = {"held": self.pops.held_view, "tasks": self.tasks.health, "writes": self.writes.view,
                         "desktops": self.hub.stream_view}
        collectors = [site.collector(shared_figures if i == 0 else {}) for i, site in enumerate(self.sites.values())]
        self.prometheus = prometheus_registry(collectors[0] if len(collectors) == 1 else SitesCollector(collectors))
        self.prometheus.register(AuditCollector(self.audit))
        self._http: uvicorn.Server | None = None

    # The one-PBX server's parts, where its callers have always found them (the first site's).
    registry = _OfTheFirstSite()
    session = _OfTheFirstSite()
    engine = _OfTheFirstSite()
    desk = _OfTheFirstSite()
    ring_outs = _OfTheFirstSite()
    handler_status = _OfTheFirstSite()
    steering = _OfTheFirstSite()
    callbacks = _OfTheFirstSite()
    cluster = _OfTheFirstSite()
    journal = _OfTheFirstSite()
    in_progress = _OfTheFirstSite()
    on_event = _OfTheFirstSite()
    execute = _OfTheFirstSite()
    tick_forever = _OfTheFirstSite()
    _background = _OfTheFirstSite()

    def _quiet(self) -> bool:
        """No call waits on any site: a moment for the heap collector."""
        return not any(site.registry.waiting_calls() for site in self.sites.values())

    def site_of(self, handler_id: str) -> Site:
        """The site a configured handler's phone is on (KeyError for one not configured)."""
        return self._site_of_handler[handler_id]

    def pbx_now(self) -> float:
        return self.site.pbx_now()

    def _replay_spooled(self) -> tuple[dict[str, list[JournalRecord]], dict[str, list[InProgress]]]:
        """Records the last run could not write before it stopped go first, the way they went
        then (to the site whose kind they carry); returns each site's journal records (today's
        figures count them before they reach Redis) and calls in progress (the first resync settles them)."""
        journalled: dict[str, list[JournalRecord]] = {name: [] for name in self.sites}
        in_progress: dict[str, list[InProgress]] = {name: [] for name in self.sites}
        by_kind = {site.kind(k): (site, k) for site in self.sites.values() for k in ("journal", "in-progress", "callback", "talk", "wrapup")}
        for kind, data in self.writes.spooled():
            try:
                if kind in by_kind:
                    site, own = by_kind[kind]
                    record = site.replay(own, data)
                    if isinstance(record, JournalRecord):
                        journalled[site.name].append(record)
                    elif isinstance(record, InProgress):
                        in_progress[site.name].append(record)
                else:  # a caller's history: every site's
                    self.site.file_contact(kind, ContactRecord.model_validate_json(json.dumps(data)))
            except ValidationError as exc:
                log.error("spooled_record_invalid", kind=kind, data=data, problems=exc.error_count())
        return journalled, in_progress

    async def journal_day(self, day: date, site: str | None = None) -> list[JournalRecord]:
        """A local day's journal records: one site's, or every site's."""
        sites = [self.sites[site]] if site is not None else list(self.sites.values())
        return [record for s in sites for record in await s.journal.day(day)]

    def _position_now(self, handler_id: str) -> str | None:
        """The position the PBX shows ``handler_id`` at now (None: a fixed phone, or none)."""
        site = self._site_of_handler.get(handler_id)
        member = site.registry.seating.member_of(handler_id) if site is not None else None
        return site.registry.seating.position_of(member) if site is not None and member is not None else None

    def _handler_signed_off(self, handler_id: str) -> int:
        """A handler signed out or their sign-in ran out (told to every node): their desktops here
        close, and the site's leader (one node, so one QueueRemove) gives back their position."""
        site = self._site_of_handler.get(handler_id)
        if site is not None and site.cluster.gate.acts():
            site.in_background(self.session_ended(handler_id))
        return self.hub.sign_off(handler_id)

    async def session_ended(self, handler_id: str) -> None:
        """A handler's session ended (sign-out, expiry): the position they hold is left, its
        phone out of their queues. A PBX that cannot be reached keeps it theirs (logged)."""
        try:
            await self.positions.leave(handler_id)
        except StateChangeFailed as exc:
            log.warning("position_not_left_at_session_end", handler_id=handler_id, detail=exc.detail)

    async def file_outcome(self, handler_id: str, outcome: Outcome, who: Principal | None = None) -> None:
        """Store a handler's outcome for a call they answered (on their site); refuse any other call.
        ``who``: the handler as signed in (REST); the desktop's socket knows their id only."""
        taken = self.site_of(handler_id).engine.answered(outcome.call_id)
        if taken is None:
            raise UnknownCall(outcome.call_id)
        if taken[0] != handler_id:
            raise NotYourCall(outcome.call_id, handler_id)
        await self.history.record_outcome(taken[1], outcome)
        await self.site_of(handler_id).journal.grade(outcome.call_id, outcome.grading, outcome.at)  # the returns' 999 misuse
        self.audit.record(who or self.audit.handler(handler_id), Action.ALTERED, RecordKind.OUTCOME,
                          why=f"call {outcome.call_id}", number=taken[1], record=outcome.call_id)
        log.info("outcome_filed", call_id=outcome.call_id, handler_id=handler_id, grading=outcome.grading)
        located = self.pops.location_of(outcome.call_id)
        if located is not None:
            incident = incident_of_outcome(outcome, located.line, located.queued_at, located.location)
            try:
                await self.incidents.put([incident], time.time())
            except RedisError as exc:  # the outcome is stored: the handler is not told to file it again
                log.warning("graded_incident_unwritten", call_id=outcome.call_id, error=str(exc))

    async def grade_called_back(self, handler_id: str, task: CallbackTask) -> None:
        """A call-back's grading, journalled under the abandoned 999 call it followed up, in the day
        of its abandon: the misuse return counts the call graded (and says it was by call-back)."""
        if task.outcome is None or task.outcome.grading is None:
            return
        await self.site_of(handler_id).journal.grade(task.id, task.outcome.grading, time.time(), under=task.abandoned_at)
        log.info("called_back_graded", call_id=task.id, handler_id=handler_id, grading=task.outcome.grading)

    # --- views (each site and the total: intake.app.site_views) ----------------------------------

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def queue_report(self) -> dict[str, Any]:
        return site_views.queue_report(list(self.sites.values()))

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def live_calls(self) -> list[dict[str, Any]]:
        return site_views.live_calls(list(self.sites.values()))

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def handler_views(self) -> list[dict[str, Any]]:
        return site_views.handler_views(list(self.sites.values()))

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def callback_views(self) -> list[dict[str, Any]]:
        return site_views.callbacks(list(self.sites.values()))

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def handler_me(self, handler_id: str) -> dict[str, Any]:
        """What a handler's desktop shows about its own handler (the same view its socket is pushed)."""
        return self.site_of(handler_id).handler_status.view(handler_id)

    def _publish(self) -> None:
        """Something the wallboard shows changed: send it, or with no wallboard watching, still
        note who changed state when (the time in state a wallboard that connects later shows)."""
        if self.supervisors.listeners:
            self.supervisors.publish()
        else:
            self.wallboard.clocks.stamp(self.handler_views(), self.site.pbx_now())

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def picture(self) -> dict[str, Any]:
        sites = list(self.sites.values())
        return self.wallboard.picture({**self.queue_report(), "calls": self.live_calls(), "handlers": self.handler_views(),
                                       "overflow": site_views.overflow(sites), "callbacks": self.callback_views()}, sites)

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    async def health(self, *, ping_redis: bool = True) -> dict[str, Any]:
        """Healthy with Redis reachable, no task degraded and at least one site's PBX link up: a
        node with one site down still serves the other site's desktops (docs/operations.md).
        ``ping_redis=False``: the load balancer's check, answered from memory."""
        redis_ok: bool | None = None
        if ping_redis:
            try:
                redis_ok = bool(await asyncio.wait_for(self.redis.ping(), 1.0))
            except Exception:  # noqa: BLE001 - a boundary: the fault is logged and counted, never lost
                redis_ok = False
        pbx = site_views.pbx_health(list(self.sites.values()))
        tasks = self.tasks.health()
        degraded = [name for name, task in tasks.items() if task["degraded"]]
        any_site_up = any(site["connected"] for site in pbx["sites"].values())
        # Records waiting for a replica (none answers) do not make the node unfit: every node would
        # be, and the primary has them; /metrics and this say so.
        return {"ok": any_site_up and redis_ok is not False and not degraded, "node": self.node_state(), **pbx,
                "redis": {"reachable": redis_ok, "records_held": len(self.writes),
                          "records_awaiting_replica": self.writes.awaiting_replica(), "audit_entries_held": len(self.audit)},
                "degraded": degraded, "tasks": tasks}

    def node_state(self) -> NodeState:
        """What the load balancer's check is told (intake.app.balancer): answered from memory."""
        # every site's first try at its PBX is over (a snapshot taken, or a failed login retried)
        tried = all(site.registry.counters.snapshots > 0 or site.session.counters.reconnects > 0
                    for site in self.sites.values())
        return node_state(pbx_tried=tried, stopping=self._http is not None and self._http.should_exit)

    # --- running ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask :meth:`run` to finish: uvicorn closes its sockets, then the rest unwinds."""
        if self._http is not None:
            self._http.should_exit = True

    async def close(self) -> None:
        """What a stop waits for once the long-running tasks are stopped: each site's desks and
        PBX link, the pops being composed, and the records (spooled if Redis cannot take them)."""
        for site in self.sites.values():
            await site.close()
        await self.pops.drain()
        await self.locations.close()  # lookups still in flight are dropped: their calls' pops have gone
        await self.writes.close(timeout=5.0)
        await self.authenticator.close()
        await self.audit.close(timeout=5.0)
        for own in {id(c): c for c in (self.writes.redis, self.history.reader, self.history.replicated_client,
                                       self.audit.store.redis)
                    if c is not None and c is not self.redis}.values():
            await own.aclose()  # the clients made here for WAIT and the history's reads (not the one given)

    async def run(self, http_host: str, http_port: int, *, ready: asyncio.Event | None = None,
                  bound: list[int] | None = None) -> None:
        """Serve until stopped. The port is bound first: a busy one raises CannotListen before
        anything has touched the PBX (a resync, handlers re-added) or Redis."""
        listener = listen(http_host, http_port)
        try:
            await self._run(listener, http_host, http_port, ready, bound)
        finally:
            listener.close()

    async def _run(self, listener: socket.socket, http_host: str, http_port: int, ready: asyncio.Event | None,
                   bound: list[int] | None) -> None:
        server = uvicorn.Server(http_config(create_app(self), http_host, http_port, self.config.http.tls,
                                            self.config.http.forwarded_allow_ips))
        self._http = server
        await warm_redis(self.redis)
        if self.history.reader is not self.redis:
            await warm_redis(self.history.reader)
        journalled, in_progress = self._replay_spooled()
        self.audit.restore()
        self.audit.start()
        for site in self.sites.values():
            await site.restore(journalled[site.name], in_progress[site.name])
        # Every long-running task under the supervisor: what one raises is logged, counted and
        # restarted, and never stops the server (only the HTTP server's own end does).
        for site in self.sites.values():
            site.start()
        quiet = lambda: not any(site.registry.waiting_calls() for site in self.sites.values())
        self.tasks.start("heap-collector", partial(heap.collect_on_schedule, quiet=quiet))
        if self.history_watch is not None:
            self.tasks.start("history-watch", self.history_watch.run)
        self.tasks.start("retention", self.retention.forever)
        if self.config.positions:
            self.tasks.start("position-claims", self.position_claims.forever)
        if isinstance(self.hub, SharedDesktopHub):
            self.tasks.start("desktop-streams", self.hub.follow)  # what other nodes add, to desktops here
        if self.authenticator.sessions is not None:
            sign_off = {Role.HANDLER: self._handler_signed_off, Role.SUPERVISOR: self.supervisors.sign_off}
            self.tasks.start("signed-out", partial(close_sockets_of_the_signed_out, self.authenticator.sessions, sign_off))
            self.tasks.start("sessions-expiry", partial(end_expired_sessions, self.authenticator.sessions))
        thresholds: tuple[int, int, int] | None = None
        try:
            web = asyncio.create_task(server.serve(sockets=[listener]))
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
            for site in self.sites.values():
                await site.stop_tasks()
            for name in ("heap-collector", "history-watch", "desktop-streams", "signed-out", "sessions-expiry",
                         "retention", "position-claims"):
                await self.tasks.stop(name)
            await self.close()
            await self.tasks.close()
            if thresholds is not None:
                heap.restore(thresholds)


async def serve(config: IntakeConfig, secrets: dict[str, str], *, log_level: str = "info") -> None:
    logs.configure(log_level)
    redact_tokens_in_server_logs()
    redis = redis_of(config.redis, secrets.get("redis.password"))
    server = IntakeServer(config, secrets, redis)
    if config.dev.test_bed:
        log.warning("test_bed", note=TEST_BED)
    log.info("starting", http=f"{config.http.host}:{config.http.port}", tls=config.http.tls is not None,
             ami={pbx.name: f"{pbx.host}:{pbx.port}" for pbx in config.sites})
    await server.run(config.http.host, config.http.port)
