"""The history store against a real Redis: what is written comes back, merged, in one round trip."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from screenpop.errors import NotANumber
from screenpop.history import (
    _LOOKUP_SHA,
    CALLING_LIMIT,
    DAY,
    HistoryConfig,
    HistoryStore,
)
from screenpop.models import CallbackOutcome
from screenpop.roundtrips import counting_client
from tests.screenpop.builders import NUMBER, T0, called_back, contact, marker, outcome

pytestmark = pytest.mark.redis


@pytest.fixture
def store(redis_client: aioredis.Redis) -> HistoryStore:
    return HistoryStore(redis_client)


async def test_a_number_never_seen_has_an_empty_history(store: HistoryStore) -> None:
    history = await store.lookup(NUMBER, now=T0)
    assert (history.recent, history.count_24h, history.count_30d, history.markers) == ((), 0, 0, ())


async def test_recent_contacts_come_newest_first(store: HistoryStore) -> None:
    for i in range(3):
        await store.record_contact(contact(f"c{i}", at=T0 + i))
    history = await store.lookup(NUMBER, now=T0 + 10)
    assert [r.call_id for r in history.recent] == ["c2", "c1", "c0"]


async def test_recent_is_capped_at_the_configured_limit(redis_client: aioredis.Redis) -> None:
    store = HistoryStore(redis_client, HistoryConfig(recent_limit=2))
    for i in range(5):
        await store.record_contact(contact(f"c{i}", at=T0 + i))
    history = await store.lookup(NUMBER, now=T0 + 10)
    assert [r.call_id for r in history.recent] == ["c4", "c3"]
    assert history.count_24h == 5


async def test_counts_cover_the_last_24_hours_and_30_days(store: HistoryStore) -> None:
    now = T0 + 40 * DAY
    ages = [60, 23 * 3600, 2 * DAY, 29 * DAY, 31 * DAY]
    for i, age in enumerate(ages):
        await store.record_contact(contact(f"c{i}", at=now - age))
    await store.record_contact(contact("later", at=now + 60))  # after `now`: not yet history
    history = await store.lookup(NUMBER, now=now)
    assert (history.count_24h, history.count_30d) == (2, 4)
    assert "later" not in [r.call_id for r in history.recent]


async def test_an_outcome_filed_after_the_contact_is_merged_into_it(store: HistoryStore) -> None:
    await store.record_contact(contact("c1"))
    await store.record_outcome(NUMBER, outcome("c1"))
    (record,) = (await store.lookup(NUMBER, now=T0 + 300)).recent
    assert record.outcome == outcome("c1")


async def test_an_outcome_filed_before_the_contact_is_merged_into_it(store: HistoryStore) -> None:
    await store.record_outcome(NUMBER, outcome("c1"))
    assert (await store.lookup(NUMBER, now=T0 + 300)).recent == ()
    await store.record_contact(contact("c1"))
    (record,) = (await store.lookup(NUMBER, now=T0 + 300)).recent
    assert record.outcome == outcome("c1")


async def test_markers_are_shown_until_they_expire_or_are_removed(store: HistoryStore) -> None:
    await store.add_marker(marker("lasting"))
    await store.add_marker(marker("brief", kind="firearms at address", created_at=T0, expires_at=T0 + 100))
    assert [m.id for m in (await store.lookup(NUMBER, now=T0 + 50)).markers] == ["lasting", "brief"]
    assert [m.id for m in (await store.lookup(NUMBER, now=T0 + 100)).markers] == ["lasting"]
    assert await store.remove_marker(NUMBER, "lasting") is True
    assert await store.remove_marker(NUMBER, "lasting") is False
    assert (await store.lookup(NUMBER, now=T0 + 100)).markers == ()


async def test_keys_use_the_configured_prefix_and_the_number_as_hash_tag(redis_client: aioredis.Redis) -> None:
    store = HistoryStore(redis_client, HistoryConfig(prefix="site7:"))
    await store.record_contact(contact("c1"))
    await store.record_outcome(NUMBER, outcome("c1"))
    await store.add_marker(marker())
    keys = sorted(k.decode() if isinstance(k, bytes) else k for k in await redis_client.keys("*"))
    assert keys == [f"site7:{kind}:{{{NUMBER}}}" for kind in ("contact", "contacts", "markers", "outcome")]


async def test_contacts_and_outcomes_expire_after_the_retention_period(redis_client: aioredis.Redis) -> None:
    store = HistoryStore(redis_client, HistoryConfig(retention_seconds=3600))
    await store.record_contact(contact("c1"))
    await store.record_outcome(NUMBER, outcome("c1"))
    await store.add_marker(marker())
    keys = store.keys(NUMBER)
    assert 3500 < await redis_client.ttl(keys.contacts) <= 3600
    assert 3500 < await redis_client.ttl(keys.outcome) <= 3600
    assert await redis_client.ttl(keys.markers) == -1


async def test_a_withheld_number_is_refused_before_reaching_redis(store: HistoryStore) -> None:
    with pytest.raises(NotANumber):
        await store.lookup("anonymous", now=T0)
    with pytest.raises(NotANumber):
        await store.record_outcome("*", outcome())


async def test_lookup_is_one_round_trip(redis_url: str, redis_client: aioredis.Redis) -> None:
    db = redis_client.connection_pool.connection_kwargs["db"]
    client, round_trips = counting_client(redis_url, db=db, single_connection_client=True)
    try:
        store = HistoryStore(client)
        for i in range(3):
            await store.record_contact(contact(f"c{i}", at=T0 + i))
            await store.record_outcome(NUMBER, outcome(f"c{i}"))
        await store.record_contact(called_back("c0", at=T0 + 5))
        await store.add_marker(marker())
        await store.lookup(NUMBER, now=T0 + 10)  # warm: the script is cached after this
        port = str((await client.client_info())["addr"]).rsplit(":", 1)[1]
        calling = {"c2": T0 + 2, "in-progress": T0 + 8, "ringing": T0 + 10}

        async with redis_client.monitor() as monitor:
            before = round_trips.count
            history = await store.lookup(NUMBER, now=T0 + 10, calling=calling)
            counted = round_trips.count - before
            await client.echo("end of lookup")
            # Server-side cross-check, immune to other clients of the same server: every
            # command the server received from this connection, leaving out the script's own.
            received = []
            while "end of lookup" not in (command := await monitor.next_command())["command"]:
                if command["client_port"] == port:
                    received.append(command["command"].split()[0].upper())
    finally:
        await client.aclose()
    assert len(history.recent) == 4 and history.markers and history.calls_in_window == 5
    assert history.recent[0].disposition == "called back"
    assert counted == 1
    assert received == ["EVALSHA"]


async def test_lookup_reloads_the_script_after_the_server_forgot_it(store: HistoryStore, redis_client: aioredis.Redis) -> None:
    await store.record_contact(contact("c1"))
    await store.lookup(NUMBER, now=T0 + 1)
    await redis_client.script_flush()
    assert len((await store.lookup(NUMBER, now=T0 + 1)).recent) == 1
    assert await redis_client.script_exists(_LOOKUP_SHA) == [True]


# --- calls in the repeat window ------------------------------------------------------------------

HOUR = 3600.0


async def test_a_number_with_no_history_has_only_the_calls_it_is_told_of(store: HistoryStore) -> None:
    assert (await store.lookup(NUMBER, now=T0)).calls_in_window == 0
    history = await store.lookup(NUMBER, now=T0, calling={"ringing": T0})
    assert (history.calls_in_window, history.window_seconds) == (1, HOUR)


async def test_the_window_counts_recorded_calls_that_entered_a_queue_within_the_last_hour(store: HistoryStore) -> None:
    now = T0 + 10 * HOUR
    ages = {"edge-in": HOUR - 0.001, "recent": 60, "edge-out": HOUR, "old": 2 * HOUR}
    for call_id, age in ages.items():
        await store.record_contact(contact(call_id, at=now - age))
    await store.record_contact(contact("later", at=now + 1))  # after `now`: not yet history
    history = await store.lookup(NUMBER, now=now, calling={"ringing": now})
    assert history.calls_in_window == 3  # edge-in, recent, and the call ringing now
    assert history.count_24h == 4


async def test_the_window_is_the_configured_one(redis_client: aioredis.Redis) -> None:
    store = HistoryStore(redis_client, HistoryConfig(repeat_window_seconds=600))
    for i, age in enumerate((100, 500, 700)):
        await store.record_contact(contact(f"c{i}", at=T0 - age))
    history = await store.lookup(NUMBER, now=T0)
    assert (history.calls_in_window, history.window_seconds) == (2, 600)


async def test_a_call_not_recorded_yet_counts_and_a_recorded_one_is_not_counted_twice(store: HistoryStore) -> None:
    now = T0 + HOUR
    await store.record_contact(contact("settled", at=now - 300))
    calling = {
        "settled": now - 300,        # written meanwhile: counted once, as recorded
        "on-its-way": now - 120,     # settled, its record not in Redis yet
        "in-progress": now - 30,     # a second call up at the same time
        "long-ago": now - 2 * HOUR,  # held, but entered its queue before the window
        "ringing": now,
    }
    assert (await store.lookup(NUMBER, now=now, calling=calling)).calls_in_window == 4


async def test_a_call_recorded_before_the_window_but_calling_now_counts_once(store: HistoryStore) -> None:
    """A channel that moved on to a second queue: recorded from the first, ringing from the second."""
    await store.record_contact(contact("moved", at=T0 - 2 * HOUR))
    assert (await store.lookup(NUMBER, now=T0, calling={"moved": T0})).calls_in_window == 1


async def test_two_calls_in_quick_succession_count_two_whether_or_not_the_first_is_written(store: HistoryStore) -> None:
    first, second = contact("first", at=T0, disposition="abandoned", talked_seconds=None), "second"
    calling = {"first": first.at, second: T0 + 5}
    before_write = await store.lookup(NUMBER, now=T0 + 6, calling=calling)
    await store.record_contact(first)
    after_write = await store.lookup(NUMBER, now=T0 + 6, calling=calling)
    assert before_write.calls_in_window == after_write.calls_in_window == 2
    assert (before_write.recent, [r.call_id for r in after_write.recent]) == ((), ["first"])


async def test_the_calls_sent_with_a_lookup_are_bounded_newest_first(store: HistoryStore) -> None:
    old = {f"old{i}": T0 - 2 * HOUR + i for i in range(CALLING_LIMIT)}  # before the window
    new = {f"new{i}": T0 - 60 + i for i in range(50)}
    assert (await store.lookup(NUMBER, now=T0, calling=old | new)).calls_in_window == 50
    assert (await store.lookup(NUMBER, now=T0, calling=old | new | {"ringing": T0})).calls_in_window == 51


# --- call-backs -----------------------------------------------------------------------------------


async def test_a_call_back_comes_back_among_the_calls_newest_first_with_what_came_of_it(store: HistoryStore) -> None:
    await store.record_contact(contact("abandoned", at=T0, disposition="abandoned", talked_seconds=None))
    await store.record_contact(called_back("abandoned", at=T0 + 95))
    await store.record_contact(contact("later", at=T0 + 600))
    recent = (await store.lookup(NUMBER, now=T0 + 700)).recent
    assert [(r.call_id, r.disposition) for r in recent] == [
        ("later", "answered"), ("callback:abandoned", "called back"), ("abandoned", "abandoned")]
    back = recent[1].callback
    assert back is not None and (back.task_id, back.handler_name, recent[1].handler_id) == ("abandoned", "Ana Smith", "h-ana")
    assert back.outcome == CallbackOutcome(contact="reached", grading="priority", notes="pocket dial, caller safe")


async def test_a_call_back_is_no_call_from_the_number_for_any_count(store: HistoryStore) -> None:
    """Three call-backs in the hour, and one call: not a repeat caller, one call in 24 h and 30 days."""
    for i in range(3):
        await store.record_contact(called_back(f"t{i}", at=T0 + 60 * i))
    await store.record_contact(contact("c1", at=T0 + 300))
    history = await store.lookup(NUMBER, now=T0 + 600, calling={"ringing": T0 + 600})
    assert (history.count_24h, history.count_30d, history.calls_in_window) == (1, 1, 2)
    assert len(history.recent) == 4


async def test_the_recent_limit_takes_the_newest_of_calls_and_call_backs_together(redis_client: aioredis.Redis) -> None:
    store = HistoryStore(redis_client, HistoryConfig(recent_limit=3))
    for i in range(3):
        await store.record_contact(contact(f"c{i}", at=T0 + 10 * i))           # 0, 10, 20
        await store.record_contact(called_back(f"t{i}", at=T0 + 10 * i + 5))  # 5, 15, 25
    await store.record_contact(called_back("future", at=T0 + 1000))  # after `now`: not yet history
    history = await store.lookup(NUMBER, now=T0 + 100)
    assert [r.call_id for r in history.recent] == ["callback:t2", "c2", "callback:t1"]


async def test_a_call_back_is_kept_under_the_numbers_hash_tag_for_the_retention_period(redis_client: aioredis.Redis) -> None:
    store = HistoryStore(redis_client, HistoryConfig(prefix="site7:", retention_seconds=3600))
    await store.record_contact(called_back())
    keys = sorted(k.decode() if isinstance(k, bytes) else k for k in await redis_client.keys("*"))
    assert keys == [f"site7:{kind}:{{{NUMBER}}}" for kind in ("calledback", "contact")]
    assert 3500 < await redis_client.ttl(f"site7:calledback:{{{NUMBER}}}") <= 3600


async def test_a_record_this_version_cannot_read_is_left_out_and_logged_not_the_whole_history(
        store: HistoryStore, redis_client: aioredis.Redis) -> None:
    keys = store.keys(NUMBER)
    await store.record_contact(contact("good", at=T0))
    await store.record_contact(called_back("t1", at=T0 + 5))
    newer = called_back("t2", at=T0 + 9).model_dump(mode="json") | {"recording_url": "https://example.invalid/r"}
    await redis_client.zadd(keys.called_back, {"callback:t2": T0 + 9})
    await redis_client.hset(keys.contact, "callback:t2", json.dumps(newer))  # written by a newer version
    await redis_client.zadd(keys.contacts, {"damaged": T0 + 3})
    await redis_client.hset(keys.contact, "damaged", b"{not json")
    await redis_client.hset(keys.outcome, "good", b'{"call_id": "good"}')  # an outcome missing its fields
    with capture_logs() as logs:
        history = await store.lookup(NUMBER, now=T0 + 10)
    assert [(r.call_id, r.outcome) for r in history.recent] == [("callback:t1", None), ("good", None)]
    assert history.count_24h == 2  # the damaged record's call still happened
    unreadable = [(e["kind"], e.get("call_id")) for e in logs if e["event"] == "history_record_unreadable"]
    assert sorted(unreadable, key=str) == sorted([("contact", None), ("contact", None), ("outcome", "good")], key=str)
    assert all(e["log_level"] == "error" and e["number"] == NUMBER for e in logs if e["event"] == "history_record_unreadable")
