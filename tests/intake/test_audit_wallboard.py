"""What a supervisor's wallboard shows of callers is in the audit trail once per caller per
supervisor per call: the waiting caller's number (kind ``call``), the markers on it (``marker``)
and the call-back task it leaves when it hangs up (``callback``), named as the supervisor signed
in; the pictures sent again on every change add nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from tests.intake import test_web_api
from tests.intake.test_audit_points import NUMBER, summary, trail
from tests.routing.test_callback_desk import Floor, until
from tests.support.sockets import signed_in
from tests.waiting import patience

floor = test_web_api.floor


async def test_a_wallboard_consults_each_waiting_caller_once_per_supervisor_per_call(floor: Floor) -> None:
    sup = floor.auth("sup1")
    r = await floor.http.post("/api/markers", params={"reason": "safeguarding referral"}, headers=sup,
                              json={"number": NUMBER, "kind": "vulnerable adult"})
    assert r.status_code == 201, r.text
    base = str(floor.http.base_url).replace("http", "ws", 1)
    async with await signed_in(f"{base}/ws/supervisor", floor.tokens["sup1"]) as wallboard:
        seen = 0

        async def picture(check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
            nonlocal seen
            async with asyncio.timeout(patience(10)):
                while True:
                    message = json.loads(await wallboard.recv())
                    seen += 1
                    if check(message):
                        return message

        call_id = floor.sim.place_call("emergency", NUMBER, "Pat Caller")
        await picture(lambda m: any(c["call_id"] == call_id and c["markers"] for c in m["calls"]))
        shown_at = seen
        await floor.state("h2", "not-ready", "training")  # the board is sent again, the caller still on it
        await floor.state("h2", "ready")  # (h2 is in no queue: the call keeps waiting)
        await picture(lambda m: any(h["handler_id"] == "h2" and h["state"] == "ready" for h in m["handlers"]))
        floor.sim.hangup_caller(call_id)
        await picture(lambda m: [t["id"] for t in m["callbacks"]] == [call_id])
        await floor.state("h2", "not-ready", "training")
        await picture(lambda m: any(h["handler_id"] == "h2" and h["state"] == "not-ready" for h in m["handlers"]))
        assert seen - shown_at >= 3  # pictures sent while the caller was on the board

    consulted = [summary(e) for e in await trail(floor) if e.role == "supervisor" and e.action.value == "consulted"]
    assert consulted == [
        ("consulted", "call", "token:sup1", "supervisor", NUMBER, call_id, f"wallboard: call {call_id}"),
        ("consulted", "marker", "token:sup1", "supervisor", NUMBER, "vulnerable adult", f"wallboard: call {call_id}"),
        ("consulted", "callback", "token:sup1", "supervisor", NUMBER, call_id, f"wallboard: task {call_id}"),
    ]


async def test_the_api_views_of_calls_and_call_backs_consult_each_caller_once_per_supervisor_per_call(floor: Floor) -> None:
    sup = floor.auth("sup1")
    call_id = floor.sim.place_call("emergency", NUMBER, "Pat Caller")
    await until(lambda: call_id in floor.server.registry.calls)
    for _ in range(3):  # a program polling
        calls = (await floor.http.get("/api/calls", headers=sup)).json()["calls"]
        assert [c["call_id"] for c in calls] == [call_id]
    floor.sim.hangup_caller(call_id)
    await until(lambda: call_id in floor.server.callbacks.tasks)
    for _ in range(3):
        tasks = (await floor.http.get("/api/callbacks", headers=sup)).json()["callbacks"]
        assert [t["id"] for t in tasks] == [call_id]
    assert [summary(e) for e in await trail(floor) if e.role == "supervisor"] == [
        ("consulted", "call", "token:sup1", "supervisor", NUMBER, call_id, f"api: call {call_id}"),
        ("consulted", "callback", "token:sup1", "supervisor", NUMBER, call_id, f"api: task {call_id}"),
    ]
