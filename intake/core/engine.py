"""The engine: domain events in, the registry, frozen notices out to subscribers in a declared
order, timers on an injected clock, and what the app must do returned as data.

One engine runs ``intake serve`` (:mod:`intake.app.server`), the busy-hour replay
(:mod:`routing.scenario.replay`) and the benchmark's pipeline; each gives it a clock and a set of
subscribers, and carries out its outputs (:mod:`intake.core.outputs`) its own way. The engine
does no I/O and keeps no time of its own: it never sleeps and never starts a task. It says when
it next needs waking (:meth:`Engine.deadline`), and the app wakes it then (:meth:`Engine.wake`).

The schedule, in one place:

- **Policy coalescing**: an event that gave notices asks for the floor's evaluators (the routing
  policy, the call-back rules) :data:`POLICY_COALESCE` later, once for a whole burst: they read
  every handler and every waiting call, and must not run once per frame.
- **The tick**, every :data:`TICK`: calls past the leave grace are settled (the registry's
  tick), the evaluators run if nothing ran them in the last tick (waits grow by themselves: the
  target comes at risk between events), and the wallboard is published when something changed,
  or at least every :data:`REFRESH` seconds while calls or call-backs wait.

Who hears what, in order: every subscription, in the order given, sees each event's notices
(:class:`Notices`: the registry's, then the wrap-ups they ended, :mod:`intake.core.wrapups`) or
the event itself (:class:`On`); then the engine's own follow-up gives the
outputs (records, resyncs, restores, wrap-ups, the PBX check), which the app carries out after
the subscribers. Each subscriber runs under the injected ``guard``: one that raises is counted and
logged by the app, and the others, the call's records among them, still see every notice.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from intake.core.in_progress import InProgress
from intake.core.notices import (
    Answered,
    Finished,
    HandlerChanged,
    MembershipsLost,
    Notice,
    Queued,
    ResyncWanted,
    Settled,
    WrappedUp,
)
from intake.core.outputs import (
    CallOver,
    CheckPbx,
    Journal,
    KeepInProgress,
    Output,
    Publish,
    RestoreMemberships,
    ResumeWrapUps,
    Resync,
    WrapUpOver,
)
from intake.core.registry import Fed, Registry
from intake.core.wrapups import WrapUps
from telephony.events import DomainEvent, PbxLinkDown, PbxLinkUp, SnapshotCompleted

TICK = 0.25  # seconds between settle/refresh ticks: a wallboard within a second of the PBX
POLICY_COALESCE = 0.25  # seconds: routing decisions for a burst of events are taken once (targets are 12 s+)
REFRESH = 1.0  # seconds: the wallboard at least this often while calls wait (waits grow by themselves)
ANSWERED_MEMORY = 20_000  # answered calls whose outcome a handler may still file

E = TypeVar("E", bound=DomainEvent)
Guard = Callable[[str, Callable[[], object]], object]
"""Runs a subscriber's step under a name: the app's counts and logs a failure and carries on."""


def unguarded(name: str, step: Callable[[], object]) -> object:
    """No guard: a failure propagates (a replay wants to know at once)."""
    return step()


@dataclass(frozen=True, slots=True)
class Notices:
    """A subscriber of every event's notices: ``owner.<method>(notices)``, one list in the order
    the registry gave them (only events that gave any). The method is looked up at each call, so
    what the owner has then is what runs (a test may put a fault in its place)."""

    name: str
    owner: object
    method: str = "handle"


@dataclass(frozen=True, slots=True)
class On(Generic[E]):
    """A subscriber of one kind of domain event: ``owner.<method>(event)`` after the registry
    applied it (looked up at each call, as :class:`Notices`)."""

    name: str
    kind: type[E]
    owner: object
    method: str


@dataclass(frozen=True, slots=True)
class Evaluator:
    """A look at the whole floor, ``owner.<method>()``: coalesced after events, and every tick."""

    name: str
    owner: object
    method: str = "evaluate"


Subscription = Notices | On[Any]
"""Any: an ``On`` is typed by its own kind, so a list of them holds several kinds; the engine
hands each the events of its ``kind``."""


class Engine:
    def __init__(self, registry: Registry, *, clock: Callable[[], float], pbx_now: Callable[[], float],
                 subscriptions: Iterable[Subscription] = (),
                 evaluators: Iterable[Evaluator] = (),
                 guard: Guard = unguarded, also_waiting: Callable[[], bool] = lambda: False) -> None:
        """``clock`` times the schedule (monotonic in the server, virtual in a replay); ``pbx_now``
        is the PBX's clock the registry settles on; ``evaluators`` look at the whole floor
        (coalesced, and every tick), in this order; ``also_waiting()`` says whether anything beside the calls
        waits on the wallboard (call-backs)."""
        self.registry = registry
        self._clock, self._pbx_now, self._guard, self._also_waiting = clock, pbx_now, guard, also_waiting
        self._notices: list[Notices] = []
        self._on: dict[type, list[On[Any]]] = {}
        for s in subscriptions:
            self.subscribe(s)
        self.evaluators = tuple(evaluators)
        self._next_tick = clock() + TICK
        self.policy_due: float | None = None  # when the coalesced evaluation is due, if one is
        self.evaluated_at = float("-inf")  # clock time of the last evaluation of the floor
        self._published_at = float("-inf")
        self._dirty = True
        self._linked = False  # the first login was seen (the PBX check is due once)
        # call id -> (handler id, caller number) for calls answered recently: outcomes may be
        # filed after the call ended, but only by the handler who took it.
        self._answered: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self.wrapups = WrapUps()  # each handler's wrap-up as it really lasts: WrappedUp beside the registry's notices

    def subscribe(self, subscription: Subscription) -> None:
        """Add a subscriber after those already there (the order is the order of the calls)."""
        if isinstance(subscription, Notices):
            self._notices.append(subscription)
        else:
            self._on.setdefault(subscription.kind, []).append(subscription)

    # --- in ------------------------------------------------------------------------------------

    def feed(self, event: Fed) -> Sequence[Output]:
        """Apply one event: subscribers hear of it now; the outputs are the app's to carry out."""
        notices = self.registry.apply(event)
        if notices:
            notices = self._wrapped_up(notices)
        outputs: Sequence[Output] = self._fan_out(notices) if notices else ()
        kind = type(event)
        subs = self._on.get(kind)
        if subs is not None:
            for sub in subs:
                self._guard(sub.name, partial(getattr(sub.owner, sub.method), event))
        if kind is SnapshotCompleted:
            outputs = [*outputs, ResumeWrapUps()]  # after any restore this resync asked for
        elif kind is PbxLinkDown:
            self.wrapups.lost()
        elif kind is PbxLinkUp and not self._linked:
            self._linked = True
            outputs = [*outputs, CheckPbx()]
        if notices and self.policy_due is None:
            self.policy_due = self._clock() + POLICY_COALESCE
        return outputs

    def changed(self) -> None:
        """Something on the wallboard changed outside the registry (a call-back task)."""
        self._dirty = True

    # --- time ----------------------------------------------------------------------------------

    def deadline(self) -> float:
        """When (on the engine's clock) :meth:`wake` next has something to do."""
        due = self.policy_due
        return self._next_tick if due is None or due > self._next_tick else due

    def wake(self) -> list[Output]:
        """Run what is due by now: the coalesced evaluation, then the tick."""
        now = self._clock()
        if self.policy_due is not None and self.policy_due <= now:
            self.evaluate()
        if self._next_tick > now:
            return []
        self._next_tick = now + TICK
        outputs = self.settle(self._pbx_now())
        if now - self.evaluated_at >= TICK:
            self.evaluate()
        if self._dirty or (now - self._published_at >= REFRESH and (self.registry.waiting_calls() or self._also_waiting())):
            self._dirty = False
            self._published_at = now
            outputs.append(Publish())
        return outputs

    def settle(self, pbx_now: float) -> list[Output]:
        """Settle the calls past the leave grace at ``pbx_now`` (part of every tick)."""
        return self._fan_out(self.registry.tick(pbx_now))

    def evaluate(self) -> None:
        """The floor's evaluators, now, each under its own guard (a failing one is counted and
        the next still runs)."""
        self.policy_due = None
        self.evaluated_at = self._clock()
        for e in self.evaluators:
            self._guard(e.name, getattr(e.owner, e.method))

    # --- out -----------------------------------------------------------------------------------

    def answered(self, call_id: str) -> tuple[str, str] | None:
        """(handler id, caller number) of a call answered lately by a configured handler."""
        return self._answered.get(call_id)

    def _fan_out(self, notices: list[Notice]) -> list[Output]:
        if not notices:
            return []
        self._dirty = True
        guard = self._guard
        for sub in self._notices:
            guard(sub.name, partial(getattr(sub.owner, sub.method), notices))
        outputs: list[Output] = []
        follow_up = _FOLLOW_UP
        for n in notices:
            follow = follow_up.get(type(n))
            if follow is not None:
                follow(self, n, outputs)
        return outputs

    def _wrapped_up(self, notices: list[Notice]) -> list[Notice]:
        """The registry's notices, and after them the wrap-ups they ended (:mod:`intake.core.wrapups`)."""
        wrapped: list[Notice] = []
        for n in notices:
            if isinstance(n, Finished):
                self.wrapups.finished(n.call)
            elif isinstance(n, HandlerChanged):
                handler = self.registry.handlers.get(n.member)
                if handler is not None:
                    state = handler.state(self.registry.wrapup_reason)[0]
                    done = self.wrapups.changed(n.member, handler.handler_id, state, self.registry.now)
                    if done is not None:
                        wrapped.append(done)
        return [*notices, *wrapped] if wrapped else notices

    def _queued(self, n: Queued, outputs: list[Output]) -> None:
        if n.call.counted:  # offered: kept where a restart finds it until its journal record is written
            outputs.append(KeepInProgress(InProgress.of(n.call)))

    def _answer(self, n: Answered, outputs: list[Output]) -> None:
        handler = self.registry.handlers.get(n.member)
        if handler is None or handler.handler_id is None:
            return
        self._answered[n.call.call_id] = (handler.handler_id, n.call.caller_number)
        while len(self._answered) > ANSWERED_MEMORY:
            self._answered.popitem(last=False)

    def _settled(self, n: Settled, outputs: list[Output]) -> None:
        outputs.append(Journal(n.call))

    def _finished(self, n: Finished, outputs: list[Output]) -> None:
        outputs.append(CallOver(n.call))

    def _wrapup_over(self, n: WrappedUp, outputs: list[Output]) -> None:
        if n.call.counted:
            outputs.append(WrapUpOver(n))

    def _resync(self, n: ResyncWanted, outputs: list[Output]) -> None:
        outputs.append(Resync(n.reason))

    def _lost(self, n: MembershipsLost, outputs: list[Output]) -> None:
        outputs.append(RestoreMemberships(n.member, n.lost))


_FOLLOW_UP: dict[type, Callable[[Engine, Any, list[Output]], None]] = {  # Any: each takes the kind it is keyed by
    Queued: Engine._queued,
    Answered: Engine._answer,
    Settled: Engine._settled,
    Finished: Engine._finished,
    WrappedUp: Engine._wrapup_over,
    ResyncWanted: Engine._resync,
    MembershipsLost: Engine._lost,
}
"""The engine's own follow-up of a notice: the outputs it gives (records, resyncs, restores)."""
