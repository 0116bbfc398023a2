"""Who holds a position, in a real Redis shared by two nodes (two clients): one position one
handler, one handler one position, however their requests interleave."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from intake.app.positions import PositionStore
from intake.core.errors import AlreadySeated, PositionTaken

PREFIX = "test:"


async def attempt(store: PositionStore, position: str, handler_id: str) -> str:
    try:
        await store.take(position, handler_id)
    except PositionTaken as exc:
        return f"taken by {exc.holder}"
    except AlreadySeated as exc:
        return f"already at {exc.position}"
    return "took"


async def test_two_nodes_racing_for_one_position_one_wins_and_the_other_is_told_who(redis_client: aioredis.Redis) -> None:
    kwargs = redis_client.connection_pool.connection_kwargs
    other_node = aioredis.Redis(host=kwargs["host"], port=kwargs["port"], db=kwargs["db"])
    a, b = PositionStore(redis_client, PREFIX), PositionStore(other_node, PREFIX)
    try:
        for n in range(30):
            position = f"desk-{n}"
            results = await asyncio.gather(attempt(a, position, f"h1-{n}"), attempt(b, position, f"h2-{n}"))
            winner = f"h1-{n}" if results[0] == "took" else f"h2-{n}"
            assert sorted(results) == sorted(["took", f"taken by {winner}"]), results
            assert (await a.holders([position]), await b.seat_of(winner)) == ({position: winner}, position)
    finally:
        await other_node.aclose()


async def test_one_handler_racing_for_two_positions_gets_one(redis_client: aioredis.Redis) -> None:
    store = PositionStore(redis_client, PREFIX)
    results = await asyncio.gather(attempt(store, "desk-1", "h1"), attempt(store, "desk-2", "h1"))
    held = await store.seat_of("h1")
    assert held in ("desk-1", "desk-2")
    assert sorted(results) == sorted(["took", f"already at {held}"])
    assert await store.holders(["desk-1", "desk-2"]) == {"desk-1": "h1" if held == "desk-1" else None,
                                                         "desk-2": "h1" if held == "desk-2" else None}


async def test_taking_again_is_harmless_and_only_the_holder_gives_it_back(redis_client: aioredis.Redis) -> None:
    store = PositionStore(redis_client, PREFIX)
    assert await store.take("desk-1", "h1")
    assert not await store.take("desk-1", "h1")  # a retry after a lost answer: theirs already
    assert not await store.give_back("desk-1", "h2")
    assert await store.holders(["desk-1"]) == {"desk-1": "h1"}
    assert await store.give_back("desk-1", "h1")
    assert (await store.holders(["desk-1"]), await store.seat_of("h1")) == ({"desk-1": None}, None)
    assert await attempt(store, "desk-1", "h2") == "took"
