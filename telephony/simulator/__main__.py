"""``python -m telephony.simulator --port N``: run a simulated PBX until interrupted.

Prints one JSON line (host, port, username, secret) so a script can connect to it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import signal
import sys

import structlog

from telephony.simulator import SimConfig, SimulatedPbx


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
    a = p.parse_args(argv)
    traffic = None if a.scripted or base.traffic is None else dataclasses.replace(
        base.traffic, handlers_pause_themselves=not a.no_handler_pauses)
    return SimConfig(
        host=a.host, port=a.port, username=a.username, secret=a.secret, seed=a.seed, speed=a.speed,
        traffic=traffic, queue_log_path=a.queue_log, members_at_start=not a.members_via_queueadd,
    )


async def run(config: SimConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with SimulatedPbx(config) as sim:
        print(json.dumps({"host": sim.host, "port": sim.port, "username": config.username, "secret": config.secret}), flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    # stdout carries the one JSON line a launching script reads; logs go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
