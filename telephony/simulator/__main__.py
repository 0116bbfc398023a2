"""``python -m telephony.simulator --port N``: run a simulated PBX until interrupted.

Prints one JSON line (host, port, username, secret) so a script can connect to it. SIGTERM is
``core stop now``: every call is hung up (queue_log says ABANDON or COMPLETECALLER, and clients
get the events and a Shutdown) before the AMI server closes. ``--setup FILE`` gives the handlers'
phones and the traffic as JSON::

    {"handlers": [{"interface": "PJSIP/handler-1", "name": "h1", "queues": ["emergency"]}],
     "traffic": {"arrivals_per_second": [["emergency", 0.4]], "patience_median": 9.0, ...}}

(traffic: the fields of :class:`telephony.simulator.TrafficProfile`; pairs as two-item lists).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import signal
import sys
from pathlib import Path
from typing import Any

import structlog

from telephony.simulator import HandlerConfig, SimConfig, SimulatedPbx, TrafficProfile


def parse_args(argv: list[str] | None = None) -> SimConfig:
    base = SimConfig()
    p = argparse.ArgumentParser(prog="python -m telephony.simulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--username", default=base.username)
    p.add_argument("--secret", default=base.secret)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    p.add_argument("--scripted", action="store_true", help="no random traffic")
    p.add_argument("--queue-log", default=None, help="also append queue_log lines to this file")
    p.add_argument("--members-via-queueadd", action="store_true",
                   help="handlers' phones join queues only when a client sends QueueAdd (as with intake)")
    p.add_argument("--no-handler-pauses", action="store_true",
                   help="simulated handlers never pause themselves (wrap-up, breaks): the client manages pauses")
    p.add_argument("--setup", default=None, help="JSON file: handlers' phones and traffic (see above)")
    a = p.parse_args(argv)
    setup = json.loads(Path(a.setup).read_text()) if a.setup else {}
    handlers = tuple(HandlerConfig(h["interface"], h["name"], tuple(h["queues"])) for h in setup.get("handlers", ())) or base.handlers
    traffic = None if a.scripted or base.traffic is None else dataclasses.replace(
        traffic_profile(setup.get("traffic", {})), handlers_pause_themselves=not a.no_handler_pauses)
    return SimConfig(
        host=a.host, port=a.port, username=a.username, secret=a.secret, seed=a.seed, speed=a.speed,
        traffic=traffic, queue_log_path=a.queue_log, members_at_start=not a.members_via_queueadd, handlers=handlers,
    )


# Any: TOML as parsed, before validation; what comes out is typed
def traffic_profile(fields: dict[str, Any]) -> TrafficProfile:
    """A TrafficProfile from JSON: lists become the tuples the frozen profile holds."""
    # Any: any JSON value of a traffic profile, made hashable
    def frozen(value: Any) -> Any:
        return tuple(frozen(v) for v in value) if isinstance(value, list) else value

    return TrafficProfile(**{k: frozen(v) for k, v in fields.items()})


async def run(config: SimConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with SimulatedPbx(config) as sim:
        print(json.dumps({"host": sim.host, "port": sim.port, "username": config.username, "secret": config.secret}), flush=True)
        await stop.wait()
        await sim.shut_down(restart=False)


def main(argv: list[str] | None = None) -> None:
    # stdout carries the one JSON line a launching script reads; logs go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
