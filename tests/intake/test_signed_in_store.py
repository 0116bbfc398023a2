"""The signed-in samples in Redis: kept by local day with the journal's retention, read back for a
range of days and every site, and a Redis that is away never raises into the sampler."""

from __future__ import annotations

import socket
import time
from datetime import date

import redis.asyncio as aioredis

from intake.app.journal import RETENTION_SECONDS
from intake.app.signed_in_store import SignedInStore, read_signed_in, signed_in_key
from intake.core.demand import SignedIn, intervals

DAY = date(2025, 6, 6)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _minute(day: date, hour: int, minute: int) -> float:
    return time.mktime((day.year, day.month, day.day, hour, minute, 0, 0, 0, -1))


async def test_samples_are_kept_by_local_day_and_read_back_for_every_site(redis_client: aioredis.Redis) -> None:
    north, south = SignedInStore(redis_client, "intake:site:north:"), SignedInStore(redis_client, "intake:site:south:")
    nine, late = _minute(DAY, 9, 0), _minute(DAY, 23, 59)
    next_day = _minute(date(2025, 6, 7), 0, 1)
    await north.write([SignedIn(nine, "999", 3), SignedIn(nine, "101", 2), SignedIn(late, "999", 1), SignedIn(next_day, "999", 4)])
    await north.write([SignedIn(nine, "999", 4)])  # the count changed within the minute: the last one stands
    await south.write([SignedIn(nine, "999", 2)])
    await redis_client.hset(signed_in_key("intake:site:north:", DAY.isoformat()), "not a sample", "x")

    assert 0 < await redis_client.ttl(signed_in_key("intake:site:north:", DAY.isoformat())) <= RETENTION_SECONDS
    got = await read_signed_in(redis_client, ["intake:site:north:", "intake:site:south:"], DAY, DAY)
    assert sorted(got, key=lambda s: (s.at, s.line)) == [SignedIn(nine, "101", 2), SignedIn(nine, "999", 6),
                                                        SignedIn(late, "999", 1)]
    assert await read_signed_in(redis_client, ["intake:site:north:"], date(2025, 6, 7), date(2025, 6, 7)) == [
        SignedIn(next_day, "999", 4)]


async def test_an_intervals_figure_is_the_mean_of_its_minutes(redis_client: aioredis.Redis) -> None:
    store = SignedInStore(redis_client, "intake:")
    await store.write([SignedIn(_minute(DAY, 10, m), "999", n) for m, n in ((0, 2), (1, 3), (14, 4), (15, 9))])

    class Call:  # one answered call at 10:05, as the journal's records offer it
        line, queued_at, settled, waited_seconds, target_seconds, talk_seconds = "999", _minute(DAY, 10, 5), "answered", 3.0, 10.0, 60.0
        wrapup_seconds = None

    (quarter,) = intervals([Call()], 900, signed_in=await read_signed_in(redis_client, ["intake:"], DAY, DAY))
    assert quarter.signed_in == 3.0  # 10:00, 10:01 and 10:14; 10:15 is the next quarter's


async def test_a_write_redis_refuses_is_logged_and_never_raised() -> None:
    away = aioredis.Redis(host="127.0.0.1", port=_free_port(), socket_connect_timeout=5)  # nobody listens there
    try:
        await SignedInStore(away, "intake:").write([SignedIn(_minute(DAY, 9, 0), "999", 3)])
    finally:
        await away.aclose()
