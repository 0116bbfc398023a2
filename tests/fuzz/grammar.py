"""AMI event sequences from the simulator's grammar: the PBX simulator's app_queue, driven by
commands Hypothesis draws, with a clock the test turns by hand.

The simulator emits each call's events in Asterisk 22's recorded order (telephony/simulator/pbx.py
names each sequence), so what it produces here is what a real PBX would send for the same story;
the mutations in :mod:`tests.fuzz.mutate` then spoil it the ways a wire and a PBX can.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from telephony.simulator import AmiEvent
from telephony.simulator.config import DEMO_HANDLERS, SimConfig
from telephony.simulator.errors import SimulatorError
from telephony.simulator.pbx import Pbx

QUEUES = ("emergency", "non-emergency")
MEMBERS = tuple(h.interface for h in DEMO_HANDLERS)
STEP = 0.3  # seconds between two commands
NUMBERS = ("07700900001", "07700900002", "07700900003", "+447700900004", "", "01632960005")


class ScriptedPbx:
    """The simulator's app_queue with a hand-turned clock; its AMI events collect in ``out``."""

    def __init__(self, t0: float) -> None:
        self.t = t0
        config = SimConfig()
        self.pbx = Pbx(config.queues, config.handlers, clock=lambda: self.t, context=config.context,
                       dialplan_delay=config.dialplan_delay, members_at_start=True)
        self.out: list[AmiEvent] = []
        self.pbx.subscribe(lambda event: self.out.append(event))
        self.placed: list[str] = []

    def take(self) -> list[AmiEvent]:
        out, self.out = self.out, []
        return out

    def live_calls(self) -> list[str]:
        return [c for c in self.placed if c in self.pbx.calls]

    def run(self, command: Command) -> None:
        """Apply one command a moment after the last (a 999 caller joins half a second after
        arriving); one the PBX's state does not allow (nobody ringing) does nothing."""
        self.t += STEP
        try:
            command.apply(self)
        except SimulatorError:
            pass
        self.pbx.advance()

    def hang_up_everything(self) -> None:
        """Every caller hangs up, then every handler leg and stray channel goes: the day ends."""
        for call_id in list(self.pbx.calls):
            try:
                self.pbx.hangup_caller(call_id)
            except SimulatorError:
                pass
        self.pbx.advance()
        for name in list(self.pbx.channels):
            try:
                self.pbx.hangup_channel(name)
            except SimulatorError:
                pass
        self.pbx.advance()


@dataclass(frozen=True)
class Command:
    def apply(self, sim: ScriptedPbx) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Arrive(Command):
    queue: str
    number: str

    def apply(self, sim: ScriptedPbx) -> None:
        sim.placed.append(sim.pbx.arrive(self.queue, self.number, "Caller"))


@dataclass(frozen=True)
class Wait(Command):
    seconds: float

    def apply(self, sim: ScriptedPbx) -> None:
        sim.t += self.seconds


@dataclass(frozen=True)
class Answer(Command):
    member: str

    def apply(self, sim: ScriptedPbx) -> None:
        sim.pbx.answer(self.member)


@dataclass(frozen=True)
class Reject(Command):
    member: str

    def apply(self, sim: ScriptedPbx) -> None:
        sim.pbx.reject(self.member)


@dataclass(frozen=True)
class CallerHangsUp(Command):
    index: int

    def apply(self, sim: ScriptedPbx) -> None:
        live = sim.live_calls()
        if live:
            sim.pbx.hangup_caller(live[self.index % len(live)])


@dataclass(frozen=True)
class HandlerHangsUp(Command):
    member: str

    def apply(self, sim: ScriptedPbx) -> None:
        sim.pbx.hangup_member(self.member)


@dataclass(frozen=True)
class Pause(Command):
    member: str
    paused: bool
    reason: str = ""

    def apply(self, sim: ScriptedPbx) -> None:
        sim.pbx.members.pause(self.member, self.paused, None, self.reason)


@dataclass(frozen=True)
class LinkDrop(Command):
    """The AMI link drops (events in flight lost, or not) and comes back with a snapshot, while
    ``during`` happens at the PBX: its events come in the middle of the snapshot's lists, as a
    busy PBX interleaves them. Not a PBX command: the rig carries it out."""

    lost_in_flight: bool = True
    during: Command | None = None

    def apply(self, sim: ScriptedPbx) -> None:
        pass


@dataclass(frozen=True)
class CallBack(Command):
    """A handler works the call-back task offered to them, from the desktop: "Call back now"
    (an Originate to their phone; the simulated phone answers or rejects it) or, with ``outcome``,
    files what came of it. Not a PBX command: the rig carries it out."""

    member: str
    outcome: bool

    def apply(self, sim: ScriptedPbx) -> None:
        pass


member = st.sampled_from(MEMBERS)
arrive = st.builds(Arrive, st.sampled_from(QUEUES), st.sampled_from(NUMBERS))
answer = st.builds(Answer, member)
pbx_commands: st.SearchStrategy[Command] = st.one_of(
    arrive, arrive, arrive,
    st.builds(Wait, st.sampled_from((0.2, 0.6, 1.0, 3.0, 8.0, 16.0, 130.0))),
    answer, answer,
    st.builds(Reject, member),
    st.builds(CallerHangsUp, st.integers(0, 7)),
    st.builds(HandlerHangsUp, member),
    st.builds(Pause, member, st.booleans(), st.sampled_from(("", "wrap-up", "meal break"))),
)
commands = st.one_of(pbx_commands, st.builds(LinkDrop, st.booleans(), st.none() | pbx_commands),
                     st.builds(CallBack, member, st.booleans()))
"""One step of a PBX's day (one in nine a link drop). Arrivals are drawn three times as often as any other step and answers
twice, so that queues form and calls are taken, as in a busy hour."""
