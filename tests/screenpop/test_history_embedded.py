"""The same store runs on fakeredis, the embedded default a newcomer's demo starts with.

This is not a claim about Redis behaviour (test_history.py makes those against a real server):
only that the Lua lookup and the transactions run in process as well.
"""

from __future__ import annotations

import fakeredis

from screenpop.history import HistoryStore
from tests.screenpop.builders import NUMBER, T0, contact, marker, outcome


async def test_the_store_works_on_embedded_fakeredis() -> None:
    client = fakeredis.FakeAsyncRedis()
    try:
        store = HistoryStore(client)
        await store.record_outcome(NUMBER, outcome("c1"))
        await store.record_contact(contact("c1"))
        await store.add_markers([marker("m-1"), marker("m-2", expires_at=T0)])
        history = await store.lookup(NUMBER, now=T0 + 300)
    finally:
        await client.aclose()
    assert [r.call_id for r in history.recent] == ["c1"]
    assert history.recent[0].outcome == outcome("c1")
    assert (history.count_24h, [m.id for m in history.markers]) == (1, ["m-1"])
