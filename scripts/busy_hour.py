#!/usr/bin/env python3
"""Replay a busy hour with the routing policy on and off, and print answered-within-target side by side.

    python3 scripts/busy_hour.py [--profile config/busy-hour.toml] [--config config/intake.toml]
                                 [--seed N] [--json]

The profile (config/busy-hour.toml, annotated there) gives arrival rates per interval on 999 and
101, the handlers on each line, and talk, wrap-up, ring and patience distributions. The hour's
calls are drawn once from its seed; both runs replay exactly those calls, so offered counts are
equal and each caller has the same patience in both. Lines, targets and the [routing] rules come
from the intake configuration. Policy off: intake never lends a 101 handler to 999; the PBX's
999-first queue weights apply in both runs.

Why a virtual clock and not a sped-up real one: every component on the routing path takes time as
a value -- the simulated PBX reads an injected clock, events carry the PBX's timestamps, the
registry is ticked with a time, and Steering takes its PBX clock and (for the settle time of
decisions in flight) its monotonic clock as arguments, and the engine (intake/core/engine.py) runs on the clock it is given. Its lags (POLICY_COALESCE
after an event, TICK) are fixed intervals of that clock: running an hour 60 times faster on a wall clock would make
the policy react 60 times later relative to the calls (15 s per tick against a 12 s target), which
is the very thing measured, and the run would not repeat. On a virtual clock each run is exact and
deterministic per seed, and an hour takes a second or two. What the virtual run leaves out is
listed in routing/scenario/replay.py (the socket, pops, Redis, HTTP).

Exit status: 0, or 2 with every problem of the profile or the configuration listed on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from intake.app import logs
from intake.core.config import read_toml
from intake.core.errors import ConfigError
from routing.scenario import profile as profiles
from routing.scenario.load import draw_calls
from routing.scenario.replay import replay, staffed
from routing.scenario.report import summary, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=str(REPO / "config" / "busy-hour.toml"), help="busy-hour profile (TOML)")
    parser.add_argument("--config", default=str(REPO / "config" / "intake.toml"), help="intake configuration (lines, [routing])")
    parser.add_argument("--seed", type=int, help="draw the hour's calls from this seed instead of the profile's")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    logs.configure("warning")  # the registry's and the policy's info lines would drown the table
    try:
        profile = profiles.load(args.profile)
        config = staffed(read_toml(args.config), profile, args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.seed is not None:
        profile = profile.model_copy(update={"seed": args.seed})
    calls = draw_calls(profile)
    result = {"scenario": summary(profile, config, calls),
              "policy_on": replay(config, profile, calls, policy=True),
              "policy_off": replay(config, profile, calls, policy=False)}
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
