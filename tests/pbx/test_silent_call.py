"""The dialplan's silent-call marker reaches AMI on QueueCallerJoin (manager.conf channelvars). ~4 s."""

from __future__ import annotations

import pytest

from telephony.translate import translate
from tests.support.sip import sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.support.testbed.pbx import PbxTestbed

pytestmark = pytest.mark.pbx


async def test_a_silent_999_call_is_marked_on_queue_join_and_an_ordinary_one_is_not(pbx: PbxTestbed, ami: RawAmi) -> None:
    start = len(ami.frames)
    silent = sipp_dial("99955", callers=["caller-4"], hangup_after=1.0)
    try:
        joined = await ami.wait_event("QueueCallerJoin", 10, start, Queue="emergency")
    finally:
        silent.stop()
    assert joined.get("ChanVariable") == "INTAKE_SILENT=1"  # as Asterisk 22 writes it
    assert translate(joined, 0.0).silent  # type: ignore[union-attr]
    start = len(ami.frames)
    ordinary = sipp_dial("999", callers=["caller-5"], hangup_after=1.0)
    try:
        joined = await ami.wait_event("QueueCallerJoin", 10, start, Queue="emergency")
    finally:
        ordinary.stop()
    assert not translate(joined, 0.0).silent  # type: ignore[union-attr]
