"""A handler as the PBX sees them: queue memberships, pauses, the phone ringing or on a call.

The state shown to supervisors is derived from these facts every time it is asked for, never
stored beside them: one source of truth means a resync that replaces the memberships cannot leave
a stale "ready" behind. One fact is intake's own: a wrap-up it is about to start
(:class:`WrapUpDue`). A call's end reaches intake before the wrap-up pause it sends in return
comes back from the PBX; in between the pauses alone would say "ready" (or the reason chosen
during the call), and every desktop would flicker through it at the end of every call.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

from telephony.events import MemberDevice, MemberState

OFFLINE = {MemberDevice.UNAVAILABLE, MemberDevice.INVALID}
IN_USE = {MemberDevice.INUSE, MemberDevice.BUSY, MemberDevice.ONHOLD}
"""Device states of a phone busy with a call that is not a queue call of ours (a call-back, a
direct call): the PBX will not ring it for a queue call (``ringinuse = no``), so it is not ready.
RINGING is left out: the device reports it for a queue call's ring too, and still does for a
moment after the ring stopped (AgentRingNoAnswer comes first)."""


class HandlerState(Enum):
    LOGGED_OUT = "logged-out"
    READY = "ready"
    RINGING = "ringing"
    ON_CALL = "on-call"
    WRAP_UP = "wrap-up"
    NOT_READY = "not-ready"


WRAPUP_PAUSE_WAIT = 10.0
"""Seconds (PBX clock) a wrap-up stays due without its pause: then the pauses alone say again.
A backstop, never the way a due wrap-up normally ends: its pause arrives within milliseconds, and
one that will not come is called off at once (:class:`WrapUpCalledOff`). It is there for what
nobody tells: no node leads the site, or the leader died between the call's end and the pause."""


@dataclass(frozen=True, slots=True)
class WrapUpDue:
    """A call ended and intake is pausing the handler for its wrap-up; the PBX has yet to show
    the wrap-up's pause in ``awaiting``. Until it does (or it is called off), the handler is
    in wrap-up: the state the desktop shows goes from on-call straight to wrap-up.

    Every rule of its life is here, fed by events: :func:`wrapup_due` (the call's end sets it),
    :meth:`seen` (a member event), :meth:`left` (a queue left), :meth:`overdue` (the backstop);
    the registry drops it when the handler answers another call, the link is lost, or intake
    calls the wrap-up off (:class:`WrapUpCalledOff`)."""

    call_id: str
    since: float  # the call's end (PBX clock)
    awaiting: frozenset[str]
    then_paused: str | None
    """The not-ready reason the wrap-up ends in (Not ready pressed during the call), as
    :func:`wrapup_due` says; None: ready when it ends."""

    def seen(self, before: MemberState | None, now: MemberState, wrapup_reason: str) -> WrapUpDue | None:
        """After a member event: ``now`` replaced ``before`` in its queue. The wrap-up's pause
        there, or any other change of the pause (made ready, or paused with another reason: at
        the phone, by a supervisor, the handler's own choice, which outranks the wrap-up), is
        one queue fewer to wait for: None once none is left, and the pauses say again. Queue by
        queue, as the PBX pauses: a choice reaching the first of two queues must not show
        "ready" between wrap-up and not-ready. A device state changing under an unchanged pause
        (the phone hung up) changes nothing."""
        if now.paused and now.paused_reason == wrapup_reason:
            return self.left(now.queue)
        if before is not None and (before.paused, before.paused_reason) != (now.paused, now.paused_reason):
            return self.left(now.queue)
        return self

    def left(self, queue: str) -> WrapUpDue | None:
        """``queue`` no longer needs its pause (it has it, or the handler left it)."""
        awaiting = self.awaiting - {queue}
        return replace(self, awaiting=awaiting) if awaiting else None

    def overdue(self, now: float, wait: float = WRAPUP_PAUSE_WAIT) -> bool:
        return now - self.since >= wait


@dataclass(frozen=True, slots=True)
class WrapUpCalledOff:
    """Intake will not pause ``member`` for the wrap-up its last call's end made due: the pause
    was refused or could not be sent, or the handler chose a state first. Fed to the registry by
    the desk that runs wrap-ups, so the wrap-up shown meanwhile ends at once (a choice that
    changed nothing at the PBX, Ready with nothing paused, gives no member event to end it)."""

    at: float
    member: str
    why: str


@dataclass(slots=True)
class Handler:
    member: str
    name: str
    handler_id: str | None = None  # None for a queue member the configuration does not name
    memberships: dict[str, MemberState] = field(default_factory=dict)
    ringing_for: set[str] = field(default_factory=set)
    on_call: str | None = None
    wrapup_follows: WrapUpDue | None = None

    def state(self, wrapup_reason: str) -> tuple[HandlerState, str]:
        """The state and, for not-ready, the reason the PBX reported; wrap-up from a call's end
        while its pause is on its way (:class:`WrapUpDue`)."""
        if self.wrapup_follows is not None and self.memberships and self.on_call is None and not self.ringing_for:
            return HandlerState.WRAP_UP, wrapup_reason
        return self.shown_by_pbx(wrapup_reason)

    def shown_by_pbx(self, wrapup_reason: str) -> tuple[HandlerState, str]:
        """The state as the PBX's facts alone say (no wrap-up due): what a wrap-up's own rules
        judge by, as they decide whether one is due or still to start."""
        if not self.memberships:
            return HandlerState.LOGGED_OUT, ""
        if self.on_call is not None:
            return HandlerState.ON_CALL, ""
        if self.ringing_for:
            return HandlerState.RINGING, ""
        states = list(self.memberships.values())
        if all(s.paused for s in states):
            reason = states[0].paused_reason
            if reason == wrapup_reason:
                return HandlerState.WRAP_UP, reason
            return HandlerState.NOT_READY, reason or "paused"
        if any(s.device in IN_USE for s in states):
            return HandlerState.ON_CALL, "phone in use"
        if all(s.device in OFFLINE for s in states):
            return HandlerState.NOT_READY, "phone offline"
        return HandlerState.READY, ""

    def paused_for(self) -> str | None:
        """The pause reason when the member is paused in every queue ("" if the PBX gave none);
        None when ready somewhere or in no queue. On a call, that is a handler who pressed Not
        ready during it: they go not ready with it once the call's wrap-up ends."""
        states = list(self.memberships.values())
        if not states or not all(s.paused for s in states):
            return None
        return states[0].paused_reason or ""

    def member_seen(self, s: MemberState, wrapup_reason: str) -> bool:
        """The PBX reported the member's state ``s`` in its queue: kept, and a wrap-up due moved
        on by it (:meth:`WrapUpDue.seen`). Returns whether that ended the wait for the pause."""
        before = self.memberships.get(s.queue)
        self.memberships[s.queue] = s
        due = self.wrapup_follows
        if due is None:
            return False
        self.wrapup_follows = due.seen(before, s, wrapup_reason)
        return self.wrapup_follows is None

    def fixed_queues(self) -> list[str]:
        """The queues the member is in by the PBX's configuration, not by QueueAdd."""
        return sorted(q for q, s in self.memberships.items() if s.fixed)

    def view(self, wrapup_reason: str) -> dict[str, object]:
        state, reason = self.state(wrapup_reason)
        return {
            "handler_id": self.handler_id,
            "name": self.name,
            "member": self.member,
            "state": state.value,
            "reason": reason,
            "queues": sorted(self.memberships),
            # Queues the PBX's configuration holds this member in (queues.conf ``member =>``):
            # intake cannot log them out there, and a PBX restart makes them ready there.
            "static_queues": self.fixed_queues(),
            "ringing_for": sorted(self.ringing_for),
            "on_call": self.on_call,
        }


def wrapup_due(handler: Handler, call_id: str, at: float, seconds: float, wrapup_reason: str) -> WrapUpDue | None:
    """Whether ``handler``, whose answered call ``call_id`` ended at ``at``, goes into a wrap-up
    of ``seconds`` (the call's line's); None when none is due: wrap-up is off for the line, an
    unconfigured member answered, or the handler is logged out or not ready for want of a phone.
    A handler paused in every queue (Not ready pressed during the call) still gets the wrap-up,
    and goes not ready with that reason at its end (``then_paused``). The one rule: the desk that
    starts wrap-ups (routing.handler_rules.wrapup_after) and the registry that shows them due
    both ask it. With the pause already in every queue (an earlier wrap-up's, still on) there is
    nothing to wait for: ``awaiting`` is empty."""
    if seconds <= 0 or handler.handler_id is None or not handler.memberships:
        return None
    state, _ = handler.shown_by_pbx(wrapup_reason)
    paused = handler.paused_for()
    if state is HandlerState.NOT_READY and paused is None:
        return None
    # An earlier wrap-up's pause still on (a call-back made during it): ready after this one.
    then_paused = None if paused is None or paused == wrapup_reason else (paused or "not ready")
    awaiting = frozenset(q for q, s in handler.memberships.items() if not (s.paused and s.paused_reason == wrapup_reason))
    return WrapUpDue(call_id, at, awaiting, then_paused)
