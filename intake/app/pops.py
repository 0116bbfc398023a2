"""From the registry's notices to pops on handlers' desktops.

The registry is synchronous and must never wait on Redis. The caller's history is looked up as
their channel appears (Newchannel) and held (screenpop.held); when a phone rings, the pop is
composed from it and published in the same pass over the frame, with no task. A ring whose lookup
is still in flight, or that finds nothing usable held (the caller waited longer than the hold,
the lookup failed, or Redis's reports of writes are down), gets a task of its own that waits for
the lookup or makes one (one round trip), while events keep flowing. Later messages
about the same call for the same handler (answered, closed) wait for that task when it is still
running, so a desktop never sees a close before the pop it closes; otherwise they are published
at once, with no task at all (most notices need none: this is the hot path).

Every queued call is held in :attr:`PopRouter.unrecorded` until whoever writes its contact record
says it is in Redis: a pop's repeat count then includes the caller's calls Redis has not got yet.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from intake.app.locations import CallerLocations
from intake.app.unrecorded import UnrecordedCalls
from intake.core.calls import CallView
from intake.core.registry import (
    Answered,
    Finished,
    Notice,
    Queued,
    Ringing,
    RingStopped,
)
from screenpop.delivery import DesktopHub, Told
from screenpop.held import HeldHistories
from screenpop.history import HistoryStore
from screenpop.messages import HandlerMessage
from screenpop.models import CallerHistory, is_history_number
from screenpop.places import Location
from screenpop.pop import (
    REPEAT_CALLS,
    CallSnapshot,
    compose_answered,
    compose_closed,
    compose_pop,
)
from screenpop.popper import PlaceLookup, pop_ringing_call
from telephony.events import ChannelCreated

log = structlog.get_logger("intake.pops")

LOCATED_LIMIT = 10_000
"""Calls whose location is remembered for their outcome: far more than are in wrap-up at once."""


@dataclass(frozen=True, slots=True)
class Located:
    """A call that popped with the caller's location."""

    call_id: str
    line: str
    queued_at: float
    location: Location

HandlerOf = Callable[[str], "str | None"] | Mapping[str, str]
"""Who sits at a member interface: the registry's seating, or a fixed mapping (tests, tools)."""


def _lookup_of(handler_of: HandlerOf) -> Callable[[str], str | None]:
    return handler_of.get if isinstance(handler_of, Mapping) else handler_of


class PopRouter:
    def __init__(self, history: HistoryStore, hub: DesktopHub, handler_of: HandlerOf, clock: Callable[[], float],
                 *, repeat_calls: int = REPEAT_CALLS, hold_seconds: float = 0.0) -> None:
        """``handler_of(member)`` is the handler at a queue member interface now (the registry's
        seating; a fixed mapping may be given as a dict); ``clock()`` is PBX time now;
        a pop flags a repeat caller with more than ``repeat_calls`` calls in the history's window;
        a history looked up on arrival stands for a lookup at the ring for ``hold_seconds`` (0: never)."""
        self.history = history
        self.held = HeldHistories(self._lookup, hold_seconds)
        history.on_change = self.held.changed
        self.hub = hub
        self.handler_of = _lookup_of(handler_of)
        self.clock = clock
        self.repeat_calls = repeat_calls
        self.unrecorded = UnrecordedCalls()
        # Told (handler id, call id, number) of each pop that carried a caller's history: the audit
        # trail's consultation (intake.app.audit); it only queues, never waits.
        self.consulted: Callable[[str, str, str], None] = _nobody
        # The caller's location on pops and pop.place (intake.app.locations); None: pops carry none.
        self.locations: CallerLocations | None = None
        # The incidents near the location a pop shows (screenpop.pop_lookup; None: pops list
        # none), and the audit trail's consultation of them: (handler id, call id, number, how many shown).
        self.nearby: PlaceLookup | None = None
        self.consulted_incidents: Callable[[str, str, str, int], None] = _no_one
        # The location each call popped with, by call id (the newest LOCATED_LIMIT): the handler's
        # graded outcome of it becomes an incident there (intake.app.incidents_feed).
        self.located: OrderedDict[str, Located] = OrderedDict()
        self._pending: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def for_site(self, handler_of: HandlerOf, clock: Callable[[], float]) -> PopRouter:
        """This router as one PBX site's notices reach it: that PBX's phones (``handler_of``: who
        sits at its member interfaces, which another site may also use) and its clock; the held
        histories, the calls not yet recorded and the pops in flight stay one (handler ids are unique)."""
        site = copy.copy(self)
        site.handler_of, site.clock = _lookup_of(handler_of), clock
        return site

    def handle(self, notices: list[Notice]) -> None:
        for n in notices:
            if isinstance(n, Ringing):
                self._ringing(n.call, n.member)
            elif isinstance(n, Queued):
                self.unrecorded.add(n.call.caller_number, n.call.call_id, n.call.queued_at)
                if self.locations is not None:
                    self.locations.queued(n.call)
            elif isinstance(n, Answered):
                self._update(n.call, n.member, lambda c, h: compose_answered(
                    c.call_id, answered_at=c.answered_at or self.clock(), handler_id=h), active=True)
            elif isinstance(n, RingStopped):
                self._update(n.call, n.member, self._closer(n.reason), active=False)
            elif isinstance(n, Finished):
                self.held.finished(n.call.caller_number, n.call.call_id)
                if n.call.answered_by is not None:
                    self._update(n.call, n.call.answered_by, self._closer("ended"), active=False)

    def arriving(self, channel: ChannelCreated) -> None:
        """A channel appeared at the PBX: if it starts a call (its own linked id; a handler's
        leg or a Local channel carries the caller's) from a number with a history, look it up."""
        if (not self.held.enabled or channel.linked_id not in ("", channel.channel_id)
                or not is_history_number(channel.caller_number)):
            return
        now = self.clock()
        number = channel.caller_number
        self.held.fetch(number, channel.channel_id, now, {**self.unrecorded.of(number), channel.channel_id: now})

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def held_view(self) -> dict[str, Any]:
        """Where pops' histories came from, for /metrics."""
        c = self.held.counters
        return {"ready": c.taken_ready, "in_flight": c.taken_in_flight, "at_ring": c.missed, "watched": self.held.watched}

    def location_of(self, call_id: str) -> Located | None:
        """Where the call was when it popped here (None: it had no location, or popped elsewhere)."""
        return self.located.get(call_id)

    def remember(self, located: Located) -> None:
        """Keep where ``located`` was, for its outcome (the ring does, for a call that brings its location)."""
        self.located[located.call_id] = located
        self.located.move_to_end(located.call_id)
        while len(self.located) > LOCATED_LIMIT:
            self.located.popitem(last=False)

    def _lookup(self, number: str, now: float, calling: Any) -> Any:
        return self.history.lookup(number, now, calling)  # late bound: a wrapped store is used too

    async def drain(self) -> None:
        """Wait for every pop in flight, until it is on its sockets (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.hub.drain()

    def _closer(self, reason: str) -> Callable[[CallView, str], HandlerMessage]:
        return lambda c, _h: compose_closed(c.call_id, reason, at=c.ended_at or c.left_at or self.clock())  # type: ignore[arg-type]

    def _ringing(self, call: CallView, member: str) -> None:
        handler_id = self.handler_of(member)
        if handler_id is None:
            return  # a queue member no configuration names: nobody's desktop to pop
        now = self.clock()
        # The call's own location (its PIDF-LO), known before the history: the incidents near it are
        # read with the history; the pop then shows the location _placed chooses.
        own = call.location if self.locations is None or "call" in self.locations.order else None
        snapshot = CallSnapshot(call.call_id, call.line, call.queue, call.caller_number, call.caller_name,  # type: ignore[arg-type]
                                call.queued_at, round(call.waited(now), 3), call.silent, own,
                                target_seconds=call.target_seconds)
        key = (call.call_id, handler_id)
        held = self.held.take(call.caller_number) if is_history_number(call.caller_number) else None
        # Published at once, unless the incidents near the location it shows are still to be read.
        if (held is not None and held.done() and key not in self._pending
                and (self.nearby is None or self._placed(snapshot, held.result()).location is None)):
            self._publish_pop(snapshot, handler_id, held.result())
            return
        others = self.unrecorded.of(call.caller_number)
        self._chain(key, self._pop(snapshot, handler_id, now, others, held))

    def _placed(self, snapshot: CallSnapshot, history: CallerHistory | None) -> CallSnapshot:
        """``snapshot`` with the location its pop shows, chosen with the history it is composed with."""
        location = None if self.locations is None else self.locations.for_pop(snapshot.call_id, history, snapshot.location)
        return dataclasses.replace(snapshot, location=location)  # locations None: pops carry none

    def _publish_pop(self, snapshot: CallSnapshot, handler_id: str, history: CallerHistory) -> None:
        snapshot = self._placed(snapshot, history)
        sent = self.hub.publish(handler_id, compose_pop(snapshot, history, repeat_calls=self.repeat_calls), active=True,
                                told=self._told(handler_id, snapshot))
        if self.locations is not None:
            self.locations.shown(snapshot.call_id, handler_id, snapshot.location)
        if snapshot.location is not None:
            self.remember(Located(snapshot.call_id, snapshot.line, snapshot.queued_at, snapshot.location))
        log.info("pop_sent", seq=sent.seq or None, line=snapshot.line, call_id=snapshot.call_id, handler_id=handler_id, held=True)

    def _told(self, handler_id: str, snapshot: CallSnapshot) -> Told:
        """The audit trail's consultations of a pop, once the hub says this node delivered it
        (with several nodes, each publishes every pop: one is told)."""
        def told(pop: HandlerMessage) -> None:
            if getattr(pop, "history", None) is not None:  # a pop without its history showed none
                self.consulted(handler_id, snapshot.call_id, snapshot.caller_number)
            location = getattr(pop, "location", None)
            if location is not None and self.locations is not None:
                self.locations.shown_to(handler_id, snapshot.call_id, snapshot.caller_number, location)
            if self.nearby is not None and location is not None:
                self.consulted_incidents(handler_id, snapshot.call_id, snapshot.caller_number,
                                         len(getattr(pop, "incidents", ())))
        return told

    def _update(self, call: CallView, member: str, compose: Callable[[CallView, str], HandlerMessage], *, active: bool) -> None:
        handler_id = self.handler_of(member)
        if handler_id is None:
            return
        key = (call.call_id, handler_id)

        def publish() -> None:
            if not active and self.locations is not None:  # as the close goes: after the pop it closes
                self.locations.left(call.call_id, handler_id)
            self.hub.publish(handler_id, compose(call, handler_id), active=active)

        if key not in self._pending:
            publish()
            return

        async def after() -> None:
            publish()

        self._chain(key, after())

    def _chain(self, key: tuple[str, str], step: Any) -> None:
        """Run ``step`` after whatever is pending for this call on this handler's desktop."""
        before = self._pending.get(key)
        task = asyncio.get_running_loop().create_task(self._after(before, step, key))
        self._tasks.add(task)
        self._pending[key] = task
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda t: self._pending.get(key) is t and self._pending.pop(key))

    async def _after(self, before: asyncio.Task[None] | None, step: Any, key: tuple[str, str]) -> None:
        if before is not None:
            await asyncio.wait([before])
        with structlog.contextvars.bound_contextvars(call_id=key[0], handler_id=key[1]):
            try:
                await step
            except Exception:
                log.exception("pop_failed")

    async def _pop(self, snapshot: CallSnapshot, handler_id: str, now: float, unrecorded: dict[str, float],
                   held: asyncio.Task[CallerHistory] | None) -> None:
        sent = await pop_ringing_call(self.history, self.hub, handler_id, snapshot, now=now,
                                      unrecorded=unrecorded, repeat_calls=self.repeat_calls, held=held,
                                      placed=None if self.locations is None else self._placed, incidents=self.nearby,
                                      told=self._told(handler_id, snapshot))
        location = getattr(sent, "location", None)
        if self.locations is not None:
            self.locations.shown(snapshot.call_id, handler_id, location)
        if location is not None:
            self.remember(Located(snapshot.call_id, snapshot.line, snapshot.queued_at, location))
        log.info("pop_sent", seq=sent.seq or None, line=snapshot.line)  # None: Redis gives it (shared hub)


def _nobody(_handler_id: str, _call_id: str, _number: str) -> None:
    pass


def _no_one(_handler_id: str, _call_id: str, _number: str, _shown: int) -> None:
    pass
