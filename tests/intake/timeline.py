"""A terse way to write a PBX event sequence for registry tests: one call, times in seconds."""

from __future__ import annotations

from dataclasses import dataclass, field

from telephony import events as ev
from telephony.events import MemberDevice, MemberState
from telephony.geolocation import CallerLocation

T0 = 1_700_000_000.0


@dataclass
class Timeline:
    call_id: str = "1700000000.1"
    queue: str = "emergency"
    number: str = "07700900001"
    events: list[ev.DomainEvent] = field(default_factory=list)
    t0: float = T0  # when second 0 is (PBX epoch)

    def _t(self, s: float) -> float:
        return self.t0 + s

    def arrive(self, s: float) -> Timeline:
        self.events.append(ev.ChannelCreated(self._t(s), self.call_id, self.call_id, "PJSIP/caller-1-0001", self.number))
        return self

    def join(self, s: float, location: CallerLocation | None = None) -> Timeline:
        """``location``: the caller's INVITE carried it (INTAKE_GEO on the QueueCallerJoin)."""
        self.events.append(ev.CallQueued(self._t(s), self.call_id, self.queue, self.number, "Caller", 1, "PJSIP/caller-1-0001",
                                         self.call_id, location=location))
        return self

    def ring(self, s: float, member: str) -> Timeline:
        self.events.append(ev.HandlerRang(self._t(s), self.call_id, self.queue, member, member, member + "-0002"))
        return self

    def ring_out(self, s: float, member: str, ring: float) -> Timeline:
        self.events.append(ev.HandlerRingNoAnswer(self._t(s), self.call_id, self.queue, member, ring))
        return self

    def answer(self, s: float, member: str, hold: float) -> Timeline:
        self.events.append(ev.CallLeftQueue(self._t(s), self.call_id, self.queue, 1, 0))
        self.events.append(ev.CallAnswered(self._t(s), self.call_id, self.queue, member, member, hold, 1, member + "-0002"))
        return self

    def complete(self, s: float, member: str, talk: float, reason: str = "caller") -> Timeline:
        self.events.append(ev.CallCompleted(self._t(s), self.call_id, self.queue, member, 0, talk, reason))
        return self.hangup(s)

    def abandon(self, s: float, hold: float) -> Timeline:
        self.events.append(ev.CallAbandoned(self._t(s), self.call_id, self.queue, hold, 1, 1))
        self.events.append(ev.CallLeftQueue(self._t(s), self.call_id, self.queue, 1, 0))
        return self.hangup(s)

    def leave(self, s: float) -> Timeline:
        self.events.append(ev.CallLeftQueue(self._t(s), self.call_id, self.queue, 1, 0))
        return self

    def hangup(self, s: float) -> Timeline:
        self.events.append(ev.ChannelHungUp(self._t(s), self.call_id, "PJSIP/caller-1-0001", 16))
        return self


def member(s: float, queue: str, interface: str, *, paused: bool = False, reason: str = "",
           device: MemberDevice = MemberDevice.NOT_INUSE, membership: str = "dynamic") -> MemberState:
    return MemberState(T0 + s, queue, interface, interface, device, paused, reason, False, 0, membership)
