"""Each handler's wrap-up after a call, as it really lasted: the handle time's second half.

A line's configured ``wrapup_seconds`` is how long intake *means* to keep a handler off the
queue after a call; what the floor did is another matter: a handler goes ready early, another
stays in wrap-up until they go not ready, a third signs out. Staffing's handle time (talk +
wrap-up, :mod:`intake.core.demand`) and the wallboard's needed now (:mod:`intake.core.live_demand`)
take the measured one where there is one.

Pure: the engine tells the table of each call that finished (:meth:`WrapUps.finished`) and of
each handler's state after every change (:meth:`WrapUps.changed`, on the PBX's clock); the table
answers with a :class:`~intake.core.notices.WrappedUp` when a wrap-up is over. The rules, in one place:

- a wrap-up **starts** when the handler who answered a call goes into wrap-up (paused in every
  queue with the wrap-up reason: :meth:`intake.core.handlers.Handler.state`) within
  :data:`STARTS_WITHIN` of that call's end: it is that call's;
- it **ends** when they leave wrap-up, whatever for: ready, another pause (not ready), signed out;
- a handler found in wrap-up with no call of theirs just over (a restart, a resync) is not
  measured: nobody saw it start; nor one open when the PBX link went down (:meth:`WrapUps.lost`):
  its end would be seen only when the link is back, late.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.core.calls import CallView
from intake.core.handlers import HandlerState
from intake.core.notices import WrappedUp

STARTS_WITHIN = 30.0
"""Seconds after a call's end within which its handler's wrap-up is the call's (intake pauses them
at once; a wrap-up later than this follows something else)."""


@dataclass(frozen=True, slots=True)
class _Open:
    call: CallView
    started_at: float


class WrapUps:
    """The wrap-ups under way, by member (the phone in the queues)."""

    def __init__(self) -> None:
        self._over: dict[str, CallView] = {}  # member -> the last call they answered that is over
        self._open: dict[str, _Open] = {}  # member -> their wrap-up under way

    def finished(self, call: CallView) -> None:
        """A call is over: its answering member's next wrap-up may be its."""
        if call.counted and call.answered_by is not None and call.answered_at is not None:
            self._over[call.answered_by] = call

    def changed(self, member: str, handler_id: str | None, state: HandlerState, at: float) -> WrappedUp | None:
        """The member's state after a change at ``at``; a WrappedUp when it ended their wrap-up."""
        running = self._open.get(member)
        if state is HandlerState.WRAP_UP:
            if running is None:
                call = self._over.pop(member, None)
                if call is not None and call.ended_at is not None and 0.0 <= at - call.ended_at <= STARTS_WITHIN:
                    self._open[member] = _Open(call, at)
            return None
        if running is None:
            return None
        del self._open[member]
        return WrappedUp(running.call, member, handler_id, running.started_at, max(at, running.started_at), state)

    def lost(self) -> None:
        """The PBX link went down: the wrap-ups under way will not be measured (their ends would be seen late)."""
        self._open.clear()
        self._over.clear()

    def under_way(self) -> frozenset[str]:
        """The members in a wrap-up the table is measuring."""
        return frozenset(self._open)
