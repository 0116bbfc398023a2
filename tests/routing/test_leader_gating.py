"""The desks act only while this node leads the site, and what a deposed leader decided is
refused by the site's fencing token in the real Redis before it reaches the PBX."""

from __future__ import annotations

from typing import Any

from intake.app.server import registry_of
from intake.core.leadership import Granted, Leadership, Reconciled, SiteGate
from routing.fenced import Fence, epoch_key
from routing.handler_desk import HandlerDesk
from routing.policy import Lend
from routing.steering import Steering
from routing.timers import TimerStore
from telephony import events as ev
from tests.intake.test_wrapup_timers import H1, Pbx, answered_call, config, handler_in
from tests.intake.timeline import T0, Timeline, member
from tests.routing.test_steering import CONFIG
from tests.routing.test_steering import Pbx as RecordingPbx
from tests.waiting import eventually

PREFIX = "t:"
H3 = "PJSIP/handler-3"


def gate(*, leading: bool, token: int = 1) -> SiteGate:
    """This node's gate on site "default": leading with ``token``, or a follower."""
    leadership = Leadership("node-a", lambda: 0.0)
    if leading:
        leadership.feed("default", Granted(token, 1e9))
        leadership.feed("default", Reconciled(token))
    return leadership.gate("default")


def floor_at_risk() -> Any:  # Any: the registry, as registry_of builds it
    """A 999 caller waiting, a 101 handler ready: at T0 + 11 the 999 target is at risk."""
    registry = registry_of(CONFIG)
    for e in [ev.PbxLinkUp(T0, "22.0.0"), ev.SnapshotStarted(T0), ev.MemberSeen(T0, member(0, "non-emergency", H3)),
              ev.SnapshotCompleted(T0), *Timeline().join(0).events]:
        registry.apply(e)
    return registry


async def test_a_follower_decides_as_the_leader_would_but_sends_nothing() -> None:
    pbx, registry = RecordingPbx(), floor_at_risk()
    follower = Steering(CONFIG, registry, pbx, now=lambda: T0 + 11, gate=gate(leading=False))
    assert follower.evaluate() == []
    assert follower.memory.clear_since is None  # it keeps its own picture of the floor all the same
    leader = Steering(CONFIG, registry, RecordingPbx(), now=lambda: T0 + 11, gate=gate(leading=True))
    assert [type(d) for d in leader.evaluate()] == [Lend]
    await leader.close()
    assert pbx.sent == []


async def test_a_lend_decided_under_a_deposed_token_is_not_sent(redis_client: Any) -> None:
    await redis_client.set(epoch_key(PREFIX, "default"), 2)  # the site granted its lease again since token 1
    pbx = RecordingPbx()
    steering = Steering(CONFIG, floor_at_risk(), pbx, now=lambda: T0 + 11, gate=gate(leading=True, token=1),
                        fence=Fence(redis_client, PREFIX, "default"))
    assert len(steering.evaluate()) == 1
    await steering.close()
    assert (steering.fenced, pbx.sent) == (1, [])


async def test_a_wrap_up_decided_under_a_deposed_token_pauses_nobody_and_keeps_no_timer(redis_client: Any) -> None:
    await redis_client.set(epoch_key(PREFIX, "default"), 2)
    handler = handler_in()
    pbx = Pbx(handler)
    desk = HandlerDesk(config(), pbx, lambda m: handler if m == H1 else None, gate=gate(leading=True, token=1),
                       timers=TimerStore(redis_client, PREFIX, Fence(redis_client, PREFIX, "default")))
    desk.call_finished(answered_call())
    assert desk.running_wrapups == {"h1"}
    await eventually(lambda: not desk.running_wrapups, 10, "the refused wrap-up given up")
    assert pbx.pauses == [] and await redis_client.zcard(f"{PREFIX}timers") == 0
    await desk.close()


async def test_a_follower_starts_no_wrap_up() -> None:
    handler = handler_in()
    desk = HandlerDesk(config(), Pbx(handler), lambda m: handler if m == H1 else None, gate=gate(leading=False))
    desk.call_finished(answered_call())
    assert desk.running_wrapups == frozenset()


async def test_a_wrap_up_no_leader_started_is_started_for_its_rest_by_the_node_taking_over() -> None:
    # A call ends while the leader is dying: nobody starts the wrap-up. The follower saw it due,
    # and once it leads (its resync in, no timer of it in Redis) it pauses the handler for the rest.
    leadership = Leadership("node-b", lambda: 0.0)
    handler = handler_in()
    pbx = Pbx(handler)
    desk = HandlerDesk(config(wrapup=60), pbx, lambda m: handler if m == H1 else None, gate=leadership.gate("default"))
    desk.call_finished(answered_call())
    desk.resync_completed()  # a resync while following: nothing
    assert desk.running_wrapups == frozenset()
    leadership.feed("default", Granted(2, 1e9))
    leadership.feed("default", Reconciled(2))
    desk.resync_completed()  # the takeover's resync
    assert desk.running_wrapups == {"h1"}
    await eventually(lambda: len(pbx.pauses) == 2, 10, "h1 paused on both queues")
    assert all(paused for _, paused, _ in pbx.pauses)
    await desk.close()


async def test_the_node_taking_over_leaves_a_handler_the_pbx_shows_paused_alone() -> None:
    leadership = Leadership("node-b", lambda: 0.0)
    handler = handler_in()
    desk = HandlerDesk(config(wrapup=60), Pbx(handler), lambda m: handler if m == H1 else None,
                       gate=leadership.gate("default"))
    desk.call_finished(answered_call())
    handler.memberships = handler_in(paused=True, reason="lunch").memberships  # they went to lunch meanwhile
    leadership.feed("default", Granted(2, 1e9))
    leadership.feed("default", Reconciled(2))
    desk.resync_completed()
    assert desk.running_wrapups == frozenset()
