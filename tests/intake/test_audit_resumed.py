"""A pop shown again is consulted again: a desktop that reconnects (a snapshot) or resumes from a
seq before the pop (a replay) is shown the caller's history once more, and the audit trail says
who saw whose data when, as it does for the first showing; a desktop already up to date is shown
nothing again, and nothing is recorded."""

from __future__ import annotations

from intake.app.shown import AGAIN
from tests.intake import test_web_api
from tests.intake.test_audit_points import NUMBER, summary, trail
from tests.routing.test_callback_desk import Desktop, Floor
from tests.support.sockets import signed_in

floor = test_web_api.floor


async def reconnect(floor: Floor, handler: str, last_seq: int | None) -> Desktop:
    base = str(floor.http.base_url).replace("http", "ws", 1)
    query = "" if last_seq is None else f"?last_seq={last_seq}"
    desk = Desktop(await signed_in(f"{base}/ws/desktop{query}", floor.tokens[handler]))
    floor.desktops.append(desk)
    return desk


async def test_a_pop_shown_again_after_a_reconnect_or_a_resume_is_in_the_trail(floor: Floor) -> None:
    h1 = await floor.desktop("h1")
    await floor.state("h1", "ready")
    call_id = floor.sim.place_call("emergency", NUMBER, "Pat Caller")
    pop = await h1.expect(lambda m: m["type"] == "pop" and m["call_id"] == call_id)
    await h1.close()
    first = ("consulted", "history", "token:h1", "handler", NUMBER, NUMBER, f"call {call_id}")
    again = ("consulted", "history", "token:h1", "handler", NUMBER, NUMBER, f"call {call_id}, {AGAIN}")

    # Reopened with no seq: a snapshot of the screen, the pop in it.
    snapshot = await (await reconnect(floor, "h1", None)).expect(lambda m: m["type"] == "snapshot")
    assert [p["call_id"] for p in snapshot["pops"]] == [call_id]
    assert [summary(e) for e in await trail(floor)] == [first, again]

    # Resumed from before the pop: the pop replayed.
    await (await reconnect(floor, "h1", pop["seq"] - 1)).expect(lambda m: m["type"] == "pop" and m["call_id"] == call_id)
    assert [summary(e) for e in await trail(floor)] == [first, again, again]

    # Up to date: nothing is sent again, nothing recorded (the next pop's entry is the next one).
    desk = await reconnect(floor, "h1", pop["seq"])
    floor.sim.hangup_caller(call_id)
    await desk.expect(lambda m: m["type"] == "pop.closed" and m["call_id"] == call_id)
    assert [summary(e) for e in await trail(floor)] == [first, again, again]
    assert {e.who_id for e in await trail(floor)} == {"h1"}
