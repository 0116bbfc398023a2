"""Random 999/101 traffic and simulated handlers, driven by the simulated PBX's own events.

Callers arrive as a Poisson process per queue and give up after a lognormal patience (only the
callers it brought: one a script or test put in, by Originate, waits as long as its originator
says, as on a real PBX); handlers
answer after a few seconds (or let it ring out), talk, wrap up paused, and now and then take a
break. Everything is drawn from one seeded RNG and acted on from timers, never from inside an
event callback, so a sequence of PBX events is never interleaved with a reaction to itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from telephony.simulator import wire
from telephony.simulator.calls import Phase
from telephony.simulator.config import TrafficProfile
from telephony.simulator.pbx import Pbx
from telephony.simulator.timers import Timers

FIRST_NAMES = ("Amira", "Ben", "Chloe", "Dev", "Ellie", "Femi", "Grace", "Harry", "Isla", "Jamal", "Kasia", "Liam")
LAST_NAMES = ("Okafor", "Smith", "Patel", "Jones", "Nowak", "Evans", "Khan", "Taylor", "Murphy", "Wright")


class Traffic:
    def __init__(self, pbx: Pbx, profile: TrafficProfile, rng: random.Random, handlers: set[str]) -> None:
        self._pbx = pbx
        self._p = profile
        self._rng = rng
        self._handlers = handlers
        self._timers = Timers(pbx.now)
        self._brought: set[str] = set()  # call ids of the callers this traffic brought, until they join
        self.callers = [
            (f"07700900{i:03d}", f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}") for i in range(profile.caller_pool)
        ]
        pbx.subscribe(self._on_event)

    def start(self) -> None:
        for queue, rate in self._p.arrivals_per_second:
            if rate > 0:
                self._schedule_arrival(queue, rate)

    def advance(self) -> None:
        """Run every reaction that is due on the PBX clock."""
        self._timers.run_due()

    def _after(self, delay: float, action: Callable[[], None]) -> None:
        self._timers.after(delay, action)

    # --- callers -------------------------------------------------------------------------------

    def _schedule_arrival(self, queue: str, rate: float) -> None:
        def arrive() -> None:
            number, name = self._rng.choice(self.callers)
            locate = self._p.caller_location
            self._brought.add(self._pbx.arrive(queue, number, name, location=locate(number) if locate else None))
            self._schedule_arrival(queue, rate)

        self._after(self._rng.expovariate(rate), arrive)

    def _patience(self) -> float:
        return self._rng.lognormvariate(0, self._p.patience_sigma) * self._p.patience_median

    def _give_up(self, call_id: str) -> None:
        call = self._pbx.calls.get(call_id)
        if call is not None and call.phase in (Phase.WAITING, Phase.RINGING):
            self._pbx.hangup_caller(call_id)

    # --- handlers ------------------------------------------------------------------------------

    def _on_event(self, ev: wire.AmiEvent) -> None:
        if ev.name == "QueueCallerJoin":
            call_id = ev.get("Uniqueid")
            if call_id in self._brought:
                self._brought.discard(call_id)
                self._after(self._patience(), lambda: self._give_up(call_id))
            return
        if ev.name == "OriginateResponse" and ev.get("Response") == "Success":
            # A call-back from a handler's phone: they talk, then hang up, freeing the phone.
            channel = ev.get("Channel")
            if self._pbx.members.interface_of_channel(channel) in self._handlers:
                self._after(self._rng.uniform(*self._p.talk_time), lambda: self._pbx.hangup_channel(channel))
            return
        member = ev.get("Interface")
        if member not in self._handlers:
            return
        if ev.name == "AgentCalled":
            if self._rng.random() >= self._p.ring_no_answer_chance:
                leg = ev.get("DestUniqueid")
                self._after(self._rng.uniform(*self._p.answer_delay), lambda: self._answer(member, leg))
        elif ev.name == "AgentConnect":
            call_id, by_agent = ev.get("Uniqueid"), self._rng.random() < self._p.agent_hangs_up_chance
            self._after(self._rng.uniform(*self._p.talk_time), lambda: self._end(call_id, member, by_agent))
        elif ev.name == "AgentComplete" and self._p.handlers_pause_themselves:
            self._after(0, lambda: self._wrap_up(member))

    def _answer(self, member: str, leg: str) -> None:
        for call in self._pbx.calls.values():
            if call.attempt and call.attempt.member == member and call.attempt.channel.uniqueid == leg:
                self._pbx.answer(member)
                return

    def _end(self, call_id: str, member: str, by_agent: bool) -> None:
        call = self._pbx.calls.get(call_id)
        if call is None or call.phase is not Phase.CONNECTED:
            return
        if by_agent:
            self._pbx.hangup_member(member)
        else:
            self._pbx.hangup_caller(call_id)

    def _wrap_up(self, member: str) -> None:
        self._pbx.members.pause(member, True, reason="wrap-up")
        self._after(self._rng.uniform(*self._p.wrap_up), lambda: self._back(member))

    def _back(self, member: str) -> None:
        if self._rng.random() < self._p.break_chance:
            self._pbx.members.pause(member, True, reason="break")
            self._after(self._rng.uniform(*self._p.break_time), lambda: self._pbx.members.pause(member, False))
        else:
            self._pbx.members.pause(member, False)
