"""The edge of the routing policy: evaluate it, send its decisions over AMI, log and count them.

:class:`Steering` is evaluated by the server after every event that changed the floor and on
every tick. The policy may say the same thing on consecutive evaluations until the PBX's
membership events catch up, so a decision already sent is held *in flight* (keyed by member and
queue) until its response is in and a short settle time has passed; only then may it be sent
again. The PBX stays the source of truth: whether a handler is lent is read back from its
QueueMemberAdded / Removed events, never from what we asked for.

With several nodes, every node evaluates the policy on its own picture (so its memory of when
the 999 line went clear is current should it take over), and only the site's leader sends what
it decides (:class:`~intake.core.leadership.Gate`); a lend or recall is sent only once Redis has
confirmed that the token it was decided under is still the site's (:class:`~routing.fenced.Fence`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog
from redis.exceptions import RedisError

from intake.core.config import IntakeConfig
from intake.core.leadership import ALONE, Gate
from intake.core.registry import Registry
from routing.errors import Fenced
from routing.executor import ActionResult, Executor, Sender, Sent
from routing.fenced import Fence
from routing.floor import floor_of, roster_of
from routing.handler_desk import contradicts_picture
from routing.policy import EMERGENCY, Decision, Lend, Memory, Rules, decide
from telephony import actions
from telephony.errors import RefusedValue

log = structlog.get_logger("routing")

SETTLE = 1.0  # seconds a sent decision stays in flight after its response: the events follow it


class Steering:
    def __init__(self, config: IntakeConfig, registry: Registry, sender: Sender, now: Callable[[], float],
                 monotonic: Callable[[], float] = time.monotonic, resync: Callable[[str], object] | None = None,
                 *, gate: Gate = ALONE, fence: Fence | None = None) -> None:
        """``now`` is the PBX clock the policy measures waits on; ``monotonic`` times the settle
        of decisions in flight (a virtual clock in scripts/busy_hour.py, where an hour runs in
        seconds and a wall-clock second would hold a decision back for minutes of PBX time);
        ``resync(reason)`` asks for the PBX's picture again when it refuses a lend or a recall;
        ``gate`` says whether this node leads the site, ``fence`` checks its token before a send."""
        o = config.routing.overflow
        self.enabled = config.routing.enabled and o.enabled
        self.rules = Rules(o.at_fraction, o.when_outnumbered, o.clear_seconds, o.penalty)
        self.config, self.registry, self.sender, self.now, self.monotonic = config, registry, sender, now, monotonic
        self.roster = roster_of(config)
        self.memory = Memory()
        self.decisions: Counter[tuple[str, str]] = Counter()  # (action, reason) -> count
        self.failures = 0
        self._in_flight: dict[tuple[str, str], float] = {}  # (member, queue) -> settled at (monotonic)
        self.executor = Executor(sender)
        self.resync = resync
        self.gate, self.fence = gate, fence
        self.fenced = 0  # decisions not sent: the node was deposed between deciding and sending

    def evaluate(self) -> list[Decision]:
        """Run the policy on the floor now and send whatever it decides that is not in flight."""
        if not self.enabled or not self.registry.link_up:
            return []
        todo, self.memory = decide(floor_of(self.registry, self.roster, self.now()), self.rules, self.memory)
        if not self.gate.acts():
            return []  # the site's leader sends them
        token = self.gate.token()
        clock = self.monotonic()
        fresh = [d for d in todo if self._in_flight.get((d.member, d.queue), 0) <= clock]
        for d in fresh:
            self._in_flight[(d.member, d.queue)] = float("inf")
            kind = "lend" if isinstance(d, Lend) else "recall"
            self.decisions[(kind, d.reason.value)] += 1
            log.info("routing_decision", action=kind, handler_id=d.handler_id, queue=d.queue, reason=d.reason.value, detail=d.detail)
            self.executor.spawn(self._send(d, token))
        return fresh

    async def _send(self, d: Decision, token: int | None = None) -> None:
        """The I/O of one decision: its action to the PBX, what came of it back to :meth:`settled`."""
        if token is not None and self.fence is not None:
            try:
                await self.fence.check(token)
            except Fenced as exc:
                self.fenced += 1
                log.warning("routing_decision_fenced", handler_id=d.handler_id, queue=d.queue, token=exc.token,
                            current=exc.current)
                self.settled(d)
                return
            except (RedisError, OSError) as exc:  # nobody can say we still lead: send nothing
                log.warning("routing_decision_not_confirmed", handler_id=d.handler_id, queue=d.queue, error=repr(exc))
                self.settled(d)
                return
        try:
            # Built here, not in the policy: a value the builder refuses (telephony.values) is a
            # failure like a refusal (a queue name the PBX reported that we may not send back).
            action = (actions.queue_add(d.queue, d.member, member_name=d.handler_id, penalty=d.penalty)
                      if isinstance(d, Lend) else actions.queue_remove(d.queue, d.member))
        except RefusedValue as exc:
            self._failed(d, str(exc))
            self.settled(d)
            return
        try:
            result = await self.executor.send(action)
        finally:  # whatever happened, never a decision stuck in flight
            self.settled(d)
        if not result.done:
            self._failed(d, result.detail, refused=result if result.sent is Sent.REFUSED else None)

    def _failed(self, d: Decision, why: str, *, refused: ActionResult | None = None) -> None:
        """Refused or unreachable: counted, and the next evaluation decides again."""
        self.failures += 1
        log.warning("routing_action_failed", action="QueueAdd" if isinstance(d, Lend) else "QueueRemove",
                    handler_id=d.handler_id, queue=d.queue, error=why)
        if refused is not None and contradicts_picture(refused.action) and self.resync is not None:
            # The policy decided from a picture the PBX just contradicted: decide again from the PBX's.
            self.resync(f"{refused.action.name} refused for {d.handler_id}: {refused.detail}")

    def settled(self, d: Decision) -> None:
        """``d``'s answer is in: it may be decided again once the PBX's events have followed it."""
        self._in_flight[(d.member, d.queue)] = self.monotonic() + SETTLE

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def lent(self) -> list[dict[str, Any]]:
        """Handlers lent to the 999 line now, as the PBX reports them."""
        floor = floor_of(self.registry, self.roster, self.now())
        return [{"handler_id": d.handler_id, "queues": sorted(d.lent_to)}
                for d in floor.desks if any(floor.queues.get(q) == EMERGENCY for q in d.lent_to)]

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def view(self) -> dict[str, Any]:
        """The overflow picture for the wallboard and /metrics."""
        lent = self.lent()
        return {"enabled": self.enabled, "active": bool(lent), "lent": lent,
                "clear_since": self.memory.clear_since,
                "decisions": [{"action": a, "reason": r, "count": n} for (a, r), n in sorted(self.decisions.items())],
                "failures": self.failures}

    async def close(self) -> None:
        await self.executor.close()
