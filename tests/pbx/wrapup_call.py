"""One 999 call to h1 with intake steering its wrap-up, on the real PBX: the setup the wrap-up
tests share (test_not_ready_after_call, test_e2e_durable)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tests.pbx.harness import IntakeProcess, ready, wait_until, write_config
from tests.support.sip import HandlerPhone, SippRun, sipp_dial
from tests.support.testbed.ami import RawAmi

MEMBER = "PJSIP/handler-1"
QUEUES = ("emergency", "non-emergency")


@dataclass(frozen=True, slots=True)
class WrapUpCall:
    run: SippRun  # the caller (sipp), hanging up ``hangup_after`` seconds after the PBX answered it
    mark: int  # where the AMI frames of this call begin in ``ami.frames``


@contextlib.asynccontextmanager
async def a_999_call_into_wrapup(intake: IntakeProcess, pbx: object, ami: RawAmi, redis_url: str, *,
                                 wrapup_seconds: float, hangup_after: float) -> AsyncIterator[WrapUpCall]:
    """intake started with a ``wrapup_seconds`` wrap-up after each call, h1's phone answering
    after a second, h1 ready; then a 999 call dialled, which rings h1. The phone and the caller
    are put away after."""
    write_config(intake.config, pbx, redis_url, intake.http_port, wrapup_seconds=wrapup_seconds)
    intake.start()
    phone = HandlerPhone("handler-1", answer_after=1.0)
    await asyncio.to_thread(phone.start)
    run = None
    try:
        intake.set_state("h1", "ready")
        await wait_until(lambda: ready(intake, MEMBER), 5, "h1 ready")
        mark = len(ami.frames)
        run = sipp_dial("999", callers=["caller-1"], hangup_after=hangup_after)  # from the PBX answering the caller
        yield WrapUpCall(run, mark)
        assert await asyncio.to_thread(run.wait, 20) == 0, run.output()
    finally:
        if run is not None:
            run.stop()
        await asyncio.to_thread(phone.stop)
