"""Call-back rules: which task goes to which ready handler, escalation, linking a new call."""

from __future__ import annotations

from routing.callbacks import CallbackTask, escalations, linked, to_offer


def task(n: int, at: float, **more: object) -> CallbackTask:
    return CallbackTask(id=f"t{n}", number=f"0770090000{n}", queue="emergency", abandoned_at=at, waited_seconds=5, **more)


def test_oldest_tasks_go_to_ready_handlers_one_each_and_never_to_a_handler_already_offered_one():
    tasks = [task(2, 20.0), task(1, 10.0), task(3, 30.0, offered_to="h9"), task(4, 5.0, status="closed")]
    pairs = to_offer(tasks, ["h1", "h9", "h2"], {"t3": "h9"})
    assert [(t.id, h) for t, h in pairs] == [("t1", "h1"), ("t2", "h2")]


def test_nobody_ready_means_no_offer():
    assert to_offer([task(1, 10.0)], [], {}) == []


def test_open_tasks_escalate_once_after_the_configured_time():
    tasks = [task(1, 0.0), task(2, 250.0), task(3, 0.0, escalated=True), task(4, 0.0, status="closed")]
    assert [t.id for t in escalations(tasks, 300.0, 300.0)] == ["t1"]


def test_a_new_call_from_the_number_links_to_its_open_tasks_only():
    tasks = [task(1, 0.0), task(2, 0.0), task(1, 5.0, status="closed")]
    assert [t.id for t in linked(tasks, "07700900001")] == ["t1"]
    assert linked(tasks, "") == []  # a withheld number links to nothing


async def test_an_unreadable_stored_task_is_reported_and_kept_and_the_readable_ones_still_load(redis_client) -> None:
    from routing.callbacks import CallbackStore

    store = CallbackStore(redis_client, "test-cb:")
    await store.save(task(1, 10.0))
    await store.save(task(2, 20.0, status="closed"))
    await redis_client.hset("test-cb:callbacks", "t3", '{"id": "t3", "from_a_newer_version": 1}')
    assert [t.id for t in await store.load_open()] == ["t1"]
    assert await redis_client.hexists("test-cb:callbacks", "t3")  # nothing accepted is lost
