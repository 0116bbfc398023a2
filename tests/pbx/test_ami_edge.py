"""The AMI edge believes a real Asterisk 22: a whole answered 999 call passes the Timestamp gate
(within the shipped 300 s of our clock) and the bounds on every number, so nothing of a real call
is replaced by an estimate, refused as malformed or dropped as blank. Needs scripts/pbx-up."""

from __future__ import annotations

import asyncio
import time

import pytest

from telephony.events import (
    CallAnswered,
    CallCompleted,
    CallQueued,
    DomainEvent,
    HandlerRang,
    SnapshotCompleted,
)
from telephony.session import AmiSession
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.support.testbed.pbx import PbxTestbed
from tests.waiting import eventually

pytestmark = pytest.mark.pbx


async def test_a_real_answered_call_passes_the_edge_checks_untouched(pbx: PbxTestbed, ami: RawAmi) -> None:
    events: list[DomainEvent] = []
    session = AmiSession(pbx.ami_host, pbx.ami_port, pbx.ami_user, pbx.ami_secret, on_event=events.append)
    phone = HandlerPhone("handler-1", answer_after=1.0)
    call = None
    session.start()
    try:
        await eventually(lambda: any(isinstance(e, SnapshotCompleted) for e in events), 10, "the first snapshot")
        await asyncio.to_thread(phone.start)
        added = await ami.action("QueueAdd", Queue="emergency", Interface="PJSIP/handler-1", MemberName="handler-1")
        assert added["Response"] == "Success", added
        call = sipp_dial("999", hangup_after=2.0)
        await eventually(lambda: any(isinstance(e, CallCompleted) for e in events), 20, "the call completed")
        assert await asyncio.to_thread(call.wait, 15) == 0, call.output()
    finally:
        if call is not None:
            call.stop()
        await asyncio.to_thread(phone.stop)
        await session.stop()
    story = [e for e in events if isinstance(e, CallQueued | HandlerRang | CallAnswered | CallCompleted)]
    assert [type(e) for e in story] == [CallQueued, HandlerRang, CallAnswered, CallCompleted]
    assert all(abs(e.at - time.time()) < 60 for e in story)  # the PBX's own times, on our clock
    counters = session.counters
    assert (counters.bad_timestamps, counters.malformed_frames, counters.blank_frames, counters.garbled_frames,
            counters.bad_lines) == (0, 0, 0, 0, 0), counters
    assert counters.events > len(story)
