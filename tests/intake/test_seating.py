"""Who sits where (intake.core.seating): the rule by table, then the registry learning it from the
PBX's member events alone, as every node does: pops, wrap-up and the journal follow the handler."""

from __future__ import annotations

import pytest

from intake.core.config import parse
from intake.core.registry import Registry, registry_of
from intake.core.seating import Seating, seating_of
from telephony import events as ev
from telephony.events import MemberDevice, MemberState
from tests.intake.timeline import T0

FIXED, DESK1, DESK2, STRAY = "PJSIP/fixed-1", "PJSIP/desk-1", "PJSIP/desk-2", "PJSIP/stray"

CONFIG = parse({
    "ami": {"host": "127.0.0.1", "port": 5038, "username": "intake", "secret": "env:UNUSED"},
    "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]},
              {"name": "101", "target_seconds": 60, "queues": ["non-emergency"]}],
    "handlers": [{"id": "h1", "name": "Alice", "queues": ["emergency", "non-emergency"], "token": "env:T1"},
                 {"id": "h2", "name": "Bob", "queues": ["emergency"], "token": "env:T2"},
                 {"id": "h9", "name": "Fiona", "member": FIXED, "queues": ["emergency"], "token": "env:T9"}],
    "positions": [{"id": "desk-1", "label": "Desk 1", "member": DESK1}, {"id": "desk-2", "member": DESK2}],
})


def seating() -> Seating:
    return seating_of(CONFIG)


@pytest.mark.parametrize(("member", "names", "occupant"), [
    (FIXED, ["h9"], "h9"),          # a fixed phone is its handler's
    (FIXED, ["h1"], "h9"),          # ... whatever the PBX calls it
    (FIXED, [], "h9"),
    (DESK1, ["h1"], "h1"),          # a position is the hot-desker its MemberName names
    (DESK1, ["h2", "h2"], "h2"),
    (DESK1, ["PJSIP/desk-1"], None),  # added by hand without a name: nobody's
    (DESK1, ["h9"], None),          # a fixed-phone handler does not sit at a position
    (DESK1, ["someone"], None),     # a name no configuration has
    (DESK1, [], None),              # in no queue: free
    (STRAY, ["h1"], None),          # not a position: a typed name pops nobody's desktop
])
def test_who_sits_at_a_phone(member: str, names: list[str], occupant: str | None) -> None:
    assert seating().occupant(member, names) == occupant


def state(queue: str, interface: str, name: str, *, s: float = 1.0, paused: bool = False) -> MemberState:
    return MemberState(T0 + s, queue, interface, name, MemberDevice.NOT_INUSE, paused, "", False, 0)


def added(queue: str, interface: str, name: str, s: float = 1.0) -> ev.MemberJoined:
    return ev.MemberJoined(T0 + s, state(queue, interface, name, s=s))


def removed(queue: str, interface: str, s: float = 2.0) -> ev.MemberLeft:
    return ev.MemberLeft(T0 + s, queue, interface)


# Each case: the member events, then who the registry has at desk-1 and where h1 / h2 sit.
STEPS: list[tuple[str, list[ev.DomainEvent], str | None, str | None, str | None]] = [
    ("signed in at desk-1", [added("emergency", DESK1, "h1"), added("non-emergency", DESK1, "h1")], "h1", DESK1, None),
    ("half left: still there", [added("emergency", DESK1, "h1"), added("non-emergency", DESK1, "h1"),
                                removed("emergency", DESK1)], "h1", DESK1, None),
    ("left every queue: free", [added("emergency", DESK1, "h1"), added("non-emergency", DESK1, "h1"),
                                removed("emergency", DESK1), removed("non-emergency", DESK1)], None, None, None),
    ("the next shift's handler", [added("emergency", DESK1, "h1"), removed("emergency", DESK1),
                                  added("emergency", DESK1, "h2", s=3)], "h2", None, DESK1),
    ("moved desks", [added("emergency", DESK1, "h1"), added("emergency", DESK2, "h1", s=2),
                     removed("emergency", DESK1, s=3)], None, DESK2, None),
    ("nameless: nobody's", [added("emergency", DESK1, DESK1)], None, None, None),
]


@pytest.mark.parametrize(("events", "at_desk1", "h1_at", "h2_at"), [c[1:] for c in STEPS], ids=[c[0] for c in STEPS])
def test_the_registry_learns_who_sits_where_from_member_events(events: list[ev.DomainEvent], at_desk1: str | None,
                                                                h1_at: str | None, h2_at: str | None) -> None:
    reg = registry_of(CONFIG)
    for e in events:
        reg.apply(e)
    assert (reg.handler_of(DESK1), reg.member_of("h1"), reg.member_of("h2")) == (at_desk1, h1_at, h2_at)
    assert reg.member_of("h9") == FIXED and reg.handler_of(FIXED) == "h9"  # the fixed phone never moves


def test_the_resync_snapshot_seats_and_unseats() -> None:
    """A node that starts (or reconnects) learns who sits where from QueueStatus's QueueMember."""
    reg = registry_of(CONFIG)
    reg.apply(ev.SnapshotStarted(T0))
    reg.apply(ev.MemberSeen(T0, state("emergency", DESK2, "h2")))
    reg.apply(ev.SnapshotCompleted(T0))
    assert (reg.handler_of(DESK2), reg.member_of("h2"), reg.handlers[DESK2].name) == ("h2", DESK2, "Bob")
    reg.apply(ev.SnapshotStarted(T0 + 1))
    reg.apply(ev.SnapshotCompleted(T0 + 1))  # the PBX has nobody there now
    assert (reg.handler_of(DESK2), reg.member_of("h2")) == (None, None)


def test_an_answered_call_keeps_who_answered_and_where() -> None:
    reg = registry_of(CONFIG)
    reg.apply(added("emergency", DESK1, "h1"))
    reg.apply(ev.CallQueued(T0 + 2, "c-1", "emergency", "07700900001", "", 1, "PJSIP/caller-1", "c-1"))
    reg.apply(ev.HandlerRang(T0 + 3, "c-1", "emergency", DESK1, "h1", DESK1 + "-01"))
    notices = reg.apply(ev.CallAnswered(T0 + 4, "c-1", "emergency", DESK1, "h1", 2.0, 1.0, DESK1 + "-01"))
    view = next(n.call for n in notices if hasattr(n, "call"))
    assert (view.answered_by, view.answered_handler, view.answered_position) == (DESK1, "h1", "desk-1")
    reg.apply(removed("emergency", DESK1, s=5))  # h1 leaves the desk mid-call: the call keeps its facts
    assert (reg.calls["c-1"].answered_handler, reg.calls["c-1"].answered_position) == ("h1", "desk-1")


def test_a_registry_given_only_fixed_phones_seats_as_before() -> None:
    reg = Registry({"emergency": ("999", 12.0)}, handlers={FIXED: ("h9", "Fiona")})
    reg.apply(added("emergency", FIXED, "whatever"))
    assert (reg.handler_of(FIXED), reg.member_of("h9"), reg.handlers[FIXED].name) == ("h9", FIXED, "Fiona")
    reg.apply(added("emergency", DESK1, "h1"))
    assert reg.handler_of(DESK1) is None
