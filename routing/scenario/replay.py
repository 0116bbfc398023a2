"""One run of the busy hour on a virtual clock: the simulated PBX and intake's routing path.

What runs is the production code on the routing path, unchanged: the simulator's app_queue
(:class:`~telephony.simulator.pbx.Pbx`: weights, penalties, QueueAdd / QueueRemove / QueuePause),
AMI bytes through FrameReader and translate (:class:`~telephony.simulator.loopback.LoopbackLink`),
the :class:`~intake.core.registry.Registry` with its SLA figures, and
:class:`~routing.steering.Steering` (floor -> policy -> QueueAdd / QueueRemove back to the PBX).
Handlers sign in as the desktop's Ready does (:func:`routing.handler_desk.plan`).

Events go through the server's own :class:`~intake.core.engine.Engine` on the virtual clock: the
same schedule (the policy coalesced after an event that moved the floor, and run on a tick that
found no evaluation in the last one; each tick settles calls that left their queue), with the
run's tally as its subscriber and the routing policy as its evaluator. The engine's outputs
(records, resyncs, the wallboard) are dropped: not run are the socket and AmiSession (link I/O),
pops, Redis and HTTP (nothing on the routing path), and HandlerDesk's wrap-up timer: the
simulated handlers pause themselves, with the wrap-up reason, for the profile's wrap-up time (a
distribution, where intake's is a fixed time per line).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from intake.core.config import IntakeConfig, parse
from intake.core.engine import Engine, Evaluator, Notices
from intake.core.errors import ConfigError, ConfigProblem
from intake.core.registry import Answered, Finished, Notice, registry_of
from routing.floor import roster_of
from routing.handler_desk import Wanted, plan
from routing.scenario.load import Arrival, People
from routing.scenario.profile import LINES, Profile
from routing.steering import Steering
from telephony.simulator.config import HandlerConfig, QueueConfig, SimConfig
from telephony.simulator.loopback import LoopbackLink
from telephony.simulator.pbx import Pbx

# How often the PBX's own timers (joins, ring timeouts, a waiting caller's retry) are looked at,
# in virtual seconds: finer than anything they time (retry is 1 s), as SimulatedPbx's tick is.
PBX_STEP = 0.05
# A run ends when the last caller of the hour is gone; this long after the hour it stops anyway.
DRAIN_LIMIT = 4 * 3600.0
STAFF = (("only_999", ("999",)), ("only_101", ("101",)), ("both", ("999", "101")))


class VirtualClock:
    """The PBX clock of a run: it moves only when the run moves it."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


# Any: TOML as parsed, before validation; what comes out is typed
def staffed(raw_config: dict[str, Any], profile: Profile, source: str) -> IntakeConfig:
    """The intake configuration (lines, targets, [routing], wrap-up reason) with the profile's
    handlers in place of the file's: ``h999-01`` works only 999, ``h101-01`` only 101, ``hboth-01``
    both. Validated like any configuration, and its queues against the PBX's."""
    lines = {line.get("name"): line.get("queues", []) for line in raw_config.get("lines", []) if isinstance(line, dict)}
    handlers = []
    for kind, works in STAFF:
        for n in range(1, getattr(profile.handlers, kind) + 1):
            hid = f"h{kind.removeprefix('only_')}-{n:02d}"
            queues = [q for line in works for q in lines.get(line, [])]
            handlers.append({"id": hid, "name": hid, "member": f"PJSIP/{hid}", "queues": queues,
                             "token": f"busy-hour-desktop-{hid}"})
    config = parse({**raw_config, "handlers": handlers}, source)
    pbx_queues(config, source)  # every queue of a line must be one the simulated PBX has
    return config


def with_policy(config: IntakeConfig, on: bool) -> IntakeConfig:
    """Policy off: intake never lends; the PBX's 999-first weights still apply."""
    routing = config.routing
    overflow = routing.overflow.model_copy(update={"enabled": on})
    return config.model_copy(update={"routing": routing.model_copy(update={"enabled": True, "overflow": overflow})})


def pbx_queues(config: IntakeConfig, source: str) -> tuple[QueueConfig, ...]:
    """The simulator's copies of config/asterisk/queues.conf, for the queues the lines name."""
    known = {q.name: q for q in SimConfig().queues}
    unknown = [ConfigProblem(f"lines[{i}].queues[{j}]", f"queue {q!r} is not in the PBX configuration "
                             f"(config/asterisk/queues.conf has {', '.join(sorted(known))})")
               for i, line in enumerate(config.lines) for j, q in enumerate(line.queues) if q not in known]
    if unknown:
        raise ConfigError(source, unknown)
    return tuple(known[q] for line in config.lines for q in line.queues)


@dataclass(slots=True)
class Tally:
    """What the figures in intake.core.metrics do not keep: the longest wait of a settled call, and
    999 calls answered by handlers lent from 101."""

    max_wait: dict[str, float] = field(default_factory=dict)
    answered_by_lent: int = 0


class Replay:
    def __init__(self, config: IntakeConfig, profile: Profile, calls: list[Arrival]) -> None:
        self.config, self.profile = config, profile
        self.clock = VirtualClock(profile.starts.timestamp())
        # The replay's handlers sit at fixed phones (a profile's floor has no hot-desking).
        handlers = tuple(HandlerConfig(h.member, h.id, tuple(h.queues)) for h in config.handlers if h.member is not None)
        self.pbx = Pbx(pbx_queues(config, "<config>"), handlers, self.clock, members_at_start=False)
        self.registry = registry_of(config)
        self.roster = roster_of(config)
        self.tally = Tally()
        self._decided = False  # the last evaluation sent actions: let them reach the PBX
        self.engine = Engine(self.registry, clock=self.clock, pbx_now=self.clock,
                             subscriptions=(Notices("tally", self, "_count"),), evaluators=(Evaluator("policy", self, "_evaluate"),))
        self.link = LoopbackLink(self.pbx, self.engine.feed)
        self.steering = Steering(config, self.registry, self.link, self.clock, monotonic=self.clock)
        queue_of: dict[str, str] = {line.name: line.queues[0] for line in config.lines}
        self.people = People(self.pbx, calls, queue_of, config.wrapup_reason, self.clock.now)

    def _count(self, notices: list[Notice]) -> None:
        for n in notices:
            if isinstance(n, Finished) and n.call.counted:
                waited = n.call.waited(self.clock.now)
                self.tally.max_wait[n.call.line] = max(self.tally.max_wait.get(n.call.line, 0.0), waited)
            elif isinstance(n, Answered) and n.call.line == "999":
                lines = self.roster.lines_of.get(self.registry.handler_of(n.member) or "", frozenset())
                self.tally.answered_by_lent += "999" not in lines

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    async def run(self) -> dict[str, Any]:
        for h in self.config.handlers:  # everyone signs in ready at the start of the hour
            for action in plan(Wanted.READY, "", h, {}):
                await self.link.send(action)
        end = self.clock.now + self.profile.seconds + DRAIN_LIMIT
        while self.clock.now < end:
            now = self.clock.now
            self.people.timers.run_due()
            self.pbx.advance()
            if self.engine.deadline() <= now:
                self.engine.wake()  # its outputs are for Redis, the PBX link and desktops: none here
                if self._decided:
                    # The decisions' actions are tasks: let them reach the PBX at this same instant.
                    self._decided = False
                    me = asyncio.current_task()
                    while others := asyncio.all_tasks() - {me}:
                        await asyncio.gather(*others)
            if self.people.all_dialled and not self.pbx.calls and not self.registry.calls:
                break
            due = [now + PBX_STEP, self.engine.deadline(), self.people.timers.next_due()]
            self.clock.now = min(t for t in due if t is not None)
        return self.figures()

    def _evaluate(self) -> None:
        self._decided = bool(self.steering.evaluate()) or self._decided

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def figures(self) -> dict[str, Any]:
        lines = self.registry.report(self.clock.now)["lines"]
        decided = {(a, r): n for (a, r), n in self.steering.decisions.items()}
        per_line = {}
        for name in LINES:
            fig = lines[name]
            answered = fig["from_queue_entry"]
            per_line[name] = {
                "target_seconds": fig["target_seconds"], "offered": fig["offered"], "answered": fig["answered"],
                "answered_within_target": answered["answered_within_target"],
                "answered_within_target_pct": answered["answered_within_target_pct"],
                "abandoned": fig["abandoned"], "mean_answer_seconds": answered["mean_answer_seconds"],
                "p90_answer_seconds": answered["p90_answer_seconds"],
                "max_wait_seconds": round(self.tally.max_wait.get(name, 0.0), 1),
                "waited_over_2min": fig["waited_over_2min"], "still_waiting": fig["waiting"],
            }
        pbx = {q.name: {"answered": q.answered, "abandoned": q.abandoned} for q in self.pbx.members.queues.values()}
        return {
            "lines": per_line,
            "overflow": {
                "lends": sum(n for (a, _), n in decided.items() if a == "lend"),
                "returns": sum(n for (a, _), n in decided.items() if a == "recall"),
                "by_reason": {f"{a}:{r}": n for (a, r), n in sorted(decided.items())},
                "action_failures": self.steering.failures,
                "999_answered_by_lent_101_handlers": self.tally.answered_by_lent,
            },
            "pbx_queues": pbx,
            "virtual_seconds": round(self.clock.now - self.profile.starts.timestamp(), 1),
        }


# Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
def replay(config: IntakeConfig, profile: Profile, calls: list[Arrival], *, policy: bool) -> dict[str, Any]:
    """Run the hour once, policy on or off, and return its figures."""
    return asyncio.run(Replay(with_policy(config, policy), profile, calls).run())
