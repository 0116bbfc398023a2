"""The two runs of a busy hour side by side: a table for people, one JSON object for scripts."""

from __future__ import annotations

from typing import Any

from intake.core.config import IntakeConfig
from routing.scenario.load import Arrival
from routing.scenario.profile import LINES, Profile

RUNS = ("policy_on", "policy_off")

# (label, key in a line's figures, format)
LINE_ROWS = (
    ("offered", "offered", "{}"),
    ("answered", "answered", "{}"),
    ("answered within target", "answered_within_target", "{}"),
    ("answered within target %", "answered_within_target_pct", "{:.1f}"),
    ("abandoned", "abandoned", "{}"),
    ("mean answer time (s)", "mean_answer_seconds", "{:.1f}"),
    ("p90 answer time (s)", "p90_answer_seconds", "{:.1f}"),
    ("max wait (s)", "max_wait_seconds", "{:.1f}"),
    ("waited over 2 min", "waited_over_2min", "{}"),
)
OVERFLOW_ROWS = (
    ("overflow lends", "lends"),
    ("overflow returns", "returns"),
    ("999 calls answered by lent 101 handlers", "999_answered_by_lent_101_handlers"),
)
LABEL, CELL = 40, 12


# Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
def summary(profile: Profile, config: IntakeConfig, calls: list[Arrival]) -> dict[str, Any]:
    """What was replayed: the profile, the staffing, the calls drawn, the policy's rules."""
    o = config.routing.overflow
    return {
        "name": profile.name, "seed": profile.seed, "intervals": profile.intervals,
        "interval_seconds": profile.interval_seconds, "starts": profile.starts.isoformat(),
        "handlers": profile.handlers.model_dump(),
        "calls_drawn": {line: sum(1 for c in calls if c.line == line) for line in LINES},
        "targets_seconds": {line.name: line.target_seconds for line in config.lines},
        "overflow_rules": {"at_fraction": o.at_fraction, "when_outnumbered": o.when_outnumbered,
                           "clear_seconds": o.clear_seconds, "penalty": o.penalty},
    }


def _cell(fmt: str, value: object) -> str:
    return "-" if value is None else fmt.format(value)


def _heading(line: str, target: float) -> str:
    return f"{line} (target {target:g} s)".rjust(2 * CELL - 2) + "  "


# Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
def table(result: dict[str, Any]) -> str:
    """``result``: {"scenario": summary(...), "policy_on": figures, "policy_off": figures}."""
    s = result["scenario"]
    staff, drawn, rules = s["handlers"], s["calls_drawn"], s["overflow_rules"]
    out = [
        f"Busy hour: {s['name']} (seed {s['seed']}, {s['intervals']} x {s['interval_seconds']:g} s from {s['starts']})",
        (
            f"Calls: {drawn['999']} on 999, {drawn['101']} on 101.  Handlers: {staff['only_999']} only 999, "
            f"{staff['only_101']} only 101, {staff['both']} both."
        ),
        (
            f"Overflow: lend at {rules['at_fraction']:g} of the target"
            f"{' or when outnumbered' if rules['when_outnumbered'] else ''}, "
            f"return after {rules['clear_seconds']:g} s clear, penalty {rules['penalty']}."
        ),
        "",
        " " * LABEL + "".join(_heading(line, s["targets_seconds"][line]) for line in LINES),
        " " * LABEL + "".join(f"{'policy on':>{CELL}}{'policy off':>{CELL}}" for _ in LINES),
    ]
    for label, key, fmt in LINE_ROWS:
        cells = [_cell(fmt, result[run]["lines"][line][key]) for line in LINES for run in RUNS]
        out.append(f"{label:<{LABEL}}" + "".join(f"{c:>{CELL}}" for c in cells))
    out.append("")
    for label, key in OVERFLOW_ROWS:
        out.append(f"{label:<{LABEL}}" + "".join(f"{result[run]['overflow'][key]:>{CELL}}" for run in RUNS))
    return "\n".join(line.rstrip() for line in out)
