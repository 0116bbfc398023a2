"""Where a process's CPU goes, by component: a statistical profiler cheap enough to leave on.

Every ``interval`` seconds of CPU time (``ITIMER_PROF``) the signal handler notes which file the
interpreter is executing and which of intake's own modules is innermost on the stack. Self time
by component says what kind of work the CPU does (parsing, Redis client, WebSocket server,
logging, the event loop); "caused by" charges each sample to the innermost intake module on the
stack, so library time is billed to the code that asked for it. Samples taken while the
collector runs land on whatever frame it interrupted: garbage collection is reported apart
(bench.LoopWatch), not here.
"""

from __future__ import annotations

import signal
from collections import Counter
from types import FrameType
from typing import Any

# First match wins: a path fragment -> a component name.
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("/telephony/", "AMI (telephony/)"),
    ("/intake/logs", "logging"),
    ("/intake/", "registry, metrics, server (intake/)"),
    ("/screenpop/", "pops, history, desktops (screenpop/)"),
    ("/routing/", "routing/"),
    ("/redis/", "Redis client (redis-py)"),
    ("/hiredis", "Redis client (redis-py)"),
    ("/websockets/", "WebSocket server (websockets, uvicorn)"),
    ("/uvicorn/", "WebSocket server (websockets, uvicorn)"),
    ("/structlog/", "logging"),
    ("/logging/", "logging"),
    ("/pydantic", "pydantic"),
    ("/asyncio/", "event loop (asyncio)"),
    ("/json/", "json"),
    ("/scripts/bench", "bench instruments"),
)
OURS = ("/telephony/", "/intake/", "/screenpop/", "/routing/")
NOT_CAUSES = ("/intake/app/loop.py",)  # at the bottom of every stack: it runs the loop


def component(path: str) -> str:
    for fragment, name in COMPONENTS:
        if fragment in path:
            return name
    return "other"


def _short(path: str) -> str:
    """``.../intake/app/pops.py`` -> ``intake/app/pops.py``; ``<frozen ...>`` as it is."""
    return "/".join(path.split("/")[-2:])


class Sampler:
    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.self_time: Counter[str] = Counter()
        self.caused_by: Counter[str] = Counter()
        self.functions: Counter[str] = Counter()
        self.innermost: Counter[str] = Counter()
        self._previous: Any = None

    def _on_signal(self, _signum: int, frame: FrameType | None) -> None:
        if frame is None:
            return
        self.self_time[component(frame.f_code.co_filename)] += 1
        self.innermost[f"{_short(frame.f_code.co_filename)}:{frame.f_code.co_name}"] += 1
        f: FrameType | None = frame
        while f is not None:
            path = f.f_code.co_filename
            if any(part in path for part in OURS) and not any(part in path for part in NOT_CAUSES):
                module = _short(path)
                self.caused_by[module] += 1
                self.functions[f"{module}:{f.f_code.co_name}"] += 1
                return
            f = f.f_back
        self.caused_by["(no intake module on the stack)"] += 1

    def start(self, *, fresh: bool = True) -> None:
        if fresh:
            self.self_time.clear()
            self.caused_by.clear()
            self.functions.clear()
            self.innermost.clear()
        self._previous = signal.signal(signal.SIGPROF, self._on_signal)
        signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)

    def stop(self) -> None:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        if self._previous is not None:
            signal.signal(signal.SIGPROF, self._previous)
            self._previous = None

    def figures(self, top: int = 12) -> dict[str, Any]:
        total = sum(self.self_time.values())

        def shares(counter: Counter[str], most: int = top) -> dict[str, float]:
            # dict() copies in one C call, which the SIGPROF handler cannot interrupt: iterating the
            # live counter raced the handler adding a new name ("dictionary changed size").
            still = Counter(dict(counter))
            return {name: round(n / total, 3) for name, n in still.most_common(most)} if total else {}

        return {"samples": total, "interval_ms": self.interval * 1000,
                "self_time": shares(self.self_time), "caused_by": shares(self.caused_by),
                "caused_by_function": shares(self.functions, top * 2),
                "self_time_function": shares(self.innermost, top * 2)}
