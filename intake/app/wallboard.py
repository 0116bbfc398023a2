"""What the supervisors' wallboard needs beyond the REST views: each line's goal and abandoned
share, its handlers counted once by one rule, the day's trend, how long each handler has been in
their state, the markers of waiting callers, and names where the views carry handler ids.

The page only draws: every figure it shows is decided here, once, so two panels cannot disagree
(the line card and the queue table used to count "on call" each their own way: the card left
ringing phones out, the table put them in).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import structlog

from intake.app.site import Site
from intake.core.config import IntakeConfig
from intake.core.live_demand import LineNow, LiveDemand
from intake.core.trend import SLOT_SECONDS, DayTrend, local_slot
from screenpop.models import CallerHistory, is_history_number

log = structlog.get_logger("intake.wallboard")

AMBER_POINTS = 5.0
"""A line this many points or fewer below its goal is amber on the wallboard; further, red."""
COUNTED = ("ready", "ringing", "on-call", "wrap-up", "not-ready")
"""The handler states the wallboard counts, each apart: "on call" is talking, never ringing."""
WAITING = ("queued", "ringing")
WORKING = ("ready", "ringing", "on-call", "wrap-up")
"""The handler states that count as working a line against its needed now (not-ready does not)."""

# Any (every view here): a JSON view (plain values, as the wire carries them), as the REST views are.


def counts(handlers: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many of ``handlers`` are in each counted state: the one rule every panel shows."""
    tally = dict.fromkeys(COUNTED, 0)
    for h in handlers:
        if h["state"] in tally:
            tally[h["state"]] += 1
    return tally


def abandoned_pct(figures: dict[str, Any]) -> float | None:
    """Abandoned calls as a share of settled ones (answered, abandoned or gone otherwise): the
    same calls the share answered within target is counted against."""
    settled = figures["answered"] + figures["abandoned"] + figures["left_other"]
    return round(100 * figures["abandoned"] / settled, 1) if settled else None


def goal_tone(share: float | None, goal: float | None) -> str:
    """How the wallboard colours a share answered within target against its goal: "" with no
    call settled (or no goal), then ok, amber (up to AMBER_POINTS below) or red."""
    if share is None or goal is None:
        return ""
    if share >= goal:
        return "ok"
    return "amber" if share >= goal - AMBER_POINTS else "red"


def trend_points(sites: Sequence[Site], line: str, now: float) -> list[list[int]]:
    parts = [s.registry.metrics.lines[line].trend for s in sites if line in s.registry.metrics.lines]
    if not parts:
        return []
    total = parts[0] if len(parts) == 1 else DayTrend.added(parts, now)
    return [list(p) for p in total.points(now)]


def needed_now(demand: LineNow | None, handlers: dict[str, int]) -> dict[str, Any] | None:
    """The handlers Erlang A says the line needs now, against those working it: ready, ringing,
    on a call or in wrap-up (the model's handle time is talk + wrap-up, so a handler in wrap-up is
    busy with the line, not away from it); None for a line with no goal to staff to."""
    if demand is None:
        return None
    working = sum(handlers[s] for s in WORKING)
    short = max(0, demand.needed - working)
    return {"needed": demand.needed, "working": working, "short": short, "tone": "red" if short else "",
            "arrivals_per_hour": demand.arrivals_per_hour, "handle_seconds": demand.handle_seconds,
            "patience_seconds": demand.patience_seconds}


class StateClocks:
    """Since when each handler has been in the state they are in, on the PBX's clock, as this
    node saw the state change (a node that starts sees every handler's state begin then)."""

    def __init__(self) -> None:
        self._since: dict[tuple[str, str], tuple[str, float]] = {}

    def stamp(self, handlers: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        seen: dict[tuple[str, str], tuple[str, float]] = {}
        stamped = []
        for h in handlers:
            key = (h["site"], h["member"])
            state, since = self._since.get(key, (h["state"], now))
            if state != h["state"]:
                since = now
            seen[key] = (h["state"], since)
            stamped.append({**h, "state_since": since})
        self._since = seen  # a handler no longer shown is forgotten
        return stamped


class WaitingMarkers:
    """The warning markers of each waiting caller's number, looked up once per call (one round
    trip, off the picture's path): until the answer comes the call shows none; then the picture is
    sent again (``changed``)."""

    def __init__(self, lookup: Callable[[str, float], Awaitable[CallerHistory]], changed: Callable[[], None]) -> None:
        self._lookup = lookup
        self._changed = changed
        self._found: dict[str, list[dict[str, str]]] = {}  # call id -> its number's markers
        self._asked: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def of(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        waiting = {c["call_id"] for c in calls if c["state"] in WAITING}
        self._found = {k: v for k, v in self._found.items() if k in waiting}
        self._asked &= waiting
        for c in calls:
            if c["call_id"] in waiting and c["call_id"] not in self._asked and is_history_number(c["caller_number"]):
                self._asked.add(c["call_id"])
                self._ask(c["call_id"], c["caller_number"], c["queued_at"])
        return [{**c, "markers": self._found.get(c["call_id"], [])} for c in calls]

    def _ask(self, call_id: str, number: str, now: float) -> None:
        task = asyncio.get_running_loop().create_task(self._fetch(call_id, number, now))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, call_id: str, number: str, now: float) -> None:
        try:
            history = await self._lookup(number, now)
        except Exception:  # a boundary: the wallboard shows the call without markers, and says why in the log
            log.warning("wallboard_markers_failed", call_id=call_id, exc_info=True)
            return
        if call_id in self._asked and history.markers:
            self._found[call_id] = [{"kind": m.kind, "detail": m.detail} for m in history.markers]
            self._changed()

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class Wallboard:
    def __init__(self, config: IntakeConfig, lookup: Callable[[str, float], Awaitable[CallerHistory]],
                 changed: Callable[[], None], demand: LiveDemand | None = None) -> None:
        self.goals: dict[str, float] = {}
        for line in config.lines:  # several sites' lines of one name: the total is held to the highest goal
            self.goals[line.name] = max(self.goals.get(line.name, 0.0), line.goal_percent)
        self.names = {h.id: h.name for h in config.handlers}
        self.clocks = StateClocks()
        self.markers = WaitingMarkers(lookup, changed)
        self.demand = demand

    def picture(self, base: dict[str, Any], sites: Sequence[Site]) -> dict[str, Any]:
        """The REST views' picture (``base``: queues, lines, sites, calls, handlers, overflow,
        call-backs) with what the wallboard adds."""
        now = base["at"]
        handlers = self.clocks.stamp(base["handlers"], now)
        line_queues: dict[str, set[str]] = {}
        for name, q in base["queues"].items():
            line_queues.setdefault(q["line"], set()).add(name)
        lines = {line: {**f, "goal_percent": self.goals.get(line), "abandoned_pct": abandoned_pct(f),
                        "today_tone": goal_tone(f["today"]["answered_within_target_pct"], self.goals.get(line)),
                        "last_15min_tone": goal_tone(f["last_15min"]["answered_within_target_pct"], self.goals.get(line)),
                        "handlers": counts(h for h in handlers if line_queues.get(line, set()) & set(h["queues"])),
                        "trend": trend_points(sites, line, now)}
                 for line, f in base["lines"].items()}
        needed = self.demand.now(now) if self.demand is not None else {}
        for line, figures in lines.items():
            figures["needed_now"] = needed_now(needed.get(line), figures["handlers"])
        own = {site: {**s, "queues": {q: {**f, "abandoned_pct": abandoned_pct(f),
                                          "handlers": counts(h for h in handlers if h["site"] == site and q in h["queues"])}
                                      for q, f in s["queues"].items()}}
               for site, s in base["sites"].items()}
        overflow = base["overflow"]
        lent = [{**m, "name": self.names.get(m["handler_id"], m["handler_id"])} for m in overflow["lent"]]
        return {**base, "lines": lines, "sites": own, "handlers": handlers, "calls": self.markers.of(base["calls"]),
                "overflow": {**overflow, "lent": lent}, "handler_names": self.names,
                "trend_slot": {"seconds": SLOT_SECONDS, "now": local_slot(now)[1]}}
