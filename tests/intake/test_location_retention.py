"""A caller's location is kept on their call's record, and goes with it: the retention sweep and
an erasure leave no location behind, and the next pop finds none on the record. Real Redis."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis

from intake.app.audit import AuditTrail
from intake.app.retention import Retention
from intake.core.config import RetentionConfig
from screenpop.history import DAY, HistoryConfig, HistoryStore
from screenpop.location import last_location
from screenpop.models import ContactRecord
from screenpop.places import Location

NUMBER = "07700900123"


async def test_the_location_on_a_record_past_its_retention_is_swept_with_it(redis_client: aioredis.Redis) -> None:
    history = HistoryStore(redis_client, HistoryConfig())
    now = time.time()
    for call_id, days in (("old", 40), ("new", 5)):
        at = now - days * DAY
        where = Location(lat=51.5, lon=-0.1 - days / 100, source="service", at=at, radius_m=20.0)
        await history.record_contact(ContactRecord(call_id=call_id, number=NUMBER, at=at, line="999", queue="emergency",
                                                   waited_seconds=3.0, disposition="answered", location=where))
    before = await history.lookup(NUMBER, now)
    assert [(c.call_id, c.location is not None) for c in before.recent] == [("new", True), ("old", True)]
    trail = AuditTrail(redis_client, "intake:", node="n1")
    await Retention(redis_client, history, RetentionConfig(history_days=30), trail, "intake:", clock=time.time).sweep()
    after = await history.lookup(NUMBER, now)
    assert [c.call_id for c in after.recent] == ["new"]
    shown = last_location(after, now, 100 * DAY)
    assert shown is not None and shown.lon == pytest.approx(-0.15) and shown.source == "history"  # the kept record's
    dumped = [await redis_client.dump(key) or b"" for key in await redis_client.keys("*")]
    assert any(b"-0.15" in d for d in dumped) and not any(b"-0.5" in d for d in dumped)  # the old one is nowhere
