"""A handler signs in through the real OpenID provider's own login page in chromium and takes a
999 call on the real PBX: Asterisk 22 (scripts/pbx-up), `intake serve` in its own process with
``[oidc]`` naming the provider (tests/support/oidc.py), a pyVoIP phone for handler-1 and a SIPp
caller. The pop is on the signed-in desktop while the phone rings; sign-out brings the sign-in back.

Chromium, the provider or the PBX missing is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.pbx.harness import (
    IntakeProcess,
    desk_state,
    member_shows,
    provider_sign_in,
    put_away,
    ringing_pop,
    signing_in_at,
    write_config,
)
from tests.support.oidc import oidc_provider, sign_out_at_provider_page
from tests.support.sip import HandlerPhone, sipp_dial
from tests.support.testbed.ami import RawAmi
from tests.waiting import patience_ms

pytestmark = [pytest.mark.pbx, pytest.mark.browser]

MEMBER = "PJSIP/handler-1"
NUMBER = "07700900006"


async def test_a_handler_signed_in_at_the_provider_gets_the_pop_of_a_999_call_on_the_real_pbx(
        intake: IntakeProcess, pbx: Any, ami: RawAmi, e2e_redis: str, browser: Any) -> None:
    with oidc_provider([f"{intake.base}/auth/callback"]) as provider:
        write_config(intake.config, pbx, e2e_redis, intake.http_port)
        signing_in_at(intake, provider)
        intake.start()
        phone = HandlerPhone("handler-1", answer_after=3.0)
        await asyncio.to_thread(phone.start)
        context = await browser.new_context(viewport={"width": 1280, "height": 1000})
        desk = await context.new_page()
        caller = None
        try:
            await desk.goto(intake.base + "/desktop")
            await provider_sign_in(desk, provider, "h1", intake.base + "/desktop")
            await desk.wait_for_selector("#connection.up", timeout=patience_ms(10000))
            await desk_state(desk, "logged-out", timeout=patience_ms(5000))

            await desk.click("#btn-ready")  # by the session: QueueAdd on h1's queues, the PBX shows it
            await member_shows(ami, MEMBER, ("emergency", "non-emergency"), "0")
            await desk_state(desk, "ready", timeout=patience_ms(5000))

            caller = sipp_dial("999", callers=["caller-6"], hangup_after=8.0)
            ringing = await ringing_pop(desk)
            assert not any(c.answered_at for c in phone.calls), "the pop must be on screen before the phone is answered"
            assert (ringing["number"], ringing["line"]) == (NUMBER, "999")
            await desk.screenshot(path=str(ARTIFACTS / "sign-in-pbx-pop.png"))
            await asyncio.to_thread(phone.wait_answered, 10)
            await desk_state(desk, "on-call", timeout=patience_ms(10000))

            await desk.click("#sign-out")
            await sign_out_at_provider_page(desk, provider.issuer)  # the provider's session ends too
            await desk.wait_for_selector("#signin:not(.hidden)", timeout=patience_ms(10000))
        finally:
            if caller is not None:
                caller.stop()
            await put_away(phone, context)
