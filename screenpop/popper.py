"""A handler's phone rings: look the caller up, compose the pop, publish it. The glue, in one place.

The pop must reach the desktop before the handler answers (a 999 call is answered in seconds),
so the history lookup gets a short deadline: past it, or if Redis fails, the pop goes out
without history and says so (``history_status: "unavailable"``), rather than late or not at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import structlog
from redis.exceptions import RedisError

from screenpop.delivery import DesktopHub, Told
from screenpop.messages import HandlerMessage
from screenpop.models import CallerHistory, is_history_number
from screenpop.places import NearbyIncident, Point
from screenpop.pop import REPEAT_CALLS, CallSnapshot, compose_pop

log = structlog.get_logger(__name__)

LOOKUP_DEADLINE_SECONDS = 0.25


class HistoryLookup(Protocol):
    async def lookup(self, number: str, now: float, calling: Mapping[str, float] | None = None) -> CallerHistory: ...


class PlaceLookup(Protocol):
    """screenpop.pop_lookup.PopLookup: the incidents near a caller, alone or with their history."""

    async def near(self, point: Point, now: float) -> tuple[NearbyIncident, ...]: ...

    async def lookup_near(self, number: str, point: Point, now: float, calling: Mapping[str, float] | None = None
                          ) -> tuple[CallerHistory | None, tuple[NearbyIncident, ...]]: ...


async def pop_ringing_call(
    store: HistoryLookup,
    hub: DesktopHub,
    handler_id: str,
    call: CallSnapshot,
    *,
    now: float,
    deadline: float = LOOKUP_DEADLINE_SECONDS,
    unrecorded: Mapping[str, float] | None = None,
    repeat_calls: int = REPEAT_CALLS,
    held: Awaitable[CallerHistory] | None = None,
    placed: Callable[[CallSnapshot, CallerHistory | None], CallSnapshot] | None = None,
    incidents: PlaceLookup | None = None,
    told: Told | None = None,
) -> HandlerMessage:
    """Publish the pop for ``call`` to ``handler_id``'s desktops; returns it as sent (with seq).

    ``unrecorded``: other calls from the number that the store may not hold yet (call id ->
    queue entry), counted towards the repeat flag with the recorded ones. ``held``: a lookup of
    the number already under way (screenpop.held), waited for instead of a lookup of our own.
    ``placed``: gives the call the location its pop shows, chosen with the history (or without it).
    ``incidents``: the incidents near the location the pop shows go on it too: with the call's own
    location (``call.location``), read with the history in one round trip; one more after a held
    history, or for a location that comes from the history. ``told``: the hub's (its publish).
    """
    history: CallerHistory | None = None
    nearby: tuple[NearbyIncident, ...] = ()
    near = call.location if incidents is not None else None
    if is_history_number(call.caller_number) or near is not None:
        try:
            async with asyncio.timeout(deadline):
                history, nearby = await _look_up(store, call, now, {**(unrecorded or {}), call.call_id: now}, held,
                                                 incidents, near)
        # The call and handler are named here, not bound around the wait: this runs for every
        # pop that waits, and logs only when the history is missing.
        except TimeoutError:
            log.warning("history lookup too slow; popping without it", deadline=deadline,
                        call_id=call.call_id, handler_id=handler_id)
        except RedisError as exc:
            log.warning("history lookup failed; popping without it", error=str(exc),
                        call_id=call.call_id, handler_id=handler_id)
    if placed is not None:
        call = placed(call, history)
    if incidents is not None and call.location is not None and call.location != near:
        nearby = await _near_alone(incidents, call, now, deadline, handler_id)
    elif call.location is None:
        nearby = ()
    return hub.publish(handler_id, compose_pop(call, history, repeat_calls=repeat_calls, incidents=nearby), active=True,
                       told=told)


async def _near_alone(incidents: PlaceLookup, call: CallSnapshot, now: float, deadline: float, handler_id: str
                      ) -> tuple[NearbyIncident, ...]:
    """The incidents near a location that came with the history (one more round trip)."""
    assert call.location is not None
    try:
        async with asyncio.timeout(deadline):
            return await incidents.near(call.location, now)
    except (TimeoutError, RedisError) as exc:
        log.warning("incidents lookup failed; popping without them", error=f"{type(exc).__name__}: {exc}",
                    call_id=call.call_id, handler_id=handler_id)
        return ()


async def _look_up(store: HistoryLookup, call: CallSnapshot, now: float, calling: Mapping[str, float],
                   held: Awaitable[CallerHistory] | None, incidents: PlaceLookup | None, near: Point | None
                   ) -> tuple[CallerHistory | None, tuple[NearbyIncident, ...]]:
    """The caller's history and the incidents near them: in one round trip when both are read now."""
    if held is not None:
        # shield: a ring that gives up on a held lookup leaves it to any other ring
        history = await asyncio.shield(held)
        if incidents is None or near is None:
            return history, ()
        try:
            return history, await incidents.near(near, now)
        except RedisError as exc:  # the history the caller waited for goes out all the same
            log.warning("incidents lookup failed; popping without them", error=str(exc), call_id=call.call_id)
            return history, ()
    if incidents is not None and near is not None:
        return await incidents.lookup_near(call.caller_number, near, now, calling)
    # The ringing call is one of the caller's calls in the window whenever it entered the queue:
    # it is calling now (``calling`` names it).
    return await store.lookup(call.caller_number, now, calling), ()
