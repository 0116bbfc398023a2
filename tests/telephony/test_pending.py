from __future__ import annotations

import asyncio

import pytest

from telephony import actions
from telephony.actions import Response
from telephony.errors import ActionFailed, ActionInterrupted
from telephony.frames import Frame
from telephony.pending import PendingActions


def frame(**fields: str) -> Frame:
    return Frame(fields)


async def test_a_single_response_resolves_its_action_by_action_id() -> None:
    book, ping = PendingActions(), actions.ping()
    future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
    book.add(ping, future)
    assert book.answer(frame(Response="Success", ActionID=ping.action_id, Ping="Pong"))
    assert future.result().frame["Ping"] == "Pong" and len(book) == 0


async def test_a_list_collects_its_events_until_the_complete_event() -> None:
    book, status = PendingActions(), actions.queue_status()
    future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
    seen: list[Frame] = []
    book.add(status, future, seen.append)
    aid = status.action_id
    for f in (frame(Response="Success", ActionID=aid, EventList="start"), frame(Event="QueueParams", ActionID=aid),
              frame(Event="QueueMember", ActionID=aid)):
        assert book.answer(f)
    assert not future.done()
    assert book.answer(frame(Event="QueueStatusComplete", ActionID=aid, EventList="Complete"))
    assert [e["Event"] for e in future.result().events] == ["QueueParams", "QueueMember"] == [e["Event"] for e in seen]


async def test_an_error_response_fails_the_action_with_the_pbx_message() -> None:
    book, add = PendingActions(), actions.queue_add("999", "PJSIP/h")
    future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
    book.add(add, future)
    book.answer(frame(Response="Error", ActionID=add.action_id, Message="Unable to add interface"))
    with pytest.raises(ActionFailed, match="Unable to add interface"):
        future.result()


async def test_an_originate_response_event_is_an_ordinary_event_not_an_answer() -> None:
    book, call = PendingActions(), actions.originate("Local/s@cb", "cb", "s")
    future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
    book.add(call, future)
    book.answer(frame(Response="Success", ActionID=call.action_id, Message="Originate successfully queued"))
    # It carries our ActionID and, confusingly, a Response field of its own.
    assert not book.answer(frame(Event="OriginateResponse", ActionID=call.action_id, Response="Success", Reason="4"))


async def test_a_late_answer_to_a_forgotten_action_is_unsolicited() -> None:
    book, ping = PendingActions(), actions.ping()
    book.add(ping, asyncio.get_running_loop().create_future())
    book.forget(ping.action_id)
    assert not book.answer(frame(Response="Success", ActionID=ping.action_id))


async def test_a_lost_link_interrupts_every_waiter() -> None:
    book, ping = PendingActions(), actions.ping()
    future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
    book.add(ping, future)
    book.fail_all("connection closed by the PBX")
    with pytest.raises(ActionInterrupted, match="connection closed"):
        future.result()
