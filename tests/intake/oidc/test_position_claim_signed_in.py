"""A handler signed in through the provider sits at a position and never signs out: once the claim
is older than ``[desktop] position_claim_max_seconds`` (the sweep's clock moved on, nothing waits
for it), intake takes the position's phone out of their queues at the PBX, frees the position and
records it in the audit trail; their sign-in itself lasts."""

from __future__ import annotations

import time
from typing import Any

import pytest

from intake.app.audit_store import AuditStore
from intake.core.config import IntakeConfig, PositionConfig
from tests.intake.oidc.conftest import signed_server
from tests.intake.oidc.test_sign_in import sign_in, with_session
from tests.support.oidc import OidcProvider
from tests.waiting import eventually

PHONE = "PJSIP/handler-2"
LIMIT = 3600.0


def hot_desking(config: IntakeConfig) -> IntakeConfig:
    """h2 without a phone of their own; one position, desk-2, whose phone is handler-2's."""
    handlers = [h.model_copy(update={"member": None}) if h.id == "h2" else h for h in config.handlers]
    return config.model_copy(update={"handlers": handlers, "positions": [PositionConfig(id="desk-2", member=PHONE)],
                                     "desktop": config.desktop.model_copy(update={"position_claim_max_seconds": LIMIT})})


async def test_a_signed_in_handlers_claim_expires_and_their_phone_leaves_the_queues(
        provider: OidcProvider, intake_port: int, redis_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async with signed_server(provider, intake_port, redis_client, monkeypatch, edit=hot_desking) as signed:
        session, _ = await sign_in(signed, "h2")
        r = await signed.http.post("/api/me/position", json={"position": "desk-2"}, headers=with_session(session))
        assert r.status_code == 200, r.text
        members = signed.sim.pbx.members
        await eventually(lambda: members.queues_of(PHONE) and members.name_of(PHONE) == "h2", 10, "desk-2's phone in h2's queues")
        assert (await signed.http.get("/api/me/positions", headers=with_session(session))).json()["mine"] == "desk-2"

        claims = signed.server.position_claims
        later = time.time() + LIMIT
        claims.clock = lambda: later
        claims.taken()  # wakes the sweep (as a claim taken on this node does) to read the clock moved on
        await eventually(lambda: not members.queues_of(PHONE), 10, "desk-2's phone out of h2's queues")
        mine = (await signed.http.get("/api/me/positions", headers=with_session(session))).json()
        assert mine["mine"] is None and [p["holder"] for p in mine["positions"]] == [None]

        await signed.server.audit.flush()
        expired = [link.entry async for link in AuditStore(redis_client, "intake:").entries()
                   if link.entry.action.value == "expired"]
        assert [(e.kind.value, e.record, e.role, e.why) for e in expired] == [
            ("position", "desk-2", "system", f"position claim older than {LIMIT:g} s: handler h2 signed out")]
