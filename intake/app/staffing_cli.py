"""``intake staffing`` and ``intake forecast``: the journal's demand and the handlers it needs, as
JSON (or CSV with ``--csv``).

staffing: each line's calls per interval of the days asked (local days, both ends included), the
handle time (talk + the wrap-up measured after each call, else the line's configured one: the
``wrapup`` field says which) and patience they showed, the handlers Erlang A needs for the line's goal (Erlang C's
beside it) and the handlers who were signed in (the leader's minute samples,
intake.app.signed_in_store) with the service level they gave. forecast: the days asked
from the weeks before them (``[staffing] history_weeks``), the handlers each interval will need,
and how good the forecast has been (back-tested on ``held_back_weeks``).

Reads only the journal and the signed-in samples beside it (every site's): the figures are
reproducible from them. Both read the journal's days through their kept summaries
(:meth:`intake.app.journal_range.JournalRange.demand`: the very figures of the records, a past
day's records read once), so a year's staffing takes seconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from intake.app.cli_redis import cli_redis
from intake.app.connections import close_redis
from intake.app.journal_range import JournalRange, wrapups_of
from intake.app.signed_in_store import read_signed_in
from intake.core import config as config_mod
from intake.core.demand import IntervalDemand, line_means, staffing
from intake.core.erlang import Demand, Goal, handlers_needed
from intake.core.errors import ConfigError, StaffingError
from intake.core.forecast import Backtest, backtest, fit, forecast, unseen_weekdays
from intake.core.returns import as_csv

STAFFING_COLUMNS = ("line", "start", "offered", "answered", "abandoned", "answered_within_target", "handle_seconds",
                    "patience_seconds", "erlangs", "needed", "needed_erlang_c", "signed_in",
                    "service_level_signed_in", "wrapup", "wrapups_measured")
FORECAST_COLUMNS = ("line", "start", "offered", "handle_seconds", "patience_seconds", "erlangs", "needed",
                    "needed_erlang_c")


def goals(cfg: config_mod.IntakeConfig) -> dict[str, Goal]:
    """Each line's goal: its goal_percent of calls answered within its target_seconds (a goal of
    100% needs handlers without end: such a line is left out, and said so on stderr)."""
    found: dict[str, Goal] = {}
    for line in cfg.lines:
        if line.goal_percent >= 100:
            print(f"line {line.name}: a goal of 100% needs handlers without end; no figure for it", file=sys.stderr)
            continue
        found[line.name] = Goal(line.target_seconds, line.goal_percent / 100)
    return found


def _local(at: float) -> str:
    return datetime.fromtimestamp(at).astimezone().isoformat(timespec="minutes")


def _round(v: float | None, digits: int = 1) -> float | None:
    return None if v is None else round(v, digits)


# Any: a JSON view (plain values), printed as it is
def staffing_view(demand: Iterable[IntervalDemand], cfg: config_mod.IntakeConfig) -> dict[str, Any]:
    demand = list(demand)
    means = line_means(demand)
    handle: dict[str, float] = {line.name: means.get(line.name, (None, None))[0] or cfg.staffing.handle_seconds for line in cfg.lines}
    patience: dict[str, float | None] = {line.name: means.get(line.name, (None, None))[1] or cfg.staffing.patience_seconds for line in cfg.lines}
    rows = []
    for r in staffing(demand, goals(cfg), handle, patience):
        d = r.interval
        rows.append({"line": d.line, "start": _local(d.start), "offered": d.offered, "answered": d.answered,
                     "abandoned": d.abandoned, "answered_within_target": d.answered_within_target,
                     "handle_seconds": _round(d.handle_seconds), "patience_seconds": _round(d.patience_seconds),
                     "erlangs": round(d.arrivals_per_second * (d.handle_seconds or handle[d.line]), 2),
                     "needed": r.needed, "needed_erlang_c": r.needed_erlang_c, "signed_in": _round(d.signed_in, 2),
                     "service_level_signed_in": None if d.signed_in is None else round(r.service_level, 3),
                     "wrapup": d.wrapup, "wrapups_measured": d.wrapups_measured})
    return {"interval_minutes": cfg.staffing.interval_minutes,
            "lines": {name: {"target_seconds": g.within_seconds, "goal_percent": round(100 * g.fraction, 1),
                             "handle_seconds": round(handle[name], 1), "patience_seconds": _round(patience[name]),
                             "wrapups_measured": sum(d.wrapups_measured for d in demand if d.line == name)}
                      for name, g in goals(cfg).items()},
            "intervals": rows}


# Any: a JSON view (plain values), printed as it is
def forecast_view(history: Sequence[IntervalDemand], cfg: config_mod.IntakeConfig, first: date, last: date,
                  days: tuple[date, date] | None) -> dict[str, Any]:
    """The local days ``first`` to ``last`` forecast from ``history``, the whole local ``days``
    (first, last) it covers (None: the history has no call)."""
    seconds = cfg.staffing.interval_minutes * 60
    start = datetime.combine(first, datetime.min.time()).timestamp()
    end = datetime.combine(last + timedelta(days=1), datetime.min.time()).timestamp()
    means = line_means(history)
    wanted = goals(cfg)
    rows = []
    profiles = fit(history, seconds, days)
    for f in forecast(profiles, start, end):
        goal = wanted.get(f.line)
        if goal is None:
            continue
        handle = f.handle_seconds or means.get(f.line, (None, None))[0] or cfg.staffing.handle_seconds
        patience = f.patience_seconds or means.get(f.line, (None, None))[1] or cfg.staffing.patience_seconds
        model = Demand(f.offered / f.seconds, handle, patience)
        rows.append({"line": f.line, "start": _local(f.start), "offered": round(f.offered, 2),
                     "handle_seconds": round(handle, 1), "patience_seconds": round(patience, 1),
                     "erlangs": round(model.erlangs, 2), "needed": handlers_needed(model, goal),
                     "needed_erlang_c": handlers_needed(model, goal, "erlang-c")})
    return {"interval_minutes": cfg.staffing.interval_minutes,
            "goals": {name: {"target_seconds": g.within_seconds, "goal_percent": round(100 * g.fraction, 1)}
                      for name, g in wanted.items()},
            "without_history": sorted(name for name in wanted if name not in profiles),
            "unseen_weekdays": unseen_weekdays(days, first, last),
            "held_back_weeks": cfg.staffing.held_back_weeks,
            "backtest": {b.line: _backtest_view(b) for b in backtest(history, seconds, cfg.staffing.held_back_weeks, days)}
            if days else {},
            "intervals": rows}


# Any: a JSON view (plain values), printed as it is
async def read_forecast(redis: Any, prefixes: Sequence[str], cfg: config_mod.IntakeConfig, first: date, last: date,
                        today: date, *, fresh: bool = False) -> dict[str, Any]:
    """The local days ``first`` to ``last`` forecast from the journals under ``prefixes``: the
    ``[staffing] history_weeks`` before ``first`` (from the days' kept summaries; ``fresh``: from
    their records), fitted and back-tested off the event loop. ``intake forecast`` prints it;
    ``GET /api/forecast`` serves it."""
    seconds = cfg.staffing.interval_minutes * 60
    since, before = first - timedelta(weeks=cfg.staffing.history_weeks), first - timedelta(days=1)
    history = await JournalRange(redis, prefixes, wrapups_of(cfg)).demand(since, before, today, seconds, fresh=fresh)
    # The journal may begin inside the window (intake newly installed): days before its first
    # call are no quiet days, they are days nobody recorded.
    begun = min((date.fromtimestamp(d.start) for d in history), default=None)
    days = None if begun is None else (max(since, begun), before)
    view = await asyncio.to_thread(forecast_view, history, cfg, first, last, days)
    used = {"from": None, "to": None, "days": 0} if days is None else {
        "from": days[0].isoformat(), "to": days[1].isoformat(), "days": (days[1] - days[0]).days + 1}
    return {"from": first.isoformat(), "to": last.isoformat()} | view | {
        "history": used | {"window_from": since.isoformat(), "window_weeks": cfg.staffing.history_weeks}}


# Any: a JSON view (plain values), printed as it is
def _backtest_view(b: Backtest) -> dict[str, Any]:
    return {"held_back_weeks": b.held_back_weeks, "mean_absolute_error": round(b.mean_absolute_error, 2),
            "weighted_absolute_percentage_error": _round(b.weighted_absolute_percentage_error, 4),
            "by_interval": [{"weekday": e.weekday, "interval": e.interval, "forecast": round(e.forecast, 2),
                             "actual": round(e.actual, 2), "absolute_error": round(e.absolute_error, 2)}
                            for e in b.errors]}


async def run(verb: str, config_path: str | None, redis_url: str | None, first: date, last: date, as_csv_: bool, *,
              fresh: bool = False) -> int:
    if config_path is None:
        print(f"intake {verb}: give --config (the lines' targets and goals come from it)", file=sys.stderr)
        return 2
    if last < first:
        print(f"intake {verb}: --to ({last}) is before --from ({first})", file=sys.stderr)
        return 2
    try:
        cfg = config_mod.load(config_path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    found = cli_redis(verb, config_path, redis_url)
    if found is None:
        return 2
    seconds = cfg.staffing.interval_minutes * 60
    wrapups = wrapups_of(cfg)
    # every site's journal, from the days' kept summaries (intake.app.journal_range): a past day's records are read once
    journal = JournalRange(found.redis, [cfg.site_config(site.name).redis.key_prefix for site in cfg.sites], wrapups)
    try:
        if verb == "staffing":
            samples = await read_signed_in(found.redis, journal.prefixes, first, last)
            view = staffing_view(await journal.demand(first, last, date.today(), seconds, samples, fresh=fresh), cfg)
            columns: tuple[str, ...] = STAFFING_COLUMNS
        else:
            view = await read_forecast(found.redis, journal.prefixes, cfg, first, last, date.today(), fresh=fresh)
            if view["unseen_weekdays"]:
                print(f"intake forecast: the history ({view['history']['days']} days) has no "
                      f"{', '.join(view['unseen_weekdays'])}: forecast as no calls", file=sys.stderr)
            columns = FORECAST_COLUMNS
    except StaffingError as exc:
        print(f"intake {verb}: {exc}", file=sys.stderr)
        return 1
    finally:
        await close_redis(found.redis)
    view = {"from": first.isoformat(), "to": last.isoformat()} | view
    sys.stdout.write(as_csv(view["intervals"], columns) if as_csv_ else json.dumps(view, indent=2) + "\n")
    return 0
