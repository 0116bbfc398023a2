"""The handler desk for a handler who hot-desks: it acts on the phone the PBX shows them at (the
registry's seating), refuses with no phone, and after a PBX restart puts them back at the
position's phone under their id, as the lost memberships name them."""

from __future__ import annotations

import pytest

from intake.core.errors import NoPhone
from intake.core.registry import Registry, registry_of
from routing.handler_desk import HandlerDesk, Wanted
from telephony import events as ev
from telephony.events import MemberDevice, MemberState
from tests.intake.test_handler_actions import FakePbx, wire
from tests.intake.test_seating import CONFIG, DESK1, FIXED
from tests.intake.timeline import T0


def at(queue: str, interface: str, name: str, *, paused: bool = False, reason: str = "") -> MemberState:
    return MemberState(T0, queue, interface, name, MemberDevice.NOT_INUSE, paused, reason, False, 0)


def desk_of() -> tuple[HandlerDesk, FakePbx, Registry]:
    reg = registry_of(CONFIG)
    pbx = FakePbx(reg.handler(DESK1))
    return HandlerDesk(CONFIG, pbx, reg.handlers.get, seats=reg.seating), pbx, reg


async def test_a_handler_at_no_position_has_no_phone_to_make_ready() -> None:
    desk, pbx, _ = desk_of()
    with pytest.raises(NoPhone) as caught:
        await desk.request("h1", Wanted.READY)
    assert caught.value.refused and "position" in caught.value.detail
    assert pbx.sent == []


async def test_signing_in_adds_the_positions_phone_under_the_handlers_id_and_later_requests_follow_it() -> None:
    desk, pbx, reg = desk_of()
    await desk.request("h1", Wanted.READY, member=DESK1)
    assert wire(pbx.sent) == [("QueueAdd", {"Queue": q, "Interface": DESK1, "MemberName": "h1"})
                              for q in ("emergency", "non-emergency")]
    for q in ("emergency", "non-emergency"):  # what the PBX then tells every node
        reg.apply(ev.MemberJoined(T0, at(q, DESK1, "h1")))
    pbx.sent.clear()
    await desk.request("h1", Wanted.LOGGED_OUT)  # no member given: the seat the PBX shows
    assert wire(pbx.sent) == [("QueueRemove", {"Queue": q, "Interface": DESK1}) for q in ("emergency", "non-emergency")]


@pytest.mark.parametrize(("interface", "name", "restored_as"), [
    (DESK1, "h1", "h1"),     # a position: back under whoever the lost memberships name
    (DESK1, "h9", None),     # a fixed-phone handler's name on a position: nobody's to restore
    (DESK1, DESK1, None),    # a nameless member added by hand: not intake's
    (FIXED, "anything", "h9"),  # a fixed phone: its handler's, as before
])
async def test_after_a_pbx_restart_a_position_goes_back_to_who_sat_there(interface: str, name: str,
                                                                          restored_as: str | None) -> None:
    desk, pbx, _ = desk_of()
    lost = {"emergency": at("emergency", interface, name, paused=True, reason="meal")}
    task = desk.restore(interface, lost)
    if restored_as is None:
        assert task is None
        return
    assert task is not None
    await task
    assert wire(pbx.sent) == [("QueueAdd", {"Queue": "emergency", "Interface": interface, "MemberName": restored_as,
                                            "Paused": "true", "Reason": "meal"})]
