"""Property-based fuzzing of the whole server path (issue 11).

A day at the simulated PBX, drawn by Hypothesis from the simulator's grammar (callers arrive,
phones ring, answer, reject, callers and handlers hang up, handlers pause, the AMI link drops
and comes back), goes as bytes through the AMI session's reader into the server and every one
of its consumers. A clean day must match the PBX's own queue_log; a spoiled one (events lost,
duplicated, reordered, absurd values, garbage, arbitrary reads) must still never stop the
server, settle every call at most once and leave nothing behind once the day is over.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import structlog
from hypothesis import event, given
from hypothesis import strategies as st
from structlog.testing import capture_logs as _capture_logs

from routing.errors import CallbackError
from screenpop.models import CallbackOutcome
from telephony.frames import TERMINATOR, encode_frame, parse_frame
from telephony.simulator import AmiEvent
from tests.fuzz import mutate
from tests.fuzz.grammar import CallBack, Command, LinkDrop, ScriptedPbx, Wait, commands
from tests.fuzz.rig import Rig

CLEAN = {"keep": 1}
SPOILED = {"keep": 20, "drop": 1, "duplicate": 1, "swap": 1, "absurd": 1}
STEPS = int(os.environ.get("INTAKE_FUZZ_STEPS", "60"))  # at most, per day; a long day by hand: 1000
RECORDINGS = sorted((Path(__file__).parent.parent / "fixtures" / "ami").glob("*.ami"))


class Day:
    """One example: the simulated PBX, the rig, and how the wire spoils what goes between them."""

    def __init__(self, data: st.DataObject, weights: dict[str, int], garbage: bool) -> None:
        self.data, self.weights, self.garbage = data, weights, garbage
        self.sim = ScriptedPbx(time.time() - 3600)
        self.rig = Rig(self.sim.pbx)
        # One seed drawn, not a HypothesisRandom: its every call would be a draw, some of them
        # from the responder's callbacks, and a day has thousands of frames.
        self.rng = random.Random(data.draw(st.integers(0, 2**32 - 1), label="wire seed"))
        if weights is not CLEAN:
            self.rig.responder.refuse = lambda: self.rng.random() < 0.1  # a PBX that says no now and then

    async def deliver(self, events: list[AmiEvent], *, clean: bool = False) -> None:
        frames = [e.frame_fields() for e in events]
        await self.feed(frames, clean=clean)

    async def feed(self, frames: list[list[tuple[str, str]]], *, clean: bool = False) -> None:
        if not clean:
            frames = mutate.spoiled(self.rng, frames, self.sim.t, self.weights)
        data = mutate.wire_bytes(self.rng, frames, self.garbage and not clean)
        for read in mutate.reads(self.rng, data):
            self.rig.feed(read)
        await self.rig.settle()

    async def run(self, steps: int = STEPS) -> None:
        for command in self.data.draw(st.lists(commands, min_size=steps // 2, max_size=steps), label="day"):
            if isinstance(command, LinkDrop):
                if not command.lost_in_flight or self.weights is CLEAN:  # a clean wire loses nothing
                    await self.deliver(self.sim.take())
                self.sim.take()
                await self.rig.drop()
                if command.during is not None:
                    self.rig.responder.during = (self.rng.random() < 0.5, partial(self.meanwhile, command.during))
                await self.rig.connect()
                await self.rig.settle()
                check_follows_the_pbx(self.rig, self.sim)
            elif isinstance(command, CallBack):
                await self.call_back(command)
            else:
                self.sim.run(command)
                await self.deliver(self.sim.take())
            self.rig.tick(self.rig.session.pbx_now())
            self.rig.render()
            self.rig.check_figures()

    async def call_back(self, command: CallBack) -> None:
        handler_id = next(h.id for h in self.rig.config.handlers if h.member == command.member)
        desk = self.rig.server.callbacks
        task = next((t for t in desk.tasks.values() if t.offered_to == handler_id), None)
        if task is None:
            return
        try:
            if command.outcome:
                desk.record_outcome(handler_id, task.id, CallbackOutcome(contact="reached", grading="resolved"))
            else:
                await desk.start(handler_id, task.id)
        except CallbackError:
            return  # refused with a reason, as the desktop would show it
        await self.rig.settle()
        self.sim.run(Wait(0.0))  # the Originate's events (the simulated phone answers at once, or is busy)
        await self.deliver(self.sim.take())

    def meanwhile(self, command: Command) -> bytes:
        """``command`` at the PBX while the snapshot is being sent: its events, as bytes (never
        spoiled: what is lost in a snapshot is the next one's business)."""
        self.sim.run(command)
        return b"".join(encode_frame(e.frame_fields()) for e in self.sim.take())

    async def end(self) -> None:
        """The day ends: everyone hangs up, the link comes back once more (the PBX's picture
        settles whatever was lost), and the grace passes."""
        self.sim.hang_up_everything()
        await self.deliver(self.sim.take(), clean=True)
        await self.rig.drop()
        await self.rig.connect()
        await self.rig.settle()
        self.rig.tick(self.rig.session.pbx_now() + self.rig.registry.settle_grace + 1)
        await self.rig.settle()
        event(f"calls settled: {min(len(self.rig.finished), 20) // 5 * 5}+")
        event(f"actions sent: {', '.join(sorted(self.rig.responder.actions))}")
        event(f"call-backs: {len(self.rig.server.callbacks.tasks)} left open")


def capture_logs() -> Any:
    """The logs of the example, with each exception's traceback as text (to say what raised)."""
    return _capture_logs(processors=[structlog.processors.format_exc_info])


def check_follows_the_pbx(rig: Rig, sim: ScriptedPbx) -> None:
    """Right after a resync, whatever was lost before it: intake follows no call, ring or channel
    the PBX does not have. So nothing grows over a long day, however many events go missing."""
    live_calls = set(sim.pbx.calls)
    live_channels = {c.uniqueid for c in sim.pbx.channels.values()}
    registry = rig.registry
    assert set(registry.calls) <= live_calls, (set(registry.calls) - live_calls)
    assert set(registry._arrivals) <= live_channels
    members = {m for q in sim.pbx.members.queues.values() for m in q.members} | {h.member for h in rig.config.handlers}
    assert set(registry.handlers) <= members, [registry.handlers[m] for m in set(registry.handlers) - members]
    for h in registry.handlers.values():
        assert h.ringing_for <= set(registry.calls), (h.member, h.ringing_for)
        assert h.on_call is None or h.on_call in registry.calls, (h.member, h.on_call)


def check_nothing_raised(rig: Rig, logs: list[dict[str, Any]]) -> None:
    raised = [f"{e.get('domain_event')}: {e.get('exception')}" for e in logs if e["event"] == "on_event raised"]
    assert rig.session.counters.callback_errors == 0, "\n".join(raised[:1])
    errors = [e for e in logs if e.get("log_level") in ("error", "critical") or e.get("exception")]
    assert errors == [], "\n".join(f"{e['event']}: {e.get('exception', e)}" for e in errors[:3])


async def check_day_over(rig: Rig) -> None:
    """Once every channel has hung up: no call, ring, action, pop or record is left over."""
    registry = rig.registry
    assert registry.calls == {}
    assert dict(registry._arrivals) == {}
    for h in registry.handlers.values():
        assert (h.member, h.ringing_for, h.on_call) == (h.member, set(), None)
    assert rig.session.pending_actions == 0
    assert rig.server.pops._pending == {}
    assert len(rig.server.pops.unrecorded) == 0
    assert len(rig.server.writes) == 0
    assert (rig.server.writes.dropped, await rig.redis.lrange(rig.server.writes.dead_letters, 0, 2)) == (0, [])
    for handler_id, stream in rig.server.hub._streams.items():
        # A call-back offer stays until someone files its outcome: that is not a call left over.
        assert [k for k in stream.active if not k.startswith("callback:")] == [], handler_id
    finished = rig.finished
    assert [c for c, n in finished.items() if n > 1] == []
    journal = await rig.journal()
    assert [c for c, n in journal.items() if n > 1] == []


def play(data: st.DataObject, weights: dict[str, int], *, garbage: bool,
         story: Callable[[Day], Awaitable[None]] | None = None, then: Callable[[Day], None] | None = None) -> None:
    """One example: the day's ``story`` (by default a day drawn from the simulator's grammar),
    its end, and every check; ``then`` adds the example's own."""
    async def day() -> None:
        d = Day(data, weights, garbage=garbage)
        with capture_logs() as logs:
            try:
                await d.rig.connect()
                await (story or Day.run)(d)
                await d.end()
                check_nothing_raised(d.rig, logs)
                await check_day_over(d.rig)
                if then is not None:
                    then(d)
            finally:
                await d.rig.close()

    asyncio.run(day())


def matches_queue_log(d: Day) -> None:
    for queue, q in d.rig.registry.report()["queues"].items():
        lines = [line for line in d.sim.pbx.queue_log.lines if line.queue == queue]
        entered = sum(1 for line in lines if line.event == "ENTERQUEUE")
        answered = sum(1 for line in lines if line.event == "CONNECT")
        abandoned = sum(1 for line in lines if line.event == "ABANDON")
        assert (q["offered"], q["answered"], q["abandoned"]) == (entered, answered, abandoned), queue


@given(st.data())
def test_a_clean_day_read_in_arbitrary_pieces_matches_the_pbxs_queue_log(data: st.DataObject) -> None:
    play(data, CLEAN, garbage=False, then=matches_queue_log)


@given(st.data())
def test_a_spoiled_day_never_stops_the_server_and_settles_each_call_at_most_once(data: st.DataObject) -> None:
    play(data, SPOILED, garbage=True)


def recorded_frames(path: Path) -> list[list[tuple[str, str]]]:
    """A recording's frames after its banner, as field lists (its own action answers included:
    to this session they answer nothing it asked)."""
    raw = path.read_bytes()
    raw = raw[raw.index(b"\n") + 1:]
    return [list(parse_frame(block).items()) for block in raw.split(TERMINATOR) if block]


@given(st.data(), st.sampled_from(RECORDINGS))
def test_a_real_asterisks_recording_spoiled_never_stops_the_server(data: st.DataObject, recording: Path) -> None:
    async def story(d: Day) -> None:
        await d.feed(recorded_frames(recording))
        d.rig.tick(d.rig.session.pbx_now())
        d.rig.render()
        d.rig.check_figures()

    play(data, SPOILED, garbage=True, story=story)  # the simulator's PBX is empty: every call of it ends
