"""Which event loop runs the server: uvloop when it is installed (uvicorn[standard] brings it),
else asyncio's own; ``--loop`` picks one, as uvicorn's option of that name does.

uvloop's loop and transports are C (libuv): the per-ring work of the loop itself (callbacks,
timers, socket reads and writes for the AMI link, Redis and thousands of desktops) is what the
pop latency's tail and the CPU per call were spent on (scripts/bench.py's cpu_profile).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")
LoopName = Literal["auto", "uvloop", "asyncio"]
CHOICES: tuple[LoopName, ...] = ("auto", "uvloop", "asyncio")


def factory(name: LoopName = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    """The loop ``name`` stands for; ``auto`` is uvloop if importable, else asyncio's."""
    if name != "asyncio":
        try:
            import uvloop
        except ImportError:
            if name == "uvloop":
                raise SystemExit("--loop uvloop: uvloop is not installed (pip install uvloop, or --loop asyncio)") from None
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


# Any: any coroutine; only its result's type matters
def run(main: Coroutine[Any, Any, T], loop: LoopName = "auto") -> T:
    with asyncio.Runner(loop_factory=factory(loop)) as runner:
        return runner.run(main)


def resolve(name: LoopName) -> str:
    """The loop ``name`` runs on: "uvloop" or "asyncio"."""
    return "asyncio" if factory(name) is asyncio.new_event_loop else "uvloop"
