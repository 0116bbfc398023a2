"""What the wallboard, the REST API and /healthz show of several PBX sites: each site, and the total.

A site whose PBX link is down is shown as down (``up`` false) with the figures it had; the other
sites, and the total, carry on. With one site (the single ``[ami]``) the views are what they
always were, plus the one site under ``sites``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from intake.app.site import Site
from intake.core.totals import total_report

# Any (every function here): a JSON view (plain values, as the wire carries them); its shape is
# declared and checked at the web edge, intake/app/web_models.py


def queue_report(sites: Sequence[Site]) -> dict[str, Any]:
    """``/api/queues``: the total per queue and per line, and each site's own under ``sites``."""
    now = sites[0].pbx_now()
    own = {s.name: {"up": s.up, **s.queue_report()} for s in sites}
    if len(sites) == 1:
        total = {k: v for k, v in own[sites[0].name].items() if k in ("queues", "lines")}
    else:
        total = total_report([(s.registry.metrics, s.registry.waiting_calls()) for s in sites], now)
    return {"at": now, "leaders": leaders(sites), **total, "sites": own}


def leaders(sites: Sequence[Site]) -> dict[str, Any]:
    """Who leads each site's side effects, as this node sees it."""
    return {name: lead for s in sites for name, lead in s.cluster.view().items()}


def live_calls(sites: Sequence[Site]) -> list[dict[str, Any]]:
    """Calls in progress on every site, oldest first, each with its site."""
    calls = [{**call, "site": s.name} for s in sites for call in s.live_calls()]
    return sorted(calls, key=lambda c: c["queued_at"])


def handler_views(sites: Sequence[Site]) -> list[dict[str, Any]]:
    return [{**h, "site": s.name} for s in sites for h in s.handler_views()]


def callbacks(sites: Sequence[Site]) -> list[dict[str, Any]]:
    """Open call-back tasks of every site, oldest first."""
    return sorted((t for s in sites for t in s.callbacks.view()), key=lambda t: t["abandoned_at"])


def overflow(sites: Sequence[Site]) -> dict[str, Any]:
    """The overflow picture: one site's as it is, several sites' added up (each lends on its own PBX)."""
    views = [s.steering.view() for s in sites]
    if len(views) == 1:
        return views[0]
    counts: dict[tuple[str, str], int] = {}
    for v in views:
        for d in v["decisions"]:
            counts[(d["action"], d["reason"])] = counts.get((d["action"], d["reason"]), 0) + d["count"]
    clear = [v["clear_since"] for v in views if v["clear_since"] is not None]
    return {"enabled": any(v["enabled"] for v in views), "active": any(v["active"] for v in views),
            "lent": [m for v in views for m in v["lent"]], "clear_since": min(clear) if clear else None,
            "decisions": [{"action": a, "reason": r, "count": n} for (a, r), n in sorted(counts.items())],
            "failures": sum(v["failures"] for v in views)}


def pbx_health(sites: Sequence[Site]) -> dict[str, Any]:
    """``/healthz``'s PBX part: each site's link, and ``ami`` as one PBX's health always read
    (connected: every site's link is up). The node's own health needs one site up, not all:
    a node with one site down still serves the other site's desktops (docs/operations.md)."""
    own = {s.name: {"connected": s.up, "ami_version": s.registry.pbx_version} for s in sites}
    return {"ami": {"connected": all(v["connected"] for v in own.values()), "ami_version": sites[0].registry.pbx_version},
            "sites": own, "leaders": leaders(sites)}
