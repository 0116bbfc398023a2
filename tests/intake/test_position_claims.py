"""A position claim expires: a handler signed in at a position who never signs out holds it for
``[desktop] position_claim_max_seconds``, then whichever node sweeps first (exactly one) takes
their phone out of their queues at the PBX (QueueRemove), frees the position and records it in
the audit trail; a PBX that cannot be reached keeps the claim until it answers. The clock is the
store's own (driven here), so nothing waits for time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from intake.app.audit import AuditTrail
from intake.app.audit_store import AuditStore
from intake.app.position_claims import Expired, PositionClaims
from intake.app.positions import Positions, PositionStore
from intake.core import config
from intake.core.errors import ConfigError
from intake.core.handlers import Handler
from routing.handler_desk import HandlerDesk
from telephony.errors import NotConnected
from tests.intake.test_config_positions import edit
from tests.intake.test_handler_actions import FakePbx, wire
from tests.intake.test_positions_desk import CONFIG
from tests.intake.timeline import member
from tests.waiting import eventually

LIMIT = 3600.0
PHONE = "PJSIP/desk-1"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Node:
    """One node's positions and claims on the shared Redis, the PBX (``pbx``) and the phone."""

    def __init__(self, redis: aioredis.Redis, pbx: FakePbx, clock: Clock, name: str) -> None:
        self.pbx = pbx
        desks = {site: HandlerDesk(CONFIG.site_config(site), pbx, lambda m: pbx.handler if m == PHONE else None)
                 for site in ("north", "south")}
        self.store = PositionStore(redis, "test:", clock=clock)
        self.positions = Positions(CONFIG, self.store, lambda h: desks[CONFIG.site_of_handler(h)],
                                   CONFIG.site_of_handler, lambda _site, _member: None)
        self.audit = AuditTrail(redis, "test:", node=name, clock=clock)
        self.claims = PositionClaims(self.positions, LIMIT, self.audit)
        self.positions.taken = self.claims.taken


async def expired_entries(redis: aioredis.Redis, *nodes: Node) -> list[tuple[str, str, str, str, str]]:
    for node in nodes:
        await node.audit.flush()
    return [(e.action.value, e.kind.value, e.role, e.record, e.why) async for link in AuditStore(redis, "test:").entries()
            for e in [link.entry]]


def signed_in_phone() -> Handler:
    phone = Handler(PHONE, PHONE)
    phone.memberships["emergency"] = member(0, "emergency", PHONE)  # as the PBX shows it after the QueueAdd
    return phone


async def test_a_claim_past_its_limit_is_expired_by_exactly_one_of_two_nodes(redis_client: aioredis.Redis) -> None:
    clock, phone = Clock(), Handler(PHONE, PHONE)
    one, two = (Node(redis_client, FakePbx(phone), clock, name) for name in ("n1", "n2"))
    await one.positions.sign_in("n2", "desk-n1")
    phone.memberships["emergency"] = member(0, "emergency", PHONE)
    taken_at = clock.now

    clock.now += LIMIT - 1
    assert await asyncio.gather(one.claims.sweep(), two.claims.sweep()) == [[], []]
    assert await one.store.seat_of("n2") == "desk-n1"

    clock.now += 1
    swept = await asyncio.gather(one.claims.sweep(), two.claims.sweep())
    assert sorted(swept, key=len) == [[], [Expired("desk-n1", "n2", taken_at)]]
    removes = [a for node in (one, two) for a in wire(node.pbx.sent) if a[0] == "QueueRemove"]
    assert removes == [("QueueRemove", {"Queue": "emergency", "Interface": PHONE})]
    assert (await one.store.seat_of("n2"), await one.store.holders(["desk-n1"])) == (None, {"desk-n1": None})
    assert await expired_entries(redis_client, one, two) == [
        ("expired", "position", "system", "desk-n1", f"position claim older than {LIMIT:g} s: handler n2 signed out")]
    assert await asyncio.gather(one.claims.sweep(), two.claims.sweep()) == [[], []]  # nothing left to expire

    # Free again: someone else takes it, and their claim dates from then.
    await two.positions.sign_in("n2", "desk-n1")
    clock.now += LIMIT - 1
    assert await one.claims.sweep() == []


async def test_signing_in_again_at_the_position_one_holds_does_not_extend_the_claim(redis_client: aioredis.Redis) -> None:
    clock = Clock()
    node = Node(redis_client, FakePbx(signed_in_phone()), clock, "n1")
    await node.positions.sign_in("n2", "desk-n1")
    clock.now += LIMIT - 10
    await node.positions.sign_in("n2", "desk-n1")  # the desktop signs in again at the same desk
    clock.now += 10
    assert [e.position for e in await node.claims.sweep()] == ["desk-n1"]


async def test_signing_out_in_time_leaves_nothing_to_expire(redis_client: aioredis.Redis) -> None:
    clock = Clock()
    node = Node(redis_client, FakePbx(signed_in_phone()), clock, "n1")
    await node.positions.sign_in("n2", "desk-n1")
    assert await node.positions.leave("n2") == ("desk-n1", 1)
    clock.now += 2 * LIMIT
    assert await node.claims.sweep() == [] and await expired_entries(redis_client, node) == []


async def test_a_pbx_that_cannot_be_reached_keeps_the_claim_until_it_answers(redis_client: aioredis.Redis) -> None:
    clock, phone = Clock(), signed_in_phone()
    node = Node(redis_client, FakePbx(phone), clock, "n1")
    await node.positions.sign_in("n2", "desk-n1")
    clock.now += LIMIT
    down = Node(redis_client, FakePbx(phone, refuse=NotConnected("QueueRemove")), clock, "n2")
    assert await down.claims.sweep() == []
    assert await node.store.seat_of("n2") == "desk-n1"  # its phone would still ring for n2
    assert [e.position for e in await node.claims.sweep()] == ["desk-n1"]
    assert await node.store.seat_of("n2") is None


async def test_a_claim_held_from_before_claims_were_dated_is_dated_by_the_first_sweep(redis_client: aioredis.Redis) -> None:
    clock = Clock()
    node = Node(redis_client, FakePbx(signed_in_phone()), clock, "n1")
    await redis_client.set("test:position:desk-n1", "n2")  # as an older intake left it
    await redis_client.set("test:seat:n2", "desk-n1")
    assert await node.claims.sweep() == []
    clock.now += LIMIT
    assert [(e.position, e.holder) for e in await node.claims.sweep()] == [("desk-n1", "n2")]


async def test_the_servers_sweep_wakes_when_a_claim_is_due(redis_client: aioredis.Redis) -> None:
    clock = Clock()
    node = Node(redis_client, FakePbx(signed_in_phone()), clock, "n1")
    sweeping = asyncio.create_task(node.claims.forever())
    try:
        await node.positions.sign_in("n2", "desk-n1")
        clock.now += LIMIT
        node.claims.taken()  # as a claim taken on this node wakes it (here: to see the clock moved)
        await eventually(lambda: any(a[0] == "QueueRemove" for a in wire(node.pbx.sent)), 10, "the QueueRemove")
        assert await node.store.seat_of("n2") is None
    finally:
        sweeping.cancel()
        await asyncio.gather(sweeping, return_exceptions=True)


@pytest.mark.parametrize("seconds", [0, 0.5, 7 * 86_400 + 1])
def test_a_claim_limit_out_of_bounds_is_a_config_error_naming_the_key(seconds: float) -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["desktop"] = {"position_claim_max_seconds": seconds}

    with pytest.raises(ConfigError) as caught:
        config.parse(edit(change))
    [problem] = [p for p in caught.value.problems if p.path == "desktop.position_claim_max_seconds"]
    assert problem.message.startswith("must be from 1 s to 7 days (604800 s)"), problem.message


def test_the_claim_limit_is_twelve_hours_unless_set() -> None:
    assert CONFIG.desktop.position_claim_max_seconds == 12 * 3600
    assert config.parse(edit(lambda r: r.update(desktop={"position_claim_max_seconds": 1}))).desktop.position_claim_max_seconds == 1
