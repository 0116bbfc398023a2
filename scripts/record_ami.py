#!/usr/bin/env python3
"""Record real AMI byte streams from the test PBX, one file per scenario, for replay tests.

    scripts/record_ami.py [SCENARIO ...]      (default: all; needs root for scripts/pbx-up)

For each scenario the PBX is restarted with empty logs (so channel names and queue_log start
from scratch), a raw AMI session logs in with ``Events: on`` and everything it receives -- banner,
action responses, events -- is written verbatim to ``tests/fixtures/ami/<scenario>.ami``;
the PBX's queue_log of the run goes to ``<scenario>.queue_log`` and a readable list of the events
per call to ``<scenario>.events``. Only the AMI secret is sent, and nothing sent is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import structlog

from tests.support.sip import HandlerPhone, SippRun, sipp_dial
from tests.support.testbed.ami import Frame, RawAmi
from tests.support.testbed.pbx import PbxTestbed, pbx_up

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ami"
log = structlog.get_logger("record_ami")

# Events that say nothing about queue calls and only add bulk to the summaries (kept in .ami).
_SUMMARY_NOISE = {"NewCallerid", "NewConnectedLine", "DialState", "MusicOnHoldStart", "MusicOnHoldStop"}


@dataclass
class Run:
    """What a scenario gets: the recording AMI session, the test bed, and helpers."""

    ami: RawAmi
    bed: PbxTestbed
    stack: AsyncExitStack

    async def phone(self, name: str, **behaviour: float | None) -> HandlerPhone:
        phone = HandlerPhone(name, **behaviour)  # type: ignore[arg-type]
        await asyncio.to_thread(phone.start)
        self.stack.callback(phone.stop)
        return phone

    async def add(self, queue: str, member: str, penalty: int = 0, paused: bool = False) -> None:
        fields = {"Queue": queue, "Interface": f"PJSIP/{member}", "MemberName": member, "Penalty": str(penalty)}
        if paused:
            fields["Paused"] = "true"
        await self.expect_success("QueueAdd", **fields)

    async def expect_success(self, action: str, **fields: str) -> Frame:
        response = await self.ami.action(action, fields)
        if response.get("Response") != "Success":
            raise RuntimeError(f"{action} {fields} failed: {response}")
        return response

    def call(self, number: str, **how: float | list[str] | None) -> SippRun:
        run = sipp_dial(number, **how)  # type: ignore[arg-type]
        self.stack.callback(run.stop)
        return run

    async def event(self, name: str, timeout: float = 30, **fields: str) -> Frame:
        return await self.ami.wait_event(name, timeout, 0, fields)

    async def settle(self, run: SippRun | None = None, seconds: float = 1.0) -> None:
        """Let the call finish (SIPp exits) and the last events (Hangup, member status) arrive."""
        if run is not None:
            await asyncio.to_thread(run.wait, 60)
        await asyncio.sleep(seconds)


# --- scenarios: each drives the PBX; the recording is whatever AMI said meanwhile --------------


async def answered(r: Run) -> None:
    await r.phone("handler-1", answer_after=2.0)
    await r.add("emergency", "handler-1")
    call = r.call("999", hangup_after=5.0)
    await r.event("AgentComplete")
    await r.settle(call)


async def abandoned_waiting(r: Run) -> None:
    # Nobody logged in to the 999 queue: the caller waits (joinempty=yes) and gives up after 3 s.
    call = r.call("999", hangup_after=3.0)
    await r.event("QueueCallerAbandon")
    await r.settle(call)


async def _abandoned_while_ringing(r: Run, queue: str, number: str, **leaves: float) -> None:
    """The caller gives up while handler-1's phone rings (``leaves``: how, as sipp_dial takes it)."""
    await r.phone("handler-1", answer_after=None)
    await r.add(queue, "handler-1")
    call = r.call(number, **leaves)
    await r.event("QueueCallerAbandon")
    await r.settle(call)


async def abandoned_ringing(r: Run) -> None:
    # 999 is answered by the PBX at once, so this caller leaves with a BYE while handler-1 rings.
    await _abandoned_while_ringing(r, "emergency", "999", hangup_after=3.0)


async def abandoned_ringing_101(r: Run) -> None:
    # 101 is not answered by the PBX: a true unanswered abandon, SIP CANCEL while handler-1 rings.
    await _abandoned_while_ringing(r, "non-emergency", "101", cancel_after=3.0)


async def ringnoanswer_then_other(r: Run) -> None:
    # rrmemory rings handler-1 (added first), which rings out after the queue's 15 s timeout;
    # the next round starts after it, with handler-2, who answers.
    await r.phone("handler-1", answer_after=None)
    await r.phone("handler-2", answer_after=1.5)
    await r.add("emergency", "handler-1")
    await r.add("emergency", "handler-2")
    call = r.call("999", hangup_after=20.0)
    await r.event("AgentRingNoAnswer", timeout=30)
    await r.event("AgentComplete", timeout=30)
    await r.settle(call)


async def resync(r: Run) -> None:
    # Call A is connected to handler-1; call B waits (ringinuse=no). Then the snapshot actions.
    await r.phone("handler-1", answer_after=1.0)
    await r.add("emergency", "handler-1")
    first = r.call("999", callers=["caller-1"], hangup_after=8.0)
    await r.event("AgentConnect")
    second = r.call("999", callers=["caller-2"], hangup_after=4.0)
    await r.event("QueueCallerJoin", Count="1")
    await asyncio.sleep(1.0)
    await r.expect_success("QueueStatus")
    await r.event("QueueStatusComplete")
    await r.expect_success("CoreShowChannels")
    await r.event("CoreShowChannelsComplete")
    await r.settle(second, 0)
    await r.settle(first)


async def both_lines(r: Run) -> None:
    # handler-1 is in both queues but paused; a 101 call then a 999 call wait; on unpause the
    # 999 caller is connected first (weight). The 101 caller cancels while then ringing.
    await r.phone("handler-1", answer_after=1.0, answer_limit=1)
    await r.add("emergency", "handler-1", paused=True)
    await r.add("non-emergency", "handler-1", paused=True)
    line_101 = r.call("101", callers=["caller-2"], cancel_after=7.0)
    await r.event("QueueCallerJoin", Queue="non-emergency")
    await asyncio.sleep(1.0)
    line_999 = r.call("999", callers=["caller-1"], hangup_after=4.0)
    await r.event("QueueCallerJoin", Queue="emergency")
    await asyncio.sleep(0.5)
    await r.expect_success("QueuePause", Interface="PJSIP/handler-1", Paused="false")
    await r.event("AgentConnect", Queue="emergency")
    await r.settle(line_999, 0)
    await r.settle(line_101)


async def handler_hangs_up(r: Run) -> None:
    # The handler ends the call (a BYE from the phone): AgentComplete Reason=agent.
    await r.phone("handler-1", answer_after=1.0, talk_for=2.0)
    await r.add("emergency", "handler-1")
    call = r.call("999", hangup_after=30.0)  # SIPp gets the BYE during its pause and fails: fine
    await r.event("AgentComplete")
    await r.settle(None, 1.5)
    call.stop()


async def originate_local(r: Run) -> None:
    # A queue call with no SIP caller: Originate Local/999@intake-test; its ;1 half runs Wait(6)
    # and hangs up, which ends the ;2 half in the queue (answered by handler-1 meanwhile).
    await r.phone("handler-1", answer_after=1.0)
    await r.add("emergency", "handler-1")
    await r.expect_success("Originate", Channel="Local/999@intake-test", Application="Wait", Data="6", Async="true",
                           CallerID='"Originated" <07700900099>')  # fmt: skip
    await r.event("AgentComplete")
    await r.settle(None, 1.0)


async def member_states(r: Run) -> None:
    await r.phone("handler-1", answer_after=None)
    steps: list[tuple[str, dict[str, str]]] = [
        ("QueueAdd", {"Queue": "emergency", "Interface": "PJSIP/handler-1", "MemberName": "handler-1", "Penalty": "0"}),
        ("QueuePause", {"Queue": "emergency", "Interface": "PJSIP/handler-1", "Paused": "true", "Reason": "wrap-up"}),
        ("QueuePause", {"Queue": "emergency", "Interface": "PJSIP/handler-1", "Paused": "false"}),
        ("QueuePenalty", {"Queue": "emergency", "Interface": "PJSIP/handler-1", "Penalty": "2"}),
        ("QueueRemove", {"Queue": "emergency", "Interface": "PJSIP/handler-1"}),
    ]
    for action, fields in steps:
        await r.expect_success(action, **fields)
        await asyncio.sleep(0.3)


SCENARIOS: dict[str, Callable[[Run], Awaitable[None]]] = {
    f.__name__: f
    for f in (answered, abandoned_waiting, abandoned_ringing, abandoned_ringing_101,
              ringnoanswer_then_other, resync, both_lines, member_states, handler_hangs_up, originate_local)
}  # fmt: skip


# --- recording -------------------------------------------------------------------------------


def summarise(frames: list[Frame]) -> str:
    """Event names per call (grouped by Linkedid), then the events that belong to no call."""
    calls: dict[str, list[str]] = {}
    other: list[str] = []
    for f in frames:
        name = f.get("Event")
        if name is None or name in _SUMMARY_NOISE:
            continue
        label = name
        if f.get("Channel"):
            label += f" [{f['Channel']}]"
        elif f.get("Interface"):
            label += f" [{f['Interface']}]"
        linked = f.get("Linkedid") or f.get("DestLinkedid")
        if linked and linked != "":
            calls.setdefault(linked, []).append(label)
        else:
            other.append(label)
    lines = []
    for linked, events in calls.items():
        lines.append(f"call {linked}:")
        lines.extend(f"  {e}" for e in events)
    lines.append("not tied to a call:")
    lines.extend(f"  {e}" for e in other)
    return "\n".join(lines) + "\n"


async def record(name: str) -> None:
    bed, _ = await asyncio.to_thread(pbx_up, fresh_logs=True, restart=True)
    started = time.monotonic()
    ami = await RawAmi.connect(bed.ami_host, bed.ami_port)
    await ami.login(bed.driver_user, bed.ami_secret)  # the same events as intake's user, and Hangup
    await ami.wait_event("FullyBooted", 5)
    async with AsyncExitStack() as stack:
        await SCENARIOS[name](Run(ami, bed, stack))
    await ami.close()
    if bed.ami_secret.encode() in ami.recorded:
        raise RuntimeError("the AMI secret appears in the recording: not writing it")
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / f"{name}.ami").write_bytes(bytes(ami.recorded))
    (FIXTURES / f"{name}.queue_log").write_bytes(bed.queue_log.read_bytes())
    (FIXTURES / f"{name}.events").write_text(summarise(ami.frames))
    log.info("recorded", scenario=name, bytes=len(ami.recorded), frames=len(ami.frames),
             seconds=round(time.monotonic() - started, 1))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS))
    names = parser.parse_args().scenarios or list(SCENARIOS)
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    failed = []
    for name in names:
        try:
            asyncio.run(record(name))
        except Exception:  # one broken scenario must not cost the others their recordings
            log.exception("scenario.failed", scenario=name)
            failed.append(name)
    if failed:
        log.error("scenarios.failed", scenarios=failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
