"""``/metrics`` for Prometheus: the registry's figures read at scrape time, never kept twice.

A custom collector asks the server for the same report the wallboard shows and turns it into
samples labelled ``line`` and ``queue``; counters are the registry's own since start.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from intake.core.handlers import HandlerState

_GAUGES = (("waiting", "calls waiting in the queue now"),
           ("longest_wait_seconds", "longest wait of a call waiting now, from queue entry"))
_COUNTERS = (("offered", "calls offered (queued) since the server started watching"),
             ("answered", "calls answered"),
             ("abandoned", "calls abandoned by the caller while waiting"))


class IntakeCollector(Collector):
    def __init__(self, report: Callable[[], dict[str, Any]], handlers: Callable[[], list[dict[str, Any]]],
                 ami_counters: Callable[[], Any], overflow: Callable[[], dict[str, Any]] | None = None,
                 ring_outs: Callable[[], dict[str, Any]] | None = None,
                 held: Callable[[], dict[str, Any]] | None = None, *,
                 tasks: Callable[[], dict[str, dict[str, Any]]] | None = None,
                 writes: Callable[[], dict[str, Any]] | None = None, site: str | None = None,
                 desktops: Callable[[], dict[str, int]] | None = None) -> None:
        """``report()`` is the registry's queue report, ``handlers()`` the handler views,
        ``ami_counters()`` the AMI session's counters dataclass, ``overflow()`` the routing
        policy's view (routing.steering.Steering.view), ``ring_outs()`` the ring-out rule's
        (routing.ring_out_desk.RingOutDesk.view), ``held()`` the held histories' figures
        (intake.app.pops.PopRouter.held_view), ``tasks()`` the supervisor's (intake.app.supervise.Supervisor.health),
        ``writes()`` the record writer's (intake.app.write_behind.WriteBehind.view), ``desktops()``
        the desktop hub's (screenpop.delivery.DesktopHub.stream_view); ``site``: the
        PBX site these figures are of, as the label ``site`` on each of them (None: the one PBX of
        an ``[ami]`` configuration, unlabelled as ever). The server's own figures (held, tasks,
        writes, desktops) are never labelled with a site."""
        self._report, self._handlers, self._ami, self._overflow = report, handlers, ami_counters, overflow
        self._ring_outs, self._held, self._tasks, self._writes = ring_outs, held, tasks, writes
        self._site, self._desktops = site, desktops

    def collect(self) -> Iterator[Metric]:
        for family in self._of_the_site():
            if self._site is not None:
                family.samples = [s._replace(labels={"site": self._site, **s.labels}) for s in family.samples]
            yield family
        if self._held is not None:
            yield from self._held_histories(self._held())
        if self._tasks is not None:
            yield from self._supervised(self._tasks())
        if self._writes is not None:
            yield from self._records(self._writes())
        if self._desktops is not None:
            yield from self._desktop_streams(self._desktops())

    def _of_the_site(self) -> Iterator[Metric]:
        report = self._report()
        rows = [({"line": q["line"], "queue": name}, q) for name, q in report["queues"].items()]
        labels = ["line", "queue"]
        for key, doc in _GAUGES:
            g = GaugeMetricFamily(f"intake_{key}", doc, labels=labels)
            for lab, q in rows:
                g.add_metric([lab["line"], lab["queue"]], q[key])
            yield g
        for key, doc in _COUNTERS:
            c = CounterMetricFamily(f"intake_calls_{key}", doc, labels=labels)
            for lab, q in rows:
                c.add_metric([lab["line"], lab["queue"]], q[key])
            yield c
        within = CounterMetricFamily("intake_calls_answered_within_target", "calls answered within the line's target, from queue entry", labels=labels)
        for lab, q in rows:
            within.add_metric([lab["line"], lab["queue"]], q["from_queue_entry"]["answered_within_target"])
        yield within
        leading = GaugeMetricFamily("intake_site_leading", "1 while this node leads the PBX site's side effects "
                                    "(wrap-ups, overflow, call-back offers)", labels=["site", "node"])
        for site, lead in report.get("leaders", {}).items():
            leading.add_metric([site, lead["node"]], 1 if lead["role"] == "leading" else 0)
        yield leading
        yield self._handlers_by_state(report)
        ami = CounterMetricFamily("intake_ami", "AMI session counters", labels=["counter"])
        for name, value in asdict(self._ami()).items():
            ami.add_metric([name], value)
        yield ami
        if self._overflow is not None:
            yield from self._routing(self._overflow())
        if self._ring_outs is not None:
            yield from self._ring_out(self._ring_outs())
    @staticmethod
    def _desktop_streams(view: dict[str, int]) -> Iterator[Metric]:
        messages = CounterMetricFamily("intake_desktop_messages", "handlers' stream messages by how this node sent them "
                                       "(see docs/api.md, resume)", labels=["outcome"])
        for outcome in ("sequenced", "already_there", "unsequenced", "from_stream"):
            messages.add_metric([outcome], view[outcome])
        yield messages
        resumed = CounterMetricFamily("intake_desktop_resumed_from_memory", "desktops that connected while Redis could "
                                      "not be read, given a snapshot of this node's memory")
        resumed.add_metric([], view["resumed_from_memory"])
        yield resumed

    @staticmethod
    def _supervised(tasks: dict[str, dict[str, Any]]) -> Iterator[Metric]:
        up = GaugeMetricFamily("intake_task_up", "1 while the server's task is running (a callback: its last run "
                               "succeeded)", labels=["task"])
        degraded = GaugeMetricFamily("intake_task_degraded", "1 from a task's failure until it works again", labels=["task"])
        failures = CounterMetricFamily("intake_task_failures", "exceptions raised by the server's task (each one "
                                       "logged with its traceback and the task restarted)", labels=["task"])
        for name, task in tasks.items():
            up.add_metric([name], 1 if task["up"] else 0)
            degraded.add_metric([name], 1 if task["degraded"] else 0)
            failures.add_metric([name], task["failures"])
        yield from (up, degraded, failures)

    @staticmethod
    def _records(view: dict[str, Any]) -> Iterator[Metric]:
        held = GaugeMetricFamily("intake_records_held", "settled calls' records waiting for Redis")
        held.add_metric([], view["held"])
        yield held
        awaiting = GaugeMetricFamily("intake_records_awaiting_replica", "records the Redis primary holds that no "
                                     "replica has acknowledged yet (WAIT; counted in intake_records_held)")
        awaiting.add_metric([], view["awaiting_replica"])
        yield awaiting
        for key, doc in (("written", "records written to Redis (with replicas asked for: held by them)"),
                         ("retries", "attempts to write records refused because Redis was away (held, tried again)"),
                         ("replica_waits", "WAITs that found fewer replicas than asked for (records kept, asked again)"),
                         ("dropped", "records dropped past the writer's limit during an outage"),
                         ("lost", "records still held when the server stopped")):
            c = CounterMetricFamily(f"intake_records_{key}", doc)
            c.add_metric([], view[key])
            yield c
        dead = CounterMetricFamily("intake_records_dead_lettered", "records Redis refused or that could not be "
                                   "encoded, put in the dead-letter list", labels=["kind"])
        for kind, count in sorted(view["dead_lettered"].items()):
            dead.add_metric([kind], count)
        yield dead

    @staticmethod
    def _routing(view: dict[str, Any]) -> Iterator[Metric]:
        active = GaugeMetricFamily("intake_overflow_active", "1 while 101 handlers are lent to the 999 line")
        active.add_metric([], 1 if view["active"] else 0)
        yield active
        lent = GaugeMetricFamily("intake_overflow_handlers", "101 handlers lent to the 999 line now")
        lent.add_metric([], len(view["lent"]))
        yield lent
        decisions = CounterMetricFamily("intake_routing_decisions", "routing policy decisions sent to the PBX",
                                        labels=["action", "reason"])
        for d in view["decisions"]:
            decisions.add_metric([d["action"], d["reason"]], d["count"])
        yield decisions

    @staticmethod
    def _ring_out(view: dict[str, Any]) -> Iterator[Metric]:
        seen = CounterMetricFamily("intake_ring_outs", "handlers' phones that rang for a queue call and were not answered",
                                   labels=["line", "queue"])
        for r in view["ring_outs"]:
            seen.add_metric([r["line"], r["queue"]], r["count"])
        yield seen
        paused = CounterMetricFamily("intake_ring_out_pauses", "handlers paused by intake after ring-outs (result: paused, failed)",
                                     labels=["line", "queue", "result"])
        for p in view["pauses"]:
            paused.add_metric([p["line"], p["queue"], p["result"]], p["count"])
        yield paused

    @staticmethod
    def _held_histories(view: dict[str, Any]) -> Iterator[Metric]:
        source = CounterMetricFamily("intake_pop_history", "pops by where their caller history came from: held since the call "
                                     "arrived (ready, or still being read), or looked up when the phone rang", labels=["source"])
        for name in ("ready", "in_flight", "at_ring"):
            source.add_metric([name], view[name])
        yield source
        watched = GaugeMetricFamily("intake_history_watched", "1 while every write to caller histories reaches intake "
                                    "(Redis reports others'); 0: nothing is held, every pop looks up at the ring")
        watched.add_metric([], 1 if view["watched"] else 0)
        yield watched

    def _handlers_by_state(self, report: dict[str, Any]) -> GaugeMetricFamily:
        counts: Counter[tuple[str, str, str]] = Counter()
        for h in self._handlers():
            for queue in h["queues"]:
                if queue in report["queues"]:
                    counts[(report["queues"][queue]["line"], queue, h["state"])] += 1
        g = GaugeMetricFamily("intake_handlers", "handlers who are members of the queue, by state", labels=["line", "queue", "state"])
        for name, q in report["queues"].items():
            for state in HandlerState:
                g.add_metric([q["line"], name, state.value], counts[(q["line"], name, state.value)])
        return g


class SitesCollector(Collector):
    """Every site's figures, one family per metric with each site's samples in it (labelled
    ``site``): Prometheus wants a metric's samples together, and a total is ``sum without (site)``."""

    def __init__(self, sites: Sequence[IntakeCollector]) -> None:
        self._sites = sites

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for site in self._sites:
            for family in site.collect():
                if family.name in merged:
                    merged[family.name].samples.extend(family.samples)
                else:
                    merged[family.name] = family
        yield from merged.values()


def prometheus_registry(collector: Collector) -> CollectorRegistry:
    """A registry of its own (not the process-global one): two servers in one test process must
    not collide, and nothing else's samples leak into ours."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
