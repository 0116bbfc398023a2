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

from screenpop.delivery import DesktopHub
from screenpop.messages import HandlerMessage
from screenpop.models import CallerHistory, is_history_number
from screenpop.pop import REPEAT_CALLS, CallSnapshot, compose_pop

log = structlog.get_logger(__name__)

LOOKUP_DEADLINE_SECONDS = 0.25


class HistoryLookup(Protocol):
    async def lookup(self, number: str, now: float, calling: Mapping[str, float] | None = None) -> CallerHistory: ...


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
) -> HandlerMessage:
    """Publish the pop for ``call`` to ``handler_id``'s desktops; returns it as sent (with seq).

    ``unrecorded``: other calls from the number that the store may not hold yet (call id ->
    queue entry), counted towards the repeat flag with the recorded ones. ``held``: a lookup of
    the number already under way (screenpop.held), waited for instead of a lookup of our own.
    ``placed``: gives the call the location its pop shows, chosen with the history (or without it).
    """
    history = None
    if is_history_number(call.caller_number):
        try:
            async with asyncio.timeout(deadline):
                if held is not None:
                    # shield: a ring that gives up on a held lookup leaves it to any other ring
                    history = await asyncio.shield(held)
                else:
                    # The ringing call is one of the caller's calls in the window whenever it
                    # entered the queue: it is calling now.
                    history = await store.lookup(call.caller_number, now, {**(unrecorded or {}), call.call_id: now})
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
    return hub.publish(handler_id, compose_pop(call, history, repeat_calls=repeat_calls), active=True)
