"""Latest-wins fan-out: a slow reader gets the newest value, never a backlog, and slows no one."""

from __future__ import annotations

import asyncio

import pytest

from screenpop.latest import LatestFanout, LatestSlot, SlotClosed


async def test_a_reader_that_keeps_up_sees_every_value() -> None:
    fanout: LatestFanout[str] = LatestFanout()
    _, slot = fanout.attach()
    seen = []
    for value in ("m1", "m2", "m3"):
        fanout.publish(value)
        seen.append(await slot.take())
    assert seen == ["m1", "m2", "m3"]


async def test_a_slow_reader_gets_only_the_newest_and_the_fast_one_everything() -> None:
    fanout: LatestFanout[int] = LatestFanout()
    _, slow = fanout.attach()
    _, fast = fanout.attach()
    fast_seen = []
    for value in range(1000):
        fanout.publish(value)
        fast_seen.append(await fast.take())
    assert fast_seen == list(range(1000))
    assert slow.skipped == 999  # 0..998 overwritten; 999 waits
    assert await slow.take() == 999
    assert slow.skipped == 0


async def test_take_waits_for_a_value_it_has_not_taken() -> None:
    slot: LatestSlot[str] = LatestSlot()
    waiting = asyncio.create_task(slot.take())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    slot.put("m1")
    assert await asyncio.wait_for(waiting, 1) == "m1"


async def test_a_new_reader_starts_with_the_current_value() -> None:
    fanout: LatestFanout[str] = LatestFanout()
    fanout.publish("m7")
    _, slot = fanout.attach()
    assert await slot.take() == "m7"


async def test_detaching_ends_the_readers_wait() -> None:
    fanout: LatestFanout[str] = LatestFanout()
    slot_id, slot = fanout.attach()
    waiting = asyncio.create_task(slot.take())
    await asyncio.sleep(0)
    fanout.detach(slot_id)
    with pytest.raises(SlotClosed):
        await asyncio.wait_for(waiting, 1)
    assert len(fanout) == 0
