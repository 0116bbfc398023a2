"""The desktop hub: sequence numbers, fan-out, slow sockets dropped alone, resuming from last_seq."""

from __future__ import annotations

import json
from typing import Any

import pytest

from screenpop.delivery import DesktopHub, HubConfig, Outbox
from screenpop.errors import DesktopTooSlow, ServerShuttingDown
from screenpop.messages import HandlerStatus
from screenpop.pop import CallSnapshot, compose_answered, compose_closed, compose_pop


def _pop(call_id: str) -> Any:
    return compose_pop(CallSnapshot(call_id, "999", "999-north", "+447700900123", "J SMITH", 1.0, 2.0), None)


async def drain(outbox: Outbox) -> list[dict[str, Any]]:
    return [json.loads(await outbox.next()) for _ in range(outbox.waiting)]


def _ring(hub: DesktopHub, handler_id: str, call_id: str) -> None:
    hub.publish(handler_id, _pop(call_id), active=True)


def _close(hub: DesktopHub, handler_id: str, call_id: str) -> None:
    hub.publish(handler_id, compose_closed(call_id, "answered-elsewhere", at=3.0), active=False)


async def test_each_handler_has_a_sequence_of_their_own() -> None:
    hub = DesktopHub()
    assert [hub.publish(h, _pop(c), active=True).seq for h, c in [("ana", "c1"), ("ana", "c2"), ("bo", "c3")]] == [1, 2, 1]


async def test_a_message_reaches_every_socket_of_its_handler_and_no_other() -> None:
    hub = DesktopHub()
    first, second, other = hub.attach("ana", 0), hub.attach("ana", 0), hub.attach("bo", 0)
    _ring(hub, "ana", "c1")
    assert [m["call_id"] for m in await drain(first)] == ["c1"]
    assert [m["call_id"] for m in await drain(second)] == ["c1"]
    assert await drain(other) == []


async def test_a_full_outbox_is_dropped_as_too_slow_and_the_others_still_receive() -> None:
    hub = DesktopHub(HubConfig(outbox_size=3))
    stalled, reading = hub.attach("ana", 0), hub.attach("ana", 0)
    for i in range(5):
        _ring(hub, "ana", f"c{i}")
        await drain(reading)
    with pytest.raises(DesktopTooSlow, match="3 messages waiting"):
        await stalled.ended()
    assert hub.sockets("ana") == 1
    _ring(hub, "ana", "c5")
    assert [m["seq"] for m in await drain(reading)] == [6]


async def test_resuming_replays_what_still_matters() -> None:
    hub = DesktopHub()
    _ring(hub, "ana", "shown-then-closed")                       # seq 1, the desktop saw it
    _ring(hub, "ana", "shown-still-ringing")                     # seq 2, the desktop saw it
    _ring(hub, "ana", "came-and-went")                           # seq 3 (away from here on)
    _close(hub, "ana", "came-and-went")                          # seq 4
    _close(hub, "ana", "shown-then-closed")                      # seq 5
    _ring(hub, "ana", "new")                                     # seq 6
    hub.publish("ana", compose_answered("new", answered_at=5.0, handler_id="ana"), active=True)  # seq 7
    replay = await drain(hub.attach("ana", last_seq=2))
    assert [(m["seq"], m["type"], m["call_id"]) for m in replay] == [
        (4, "pop.closed", "came-and-went"),  # harmless: a desktop ignores closes for pops it never showed
        (5, "pop.closed", "shown-then-closed"),
        (6, "pop", "new"),
        (7, "pop.answered", "new"),
    ]


async def test_a_desktop_that_is_up_to_date_gets_nothing() -> None:
    hub = DesktopHub()
    _ring(hub, "ana", "c1")
    assert await drain(hub.attach("ana", last_seq=1)) == []


@pytest.mark.parametrize("last_seq", [None, 1, 99], ids=["first-connect", "older-than-buffer", "ahead-of-stream"])
async def test_otherwise_a_snapshot_of_the_active_pops(last_seq: int | None) -> None:
    hub = DesktopHub(HubConfig(replay_size=3))
    for call_id in ("c1", "c2", "c3"):
        _ring(hub, "ana", call_id)
    _close(hub, "ana", "c2")
    hub.publish("ana", compose_answered("c3", answered_at=5.0, handler_id="ana"), active=True)
    (snapshot,) = await drain(hub.attach("ana", last_seq=last_seq))
    assert (snapshot["type"], snapshot["seq"]) == ("snapshot", 5)
    assert [(m["seq"], m["type"], m["call_id"]) for m in snapshot["pops"]] == [
        (1, "pop", "c1"), (3, "pop", "c3"), (5, "pop.answered", "c3")]
    assert snapshot["pops"][0]["caller"]["name"] == "J SMITH"


async def test_a_replay_too_long_for_the_outbox_becomes_a_snapshot() -> None:
    hub = DesktopHub(HubConfig(outbox_size=4, replay_size=100))
    for i in range(6):
        _ring(hub, "ana", f"c{i}")
    (snapshot,) = await drain(hub.attach("ana", last_seq=0))
    assert snapshot["type"] == "snapshot" and len(snapshot["pops"]) == 6


async def test_closing_the_hub_ends_every_socket_and_refuses_new_ones() -> None:
    hub = DesktopHub()
    before = hub.attach("ana", None)
    hub.close()
    for outbox in (before, hub.attach("bo", None)):
        with pytest.raises(ServerShuttingDown):
            await outbox.ended()


async def test_a_heartbeat_round_pings_every_socket_once_spread_over_its_beats() -> None:
    hub = DesktopHub()
    outboxes = [hub.attach(h, 0) for h in ("ana", "ana", "bo", "cy", "di")]
    now = outboxes[0].last_heard
    pinged: list[int] = []
    for slot in range(3):  # one round of three beats
        hub.heartbeat(slot, 3, '{"type":"ping"}', silence_seconds=45, now=now)
        pinged.append(sum(o.waiting for o in outboxes) - sum(pinged))
    assert [o.waiting for o in outboxes] == [1] * 5
    assert max(pinged) < len(outboxes)  # no beat pings everybody


async def test_a_desktop_silent_too_long_is_dropped_at_its_beat_and_the_others_stay() -> None:
    hub = DesktopHub()
    quiet, chatty = hub.attach("ana", 0), hub.attach("bo", 0)
    chatty.last_heard = quiet.last_heard + 50
    for slot in range(2):
        hub.heartbeat(slot, 2, '{"type":"ping"}', silence_seconds=45, now=quiet.last_heard + 60)
    with pytest.raises(DesktopTooSlow, match="silent for 60 s"):
        await quiet.ended()
    assert hub.sockets("ana") == 0 and hub.sockets("bo") == 1
    assert await drain(chatty) == [{"type": "ping"}]


def _status(handler_id: str, state: str = "ready") -> HandlerStatus:
    return HandlerStatus(handler_id=handler_id, name=handler_id.title(), state=state,  # type: ignore[arg-type]
                         reason="", queues=("999-north",), wrapup_reason="wrap-up", ring_out_reason="no answer")


async def test_a_desktop_page_is_sent_its_handlers_state_first_then_each_change_in_order_with_the_stream() -> None:
    hub = DesktopHub()
    states = {"ana": "ready"}
    hub.states_from(lambda handler_id: _status(handler_id, states[handler_id]))
    page, stream_only = hub.attach("ana", None, shows_state=True), hub.attach("ana", None)
    _ring(hub, "ana", "c1")
    hub.show_state("ana", _status("ana", "ringing"))
    assert [(m["type"], m.get("state")) for m in await drain(page)] == [
        ("me", "ready"), ("snapshot", None), ("pop", None), ("me", "ringing")]
    assert [m["type"] for m in await drain(stream_only)] == ["snapshot", "pop"]


async def test_a_resuming_desktop_page_is_sent_the_state_now_not_the_states_it_missed() -> None:
    hub = DesktopHub(HubConfig(outbox_size=4))
    states = {"ana": "ready"}
    hub.states_from(lambda handler_id: _status(handler_id, states[handler_id]))
    for i, state in enumerate(("ringing", "on-call", "wrap-up")):  # nobody connected: nothing kept
        _ring(hub, "ana", f"c{i}")
        states["ana"] = state
        hub.show_state("ana", _status("ana", state))
    # Three missed pops and the state fill the outbox exactly: still a replay, not a snapshot.
    resumed = hub.attach("ana", 0, shows_state=True)
    assert [(m["type"], m.get("state"), m.get("seq")) for m in await drain(resumed)] == [
        ("me", "wrap-up", None), ("pop", None, 1), ("pop", None, 2), ("pop", None, 3)]
