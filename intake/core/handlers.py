"""A handler as the PBX sees them: queue memberships, pauses, the phone ringing or on a call.

The state shown to supervisors is derived from these facts every time it is asked for, never
stored beside them: one source of truth means a resync that replaces the memberships cannot leave
a stale "ready" behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(slots=True)
class Handler:
    member: str
    name: str
    handler_id: str | None = None  # None for a queue member the configuration does not name
    memberships: dict[str, MemberState] = field(default_factory=dict)
    ringing_for: set[str] = field(default_factory=set)
    on_call: str | None = None

    def state(self, wrapup_reason: str) -> tuple[HandlerState, str]:
        """The state and, for not-ready, the reason the PBX reported."""
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
