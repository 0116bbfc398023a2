"""A served intake files each answered call's talk time beside its journal record once the call
is over: what staffing's handle time is made of (docs/staffing.md)."""

from __future__ import annotations

from datetime import date

from intake.app.journal import CallJournal
from tests.intake import test_web_api
from tests.routing.test_callback_desk import Floor, until

floor = test_web_api.floor  # the fixture: h1..h4 and sup1 on the simulated PBX, nobody in a queue yet

H1 = "PJSIP/handler-1"


async def test_an_answered_calls_talk_is_in_the_journal_once_it_is_over_and_an_abandoned_one_has_none(floor: Floor) -> None:
    await floor.state("h1", "ready")
    answered = floor.sim.place_call("emergency", "07700900201", "Talking Caller")
    await floor.sim.wait_ringing(H1)
    floor.sim.answer(H1)
    await until(lambda: (c := floor.server.registry.calls.get(answered)) is not None and c.answered_by == H1)
    day = date.fromtimestamp(floor.server.registry.calls[answered].queued_at)  # the journal's day (local)
    await floor.sim.sleep(3)  # three seconds of the PBX's clock on the phone
    floor.sim.hangup_caller(answered)
    abandoned = floor.sim.place_call("non-emergency", "07700900202", "Gone Caller")
    await until(lambda: abandoned in floor.server.registry.calls)
    abandoned_day = date.fromtimestamp(floor.server.registry.calls[abandoned].queued_at)
    floor.sim.hangup_caller(abandoned)
    await until(lambda: answered not in floor.server.registry.calls and abandoned not in floor.server.registry.calls)
    await floor.server.writes.flush()

    journal = CallJournal(floor.redis, "intake:")
    talk = {r.call_id: r.talk_seconds for d in {day, abandoned_day} for r in await journal.day(d)}
    assert talk[abandoned] is None
    assert talk[answered] is not None and 3 <= talk[answered] < 30
