"""Wrap-up timers outlive the process: kept in Redis while they run, resumed by the next start."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from intake.core.calls import Call
from intake.core.config import parse
from intake.core.errors import StateChangeFailed
from intake.core.handlers import Handler
from routing.handler_desk import HandlerDesk, Wanted
from routing.handler_rules import wrapup_holds
from routing.timers import Timer, TimerStore, Verdict, latest_per_handler, resumption
from telephony.actions import Action, Response
from telephony.errors import NotConnected
from telephony.frames import Frame
from tests.intake.timeline import member
from tests.waiting import eventually, patience

H1 = "PJSIP/handler-1"
QUEUES = ("emergency", "non-emergency")
WRAPUP = 0.4


def config(wrapup: float = WRAPUP):
    return parse({
        "ami": {"secret": "env:X"},
        "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"], "wrapup_seconds": wrapup},
                  {"name": "101", "target_seconds": 60, "queues": ["non-emergency"], "wrapup_seconds": 0}],
        "handlers": [{"id": "h1", "name": "Alice", "member": H1, "queues": list(QUEUES), "token": "env:T"}],
    })


def handler_in(paused: bool = False, reason: str = "") -> Handler:
    h = Handler(H1, "Alice", "h1")
    h.memberships = {q: member(0, q, H1, paused=paused, reason=reason) for q in QUEUES}
    return h


def answered_call() -> Call:
    call = Call("1.1", "emergency", "999", 12, "07700900001", "", "PJSIP/c-1", 100.0)
    call.answered_at, call.answered_by = 103.0, H1
    return call


class Pbx:
    """Reflects QueuePause into the handler, as the PBX's QueueMemberPause events would, and
    notes when each was sent (on the clock the desk's timers use)."""

    def __init__(self, handler: Handler, clock=time.time) -> None:
        self.handler, self.clock = handler, clock
        self.pauses: list[tuple[float, bool, str]] = []
        self.unreachable: Callable[[Action], bool] = lambda action: False  # the link is down for these
        self.cut = asyncio.Event()  # set when an action found the link down
        self._changed = asyncio.Condition()

    async def send(self, action: Action, timeout: float | None = None) -> Response:
        if self.unreachable(action):
            self.cut.set()
            raise NotConnected(action.name)
        fields = dict(action.fields)
        if action.name == "QueuePause":
            q, paused = fields["Queue"], fields["Paused"] == "true"
            self.handler.memberships[q] = member(0, q, H1, paused=paused, reason=fields.get("Reason", ""))
            async with self._changed:
                self.pauses.append((self.clock(), paused, q))
                self._changed.notify_all()
        return Response(action.name, action.action_id, Frame((("Response", "Success"),)))

    async def wait_unpaused(self, timeout: float = patience(5)) -> float:
        """When the last queue was unpaused (the handler is ready again)."""
        async def unpaused() -> float:
            async with self._changed:
                await self._changed.wait_for(lambda: sum(1 for _, p, _ in self.pauses if not p) == len(QUEUES))
                return max(at for at, p, _ in self.pauses if not p)
        return await asyncio.wait_for(unpaused(), timeout)

    async def wait_paused(self, timeout: float = patience(5)) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: sum(1 for _, p, _ in self.pauses if p) == len(QUEUES)), timeout)


async def stored(store: TimerStore, count: int) -> list[Timer]:
    """The stored timers once there are ``count`` (the desk writes them behind itself)."""
    async def counted() -> tuple[list[Timer]] | None:
        timers = await store.load()
        return (timers,) if len(timers) == count else None

    [timers] = await eventually(counted, 5, f"{count} stored timers")
    return timers


def running_desk(store: TimerStore, wrapup: float) -> tuple[Handler, Pbx, HandlerDesk]:
    """A ready handler, the PBX, and a desk whose call has just finished: wrap-up starts."""
    handler = handler_in()
    pbx = Pbx(handler)
    desk = HandlerDesk(config(wrapup), pbx, {H1: handler}.get, timers=store)
    desk.call_finished(answered_call())
    return handler, pbx, desk


async def wrapup_then_killed(store: TimerStore, clock=time.time) -> tuple[Handler, Timer]:
    """A wrap-up started by one intake, which then stops without ending it."""
    handler = handler_in()
    pbx = Pbx(handler, clock)
    first = HandlerDesk(config(), pbx, {H1: handler}.get, timers=store, clock=clock)
    first.call_finished(answered_call())
    await pbx.wait_paused()
    [timer] = await stored(store, 1)
    await first.close()  # as kill -9 would, it leaves the timer where it is
    assert handler.state("wrap-up")[0].value == "wrap-up"
    return handler, timer


pytestmark = pytest.mark.redis


async def test_a_wrapup_running_when_intake_stopped_ends_on_time_after_the_restart(redis_client):
    store = TimerStore(redis_client, "test:")
    handler, timer = await wrapup_then_killed(store)
    assert (timer.handler_id, timer.member, timer.queues, timer.reason) == ("h1", H1, QUEUES, "wrap-up")
    assert timer.seconds == pytest.approx(WRAPUP)

    pbx = Pbx(handler)
    second = HandlerDesk(config(), pbx, {H1: handler}.get, timers=store)
    await second.load_timers()
    second.resync_completed()
    unpaused_at = await pbx.wait_unpaused()
    assert unpaused_at >= timer.due  # never before the wrap-up's end
    assert handler.state("wrap-up")[0].value == "ready"
    await stored(store, 0)
    await second.close()


async def test_an_overdue_wrapup_is_ended_at_once_by_the_next_start(redis_client):
    now = [1_000_000.0]
    store = TimerStore(redis_client, "test:")
    handler, timer = await wrapup_then_killed(store, lambda: now[0])
    now[0] = timer.due + 600  # intake was down for ten minutes
    pbx = Pbx(handler)
    second = HandlerDesk(config(), pbx, {H1: handler}.get, timers=store, clock=lambda: now[0])
    await second.load_timers()
    with capture_logs() as logs:
        second.resync_completed()
    assert [(e["verdict"], e["why"]) for e in logs if e["event"] == "wrapup_resumed"] == [("complete-now", "overdue by 600.0 s")]
    await pbx.wait_unpaused()
    await stored(store, 0)
    await second.close()


@pytest.mark.parametrize("back", ["before-the-end", "after-the-end"])
async def test_intake_killed_between_the_wrapups_two_pauses_still_ends_it_after_the_restart(redis_client, back):
    now = [1_000_000.0]
    store = TimerStore(redis_client, "test:")
    handler, timer = await wrapup_then_killed(store, lambda: now[0])
    # As the PBX holds them when intake died after the first QueuePause: the second never went.
    handler.memberships["non-emergency"] = member(0, "non-emergency", H1)
    now[0] = timer.due + (600 if back == "after-the-end" else -0.1)
    pbx = Pbx(handler, lambda: now[0])
    second = HandlerDesk(config(), pbx, {H1: handler}.get, timers=store, clock=lambda: now[0])
    await second.load_timers()
    second.resync_completed()
    if back == "before-the-end":  # the pause finished at once, in the queue it had not reached
        await eventually(lambda: pbx.pauses == [(now[0], True, "non-emergency")], 5, "the rest of the pause")
        assert handler.state("wrap-up")[0].value == "wrap-up"
        now[0] = timer.due  # the wall clock reaches the end (till then the desk waits again and again)
    await eventually(lambda: handler.state("wrap-up")[0].value == "ready" and not any(
        s.paused for s in handler.memberships.values()), 5, "h1 ready in both queues")
    assert all(at >= timer.due for at, paused, _ in pbx.pauses if not paused)
    await stored(store, 0)
    await second.close()


async def test_a_handler_who_chose_a_break_meanwhile_is_left_on_it(redis_client):
    store = TimerStore(redis_client, "test:")
    handler, _ = await wrapup_then_killed(store)
    handler.memberships = {q: member(0, q, H1, paused=True, reason="meal") for q in QUEUES}  # at the phone
    pbx = Pbx(handler)
    second = HandlerDesk(config(), pbx, {H1: handler}.get, timers=store)
    await second.load_timers()
    second.resync_completed()
    await stored(store, 0)  # dropped, not run
    await second.close()
    assert pbx.pauses == [] and handler.state("wrap-up")[1] == "meal"


async def test_a_wrapup_never_ends_before_it_is_due_on_the_wall_clock_though_the_loops_clock_runs_ahead(redis_client):
    start = time.time()

    def slewed() -> float:  # a wall clock running at half the loop's pace
        return start + (time.time() - start) / 2

    handler = handler_in()
    pbx = Pbx(handler, slewed)
    desk = HandlerDesk(config(wrapup=0.2), pbx, {H1: handler}.get, timers=TimerStore(redis_client, "test:"), clock=slewed)
    due = slewed() + 0.2
    desk.call_finished(answered_call())
    assert await pbx.wait_unpaused() >= due
    await desk.close()


async def test_a_wrapup_whose_end_found_the_pbx_unreachable_ends_at_the_next_resync(redis_client):
    store = TimerStore(redis_client, "test:")
    handler = handler_in()
    pbx = Pbx(handler)
    pbx.unreachable = lambda action: dict(action.fields).get("Paused") == "false" and not pbx.cut.is_set()
    desk = HandlerDesk(config(wrapup=0.05), pbx, {H1: handler}.get, timers=store)
    desk.call_finished(answered_call())
    await asyncio.wait_for(pbx.cut.wait(), patience(5))
    await stored(store, 1)  # kept: nothing ended it
    desk.resync_completed()  # the link is back and the PBX still shows the wrap-up pause
    await pbx.wait_unpaused()
    await stored(store, 0)
    await desk.close()


async def test_a_state_request_that_did_not_reach_the_pbx_leaves_the_wrapup_running(redis_client):
    store = TimerStore(redis_client, "test:")
    _, pbx, desk = running_desk(store, 0.3)
    await pbx.wait_paused()
    pbx.unreachable = lambda action: True
    with pytest.raises(StateChangeFailed):
        await desk.request("h1", Wanted.NOT_READY, "meal")
    pbx.unreachable = lambda action: False
    await pbx.wait_unpaused()  # the wrap-up still ended
    await stored(store, 0)
    await desk.close()


async def test_ready_during_wrapup_removes_the_stored_timer(redis_client):
    store = TimerStore(redis_client, "test:")
    _, pbx, desk = running_desk(store, 30)
    await pbx.wait_paused()
    await stored(store, 1)
    await desk.request("h1", Wanted.READY)
    await stored(store, 0)
    await desk.close()


async def test_a_graceful_stop_keeps_the_timer_for_the_next_start(redis_client):
    store = TimerStore(redis_client, "test:")
    _, _, desk = running_desk(store, 30)
    await stored(store, 1)
    await desk.close()
    assert len(await store.load()) == 1


async def test_an_unreadable_stored_timer_is_removed_and_the_rest_resume(redis_client):
    store = TimerStore(redis_client, "test:")
    await redis_client.zadd(store.key, {b'{"kind": "wrap-up", "handler_id": 7}': 1.0})
    _, timer = await wrapup_then_killed(store)
    assert await store.load() == [timer]
    assert await redis_client.zcard(store.key) == 1


def timer(started: float, seconds: float = 15, handler_id: str = "h1") -> Timer:
    return Timer(handler_id=handler_id, member=H1, queues=QUEUES, reason="wrap-up", started=started, due=started + seconds)


@pytest.mark.parametrize(("shown", "now", "verdict", "remaining"), [
    (handler_in(True, "wrap-up"), 110.0, Verdict.SCHEDULE, 5.0),
    (handler_in(True, "wrap-up"), 115.0, Verdict.COMPLETE_NOW, 0.0),
    (handler_in(True, "wrap-up"), 900.0, Verdict.COMPLETE_NOW, 0.0),
    (handler_in(True, "meal"), 900.0, Verdict.DROP, 0.0),  # a break chosen meanwhile outranks wrap-up
    (handler_in(), 110.0, Verdict.DROP, 0.0),  # made ready at the phone or by another node
    (Handler(H1, "Alice", "h1"), 900.0, Verdict.DROP, 0.0),  # logged out
    (None, 900.0, Verdict.DROP, 0.0),
])
def test_resumption_follows_the_pbx_picture_and_the_clock(shown, now, verdict, remaining):
    r = resumption(timer(100.0), shown, now)
    assert (r.verdict, r.remaining) == (verdict, remaining)


def handler_shown(**queues: str | None) -> Handler:
    """The handler as the PBX shows them queue by queue: the pause reason, "" for paused without
    one, None for not paused (``non_emergency`` for non-emergency)."""
    h = Handler(H1, "Alice", "h1")
    for q, reason in queues.items():
        queue = q.replace("_", "-")
        h.memberships[queue] = member(0, queue, H1, paused=reason is not None, reason=reason or "")
    return h


# intake killed between the wrap-up's two QueuePause actions (or between the two of its end)
# leaves the handler paused for wrap-up in one queue and ready in the other: the handler's state
# then reads "ready", and judged by it the wrap-up was dropped and the handler left paused in
# the first queue for good (seen under load in tests/pbx/test_e2e_durable.py).
@pytest.mark.parametrize(("shown", "now", "verdict", "pause", "held"), [
    (handler_shown(emergency="wrap-up", non_emergency=None), 900.0, Verdict.COMPLETE_NOW, (), ("emergency",)),
    (handler_shown(emergency="wrap-up", non_emergency=None), 110.0, Verdict.SCHEDULE, ("non-emergency",), ("emergency",)),
    (handler_shown(emergency=None, non_emergency="wrap-up"), 900.0, Verdict.COMPLETE_NOW, (), ("non-emergency",)),
    (handler_shown(emergency="wrap-up", non_emergency="wrap-up"), 110.0, Verdict.SCHEDULE, (), QUEUES),
    (handler_shown(emergency="wrap-up"), 110.0, Verdict.SCHEDULE, (), ("emergency",)),  # in one queue only by now
    (handler_shown(emergency="wrap-up", non_emergency="meal"), 900.0, Verdict.DROP, (), ()),  # a break chosen: it outranks
    (handler_shown(emergency="wrap-up", non_emergency=""), 900.0, Verdict.DROP, (), ()),  # paused without a reason: the same
    (handler_shown(emergency=None, non_emergency=None), 900.0, Verdict.DROP, (), ()),
])
def test_a_wrapup_whose_pause_was_cut_off_part_way_is_resumed_queue_by_queue(shown, now, verdict, pause, held):
    r = resumption(timer(100.0), shown, now)
    assert (r.verdict, r.pause) == (verdict, pause), r.why
    assert wrapup_holds(shown, "wrap-up") == held


def test_only_the_newest_wrapup_of_a_handler_is_resumed():
    old, new, other = timer(100.0), timer(200.0), timer(150.0, handler_id="h2")
    keep, drop = latest_per_handler([new, old, other])
    assert sorted(keep, key=lambda t: t.started) == [other, new] and drop == [old]
