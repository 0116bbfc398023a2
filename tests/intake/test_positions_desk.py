"""Signing in at a position and leaving it (intake.app.positions.Positions) with a real Redis: the
site's positions only; the PBX's own picture refuses a seat Redis lost; a PBX that refuses the
QueueAdd leaves the position free; one that cannot be reached at leaving keeps it theirs."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from intake.app.positions import Positions, PositionStore
from intake.core import config
from intake.core.errors import PositionTaken, StateChangeFailed, UnknownPosition
from intake.core.handlers import Handler
from routing.handler_desk import HandlerDesk
from telephony.errors import ActionFailed, NotConnected
from tests.intake.test_config_positions import hot_desking
from tests.intake.test_handler_actions import FakePbx, wire
from tests.intake.timeline import member

CONFIG = config.parse(hot_desking())  # n2 at north, s2 at south; desk-n1 north, desk-s1 south


def positions(redis: aioredis.Redis, pbx: FakePbx, sitting: dict[str, str] | None = None) -> Positions:
    """``pbx`` reflects pauses into its handler, which is also the desks' picture of that phone."""
    seen = pbx.handler
    desks = {site: HandlerDesk(CONFIG.site_config(site), pbx, lambda m: seen if m == seen.member else None)
             for site in ("north", "south")}
    return Positions(CONFIG, PositionStore(redis, "test:"), lambda h: desks[CONFIG.site_of_handler(h)],
                     CONFIG.site_of_handler, lambda site, member: (sitting or {}).get(member))


def pbx(refuse: Exception | None = None) -> FakePbx:
    return FakePbx(Handler("PJSIP/desk-1", "PJSIP/desk-1"), refuse=refuse)


async def test_a_position_of_another_site_is_unknown_to_the_handler(redis_client: aioredis.Redis) -> None:
    phone = pbx()
    with pytest.raises(UnknownPosition) as caught:
        await positions(redis_client, phone).sign_in("n2", "desk-s1")
    assert (caught.value.position, caught.value.site) == ("desk-s1", "north")
    assert phone.sent == [] and await PositionStore(redis_client, "test:").holders(["desk-s1"]) == {"desk-s1": None}


async def test_a_position_the_pbx_shows_someone_at_is_refused_even_if_redis_lost_the_claim(redis_client: aioredis.Redis) -> None:
    phone = pbx()
    with pytest.raises(PositionTaken) as caught:
        await positions(redis_client, phone, sitting={"PJSIP/desk-1": "n9"}).sign_in("n2", "desk-n1")
    assert caught.value.holder == "n9" and phone.sent == []


async def test_a_refused_queue_add_leaves_the_position_free(redis_client: aioredis.Redis) -> None:
    refused = pbx(ActionFailed("QueueAdd", "x-1", "Unable to add interface"))
    with pytest.raises(StateChangeFailed):
        await positions(redis_client, refused).sign_in("n2", "desk-n1")
    store = PositionStore(redis_client, "test:")
    assert (await store.holders(["desk-n1"]), await store.seat_of("n2")) == ({"desk-n1": None}, None)


async def test_leaving_while_the_pbx_is_unreachable_keeps_the_position_theirs(redis_client: aioredis.Redis) -> None:
    working = pbx()
    taken = await positions(redis_client, working).sign_in("n2", "desk-n1", ready=False)
    assert taken.id == "desk-n1"
    assert wire(working.sent) == [("QueueAdd", {"Queue": "emergency", "Interface": "PJSIP/desk-1", "MemberName": "n2",
                                                "Paused": "true", "Reason": "signing in"})]
    # The PBX has the phone in n2's queue; it stops answering before n2 leaves.
    working.handler.memberships["emergency"] = member(0, "emergency", "PJSIP/desk-1")
    down = FakePbx(working.handler, refuse=NotConnected("QueueRemove"))
    with pytest.raises(StateChangeFailed) as caught:
        await positions(redis_client, down).leave("n2")
    assert not caught.value.refused
    assert await PositionStore(redis_client, "test:").seat_of("n2") == "desk-n1"  # its phone would still ring for n2
    assert await positions(redis_client, working).leave("n2") == ("desk-n1", 1)  # once the PBX answers again
    assert await PositionStore(redis_client, "test:").seat_of("n2") is None


async def test_a_failed_retry_at_the_position_one_holds_keeps_it(redis_client: aioredis.Redis) -> None:
    await positions(redis_client, pbx()).sign_in("n2", "desk-n1")
    with pytest.raises(StateChangeFailed):
        await positions(redis_client, pbx(NotConnected("QueueAdd"))).sign_in("n2", "desk-n1")
    assert await PositionStore(redis_client, "test:").seat_of("n2") == "desk-n1"  # the PBX may have them there
