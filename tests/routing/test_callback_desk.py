"""Call-back tasks through the whole server: the simulated PBX over real AMI, Redis, the REST API
and the desktops' and supervisors' WebSockets, all on loopback.

An abandoned 999 call's task is offered to a ready 999 handler's desktop, taken back and offered
to the next one when that handler goes not ready or their desktop goes away, stays with its
handler once the call-back is under way, and is closed by the outcome; the API refuses whoever
may not act on a task, with a message, and stores nothing from a refused request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets as token_source
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from intake.app.demo import demo_config
from intake.app.server import IntakeServer
from intake.core.config import ClusterConfig, RedisConfig
from intake.core.handlers import HandlerState
from telephony.simulator import SimConfig, SimulatedPbx
from telephony.simulator import actions as sim_actions
from tests.intake.own_redis import OwnRedis
from tests.serving import running_server
from tests.support.sockets import signed_in
from tests.waiting import eventually, patience

NUMBER = "07700900042"


@dataclass
class Floor:
    sim: SimulatedPbx
    server: IntakeServer
    http: httpx.AsyncClient
    tokens: dict[str, str]
    redis: Any
    desktops: list[Desktop] = field(default_factory=list)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def state(self, handler: str, state: str, reason: str = "") -> None:
        r = await self.http.post("/api/me/state", json={"state": state, "reason": reason}, headers=self.auth(handler))
        assert r.status_code == 200, r.text
        member = f"PJSIP/handler-{handler[1:]}"
        wanted = HandlerState(state)
        await until(lambda: (h := self.server.registry.handlers.get(member)) is not None
                    and h.state(self.server.config.wrapup_reason)[0] is wanted)

    async def desktop(self, handler: str) -> Desktop:
        base = str(self.http.base_url).replace("http", "ws", 1)
        desk = Desktop(await signed_in(f"{base}/ws/desktop", self.tokens[handler]))
        self.desktops.append(desk)
        return desk

    async def abandoned_999(self, number: str = NUMBER) -> str:
        """A caller waits in the 999 queue, then hangs up: the task's id."""
        call_id = self.sim.place_call("emergency", number, "Pat Caller")
        await until(lambda: call_id in self.server.registry.calls)
        self.sim.hangup_caller(call_id)
        await until(lambda: call_id in self.server.callbacks.tasks)
        return call_id

    async def stored(self, task_id: str) -> dict[str, Any]:
        await self.server.writes.flush()  # the write-through has landed
        return json.loads(await self.redis.hget("intake:callbacks", task_id))


class Desktop:
    """A handler's desktop socket: every message it is sent, in order."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.messages = ws, []
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            self.messages.append(json.loads(raw))
            self._arrived.set()

    async def expect(self, check: Callable[[dict[str, Any]], bool], after: int = 0,
                     timeout: float = 10) -> dict[str, Any]:
        """The first message from index ``after`` on that passes ``check``, waiting for it
        (``timeout``: on a quiet machine, stretched by the test patience)."""
        async with asyncio.timeout(patience(timeout)):
            while True:
                found = next((m for m in self.messages[after:] if check(m)), None)
                if found is not None:
                    return found
                self._arrived.clear()
                await self._arrived.wait()

    def callbacks(self, task_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("call_id") == f"callback:{task_id}"]

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.gather(self._reader, return_exceptions=True)


async def until(check: Callable[[], object], timeout: float = 10.0) -> None:
    await eventually(check, timeout, every=0.02)


async def rules_looked(server: Any, since: float, times: int = 2) -> None:
    """Wait until the call-back rules have looked at the floor ``times`` times after ``since``
    (monotonic): what they would do to a task, they have done by then."""
    seen: set[float] = set()

    def looked() -> bool:
        if server.engine.evaluated_at > since:
            seen.add(server.engine.evaluated_at)
        return len(seen) >= times

    await until(looked)


def offer_of(task_id: str, **fields: object) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "callback" and m["task_id"] == task_id and all(m[k] == v for k, v in fields.items())


def closed_as(task_id: str, reason: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "pop.closed" and m["call_id"] == f"callback:{task_id}" and m["reason"] == reason


@contextlib.asynccontextmanager
async def serving(sim: SimulatedPbx, redis: Any, tokens: dict[str, str], callback: dict[str, Any] | None = None,
                  spool: Path | None = None, cluster: ClusterConfig | None = None,
                  redis_config: RedisConfig | None = None, **ami: Any) -> AsyncIterator[Floor]:
    """intake attached to ``sim``: offers come back half a second after a desktop goes; ``callback``
    and ``ami``: settings of ``[routing.callback]`` and ``[ami]`` to change; ``spool``: where
    records unwritten at shutdown go; ``cluster``: this node's ``[cluster]``;
    ``redis_config``: the ``[redis]`` section ``redis`` was made by."""
    config = demo_config(sim.config, sim.port, 0,
                         callback={"desktop_grace_seconds": 0.5, "escalate_seconds": 600} | (callback or {}))
    redis_config = redis_config or config.redis
    config = config.model_copy(update={"ami": config.ami.model_copy(update=ami),
                                       "redis": redis_config.model_copy(update={"unwritten_spool": spool and str(spool)}),
                                       "cluster": cluster or config.cluster,
                                       # the floor's tests send wrong tokens on purpose, many from one
                                       # address (test_web_api: three to every route): not a guesser
                                       "http": config.http.model_copy(update={"refused_burst": 1000})})
    secrets = {"ami.secret": sim.config.secret, "supervisors[0].token": tokens["sup1"]}
    secrets |= {f"handlers[{i}].token": tokens[h.id] for i, h in enumerate(config.handlers)}
    bound: list[int] = []
    async with running_server(config, secrets, redis, bound=bound) as server:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{bound[0]}") as http:
            world = Floor(sim, server, http, tokens, redis)
            try:
                yield world
            finally:
                for desk in world.desktops:
                    await desk.close()


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedPbx]:
    """Four handlers as in the demo, none in a queue yet (h1, h2 and h4 work 999); nobody answers
    unless a test says so."""
    async with SimulatedPbx(SimConfig(traffic=None, members_at_start=False, secret=token_source.token_urlsafe(12),
                                      tick=0.005)) as pbx:
        yield pbx


@pytest.fixture
def tokens() -> dict[str, str]:
    return {h: token_source.token_urlsafe(18) for h in ("h1", "h2", "h3", "h4", "sup1")}


@pytest.fixture
async def floor(sim: SimulatedPbx, redis_client: Any, tokens: dict[str, str]) -> AsyncIterator[Floor]:
    async with serving(sim, redis_client, tokens) as world:
        yield world


async def test_an_offer_goes_to_the_next_ready_handler_when_its_handler_leaves_and_stays_once_called(floor: Floor):
    h1, h2 = await floor.desktop("h1"), await floor.desktop("h2")
    task_id = await floor.abandoned_999()
    await floor.state("h1", "ready")
    offer = await h1.expect(offer_of(task_id))
    assert (offer["number"], offer["status"], offer["queue"]) == (NUMBER, "open", "emergency")
    assert offer["history"][0].split(" ", 1)[1].startswith("abandoned after")
    await floor.state("h2", "ready")

    # h1 goes not ready: the card leaves h1's desktop and the task is offered to h2.
    await floor.state("h1", "not-ready", "break")
    await h1.expect(closed_as(task_id, "callback-withdrawn"))
    await h2.expect(offer_of(task_id))

    # h2's desktop goes away: past the grace the task is nobody's (h1 is not ready)...
    await h2.close()
    await until(lambda: floor.server.callbacks.tasks[task_id].offered_to is None)
    listed = (await floor.http.get("/api/callbacks", headers=floor.auth("sup1"))).json()["callbacks"]
    assert [(t["id"], t["offered_to"], t["status"]) for t in listed] == [(task_id, None, "open")]
    steps = [h.split(" ", 1)[1] for h in listed[0]["history"]]
    assert steps[1:] == ["offered to h1", "taken back from h1: went not ready", "offered to h2",
                         "taken back from h2: desktop disconnected"]

    # ...until h1 is back. Once h1 has started the call-back it stays h1's, whatever h1 does.
    seen = len(h1.messages)
    await floor.state("h1", "ready")
    await h1.expect(offer_of(task_id), after=seen)
    r = await floor.http.post(f"/api/callbacks/{task_id}/start", headers=floor.auth("h1"))
    assert r.json() == {"task_id": task_id, "status": "calling"}
    await h1.expect(offer_of(task_id, status="calling"), after=seen)
    seen = len(h1.messages)
    await floor.state("h1", "not-ready", "break")
    await rules_looked(floor.server, since=time.monotonic() + 0.5)  # past the desktop grace, twice
    assert floor.server.callbacks.tasks[task_id].offered_to == "h1"
    assert not [m for m in h1.messages[seen:] if m["type"] == "pop.closed"]

    r = await floor.http.post(f"/api/callbacks/{task_id}/outcome", headers=floor.auth("h1"),
                              json={"contact": "reached", "grading": "resolved", "notes": "pocket dial, caller safe"})
    assert r.json() == {"task_id": task_id, "status": "closed"}
    await h1.expect(closed_as(task_id, "callback-closed"))
    saved = await floor.stored(task_id)
    assert saved["status"] == "closed" and saved["outcome"] == {"contact": "reached", "grading": "resolved",
                                                                "notes": "pocket dial, caller safe"}
    assert (await floor.http.get("/api/callbacks", headers=floor.auth("sup1"))).json()["callbacks"] == []


async def test_the_callbacks_api_lets_only_the_handler_offered_a_task_act_on_it(floor: Floor):
    h1 = await floor.desktop("h1")
    await floor.desktop("h2")
    task_id = await floor.abandoned_999()
    await floor.state("h1", "ready")
    await h1.expect(offer_of(task_id))
    await floor.state("h2", "ready")
    start, outcome = f"/api/callbacks/{task_id}/start", f"/api/callbacks/{task_id}/outcome"

    async def refused(method: str, path: str, who: str | None, status: int, says: str, **body: Any) -> None:
        r = await floor.http.request(method, path, headers=floor.auth(who) if who else {}, **body)
        assert r.status_code == status and says in r.json()["detail"], (path, who, r.text)

    await refused("GET", "/api/callbacks", None, 401, "a valid bearer token is required")
    await refused("GET", "/api/callbacks", "h1", 403, "supervisors only")
    await refused("POST", start, "sup1", 403, "handlers only")
    await refused("POST", "/api/callbacks/no-such-task/start", "h1", 404, "no call-back task 'no-such-task'")
    await refused("POST", start, "h2", 409, "it is offered to another handler, not to you")
    await refused("POST", outcome, "h2", 409, "it is offered to another handler, not to you", json={"contact": "no-answer"})
    bad_outcomes = [({"contact": "reached"}, "grading: required when the caller was reached"),
                    ({"contact": "answered"}, "contact: 'answered' is not one of"),
                    ({"contact": "no-answer", "notes": "x" * 4001}, "notes: longer than 4000 characters"),
                    ({"contact": "no-answer", "outcome": "done"}, "outcome: unknown field")]
    for body, says in bad_outcomes:
        await refused("POST", outcome, "h1", 422, says, json=body)
    await refused("POST", outcome, "h1", 422, "not JSON", content=b"contact=reached")
    assert floor.server.callbacks.tasks[task_id].outcome is None  # nothing of the refused outcomes was kept
    assert (await floor.stored(task_id))["status"] == "open"

    assert (await floor.http.post(start, headers=floor.auth("h1"))).status_code == 200
    await refused("POST", start, "h1", 409, "the call-back is already under way")
    r = await floor.http.post(outcome, headers=floor.auth("h1"), json={"contact": "voicemail", "notes": "left a message"})
    assert r.status_code == 200, r.text
    await refused("POST", start, "h1", 409, "already closed: outcome from h1: voicemail: left a message")
    await refused("POST", outcome, "h1", 409, "already closed", json={"contact": "no-answer"})
    assert (await floor.stored(task_id))["outcome"]["contact"] == "voicemail"


async def test_a_busy_phone_gives_the_task_back_to_its_handler_with_the_pbxs_reason(floor: Floor):
    h1 = await floor.desktop("h1")
    await floor.state("h1", "ready")
    task_id = await floor.abandoned_999()
    await h1.expect(offer_of(task_id))
    # h1 takes a 999 call; the card stays while they are on it. A call-back now: their phone is busy.
    call_id = floor.sim.place_call("emergency", "07700900007", "Next Caller")
    await floor.sim.wait_ringing("PJSIP/handler-1")
    floor.sim.answer("PJSIP/handler-1")
    await until(lambda: floor.server.registry.calls.get(call_id) is not None
                and floor.server.registry.calls[call_id].answered_by == "PJSIP/handler-1")
    r = await floor.http.post(f"/api/callbacks/{task_id}/start", headers=floor.auth("h1"))
    assert r.status_code == 200, r.text  # the PBX took the Originate; its outcome comes later
    again = await h1.expect(offer_of(task_id, status="open", problem="your phone is busy"))
    assert again["history"][-1].split(" ", 1)[1] == "call-back did not start: your phone is busy"
    assert floor.server.callbacks.tasks[task_id].offered_to == "h1"
    assert floor.server.callbacks._originating == {}  # the PBX's word on it came: nothing kept

    # The PBX unreachable: a clear 503, and the task is still h1's to start.
    await floor.sim.stop()
    await until(lambda: not floor.server.session.connected)
    r = await floor.http.post(f"/api/callbacks/{task_id}/start", headers=floor.auth("h1"))
    assert r.status_code == 503 and "the PBX could not be reached" in r.json()["detail"], r.text
    task = floor.server.callbacks.tasks[task_id]
    assert (task.status, task.offered_to) == ("open", "h1")


async def test_a_new_call_from_the_number_closes_the_task_on_the_desktop_and_supervisors_see_every_step(floor: Floor):
    base = str(floor.http.base_url).replace("http", "ws", 1)
    async with await signed_in(f"{base}/ws/supervisor", floor.tokens["sup1"]) as wallboard:
        async def picture(check: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
            async with asyncio.timeout(patience(10)):
                while True:
                    message = json.loads(await wallboard.recv())
                    if check(message["callbacks"]):
                        return message["callbacks"]

        h2 = await floor.desktop("h2")
        task_id = await floor.abandoned_999()
        [opened] = await picture(lambda tasks: bool(tasks))
        assert (opened["id"], opened["number"], opened["offered_to"], opened["escalated"]) == (task_id, NUMBER, None, False)
        assert opened["age_seconds"] >= 0
        await floor.state("h2", "ready")
        await h2.expect(offer_of(task_id))
        await picture(lambda tasks: tasks and tasks[0]["offered_to"] == "h2")

        floor.sim.place_call("emergency", NUMBER, "Pat Caller")
        await h2.expect(closed_as(task_id, "callback-linked"))
        await picture(lambda tasks: tasks == [])
    saved = await floor.stored(task_id)
    assert saved["status"] == "closed" and saved["history"][-1].split(" ", 1)[1].startswith("caller called again (call ")


async def test_after_a_restart_a_call_back_under_way_is_still_its_handlers_and_open_ones_are_offered_afresh(
        sim: SimulatedPbx, redis_client: Any, tokens: dict[str, str]):
    async with serving(sim, redis_client, tokens) as floor:
        h1 = await floor.desktop("h1")
        calling, waiting = await floor.abandoned_999("07700900051"), await floor.abandoned_999("07700900052")
        await floor.state("h1", "ready")
        await h1.expect(offer_of(calling))
        assert (await floor.http.post(f"/api/callbacks/{calling}/start", headers=floor.auth("h1"))).status_code == 200
        await h1.expect(offer_of(calling, status="calling"))
        await floor.state("h2", "ready")
        await floor.desktop("h2")
        await until(lambda: floor.server.callbacks.tasks[waiting].offered_to == "h2")
        await floor.server.writes.flush()

    async with serving(sim, redis_client, tokens) as floor:  # intake restarted; the PBX kept h1 and h2
        h1 = await floor.desktop("h1")
        card = await h1.expect(lambda m: m["type"] == "snapshot")
        assert [(p["call_id"], p["status"]) for p in card["pops"]] == [(f"callback:{calling}", "calling")]
        h2 = await floor.desktop("h2")
        await h2.expect(offer_of(waiting))  # offered afresh: the old offer died with the old server
        listed = (await floor.http.get("/api/callbacks", headers=floor.auth("sup1"))).json()["callbacks"]
        assert {t["id"]: (t["status"], t["offered_to"]) for t in listed} == {calling: ("calling", "h1"), waiting: ("open", "h2")}
        r = await floor.http.post(f"/api/callbacks/{calling}/outcome", headers=floor.auth("h1"), json={"contact": "no-answer"})
        assert r.status_code == 200, r.text


async def test_the_outcome_goes_into_the_callers_history_and_the_next_call_pops_with_it_not_as_a_repeat_call(floor: Floor):
    h1, h2 = await floor.desktop("h1"), await floor.desktop("h2")
    await floor.state("h1", "ready")
    task_id = await floor.abandoned_999()
    await h1.expect(offer_of(task_id))
    assert (await floor.http.post(f"/api/callbacks/{task_id}/start", headers=floor.auth("h1"))).status_code == 200
    started = floor.server.callbacks.tasks[task_id].called_at
    r = await floor.http.post(f"/api/callbacks/{task_id}/outcome", headers=floor.auth("h1"),
                              json={"contact": "reached", "grading": "priority", "notes": "ex-partner outside, unit sent"})
    assert r.status_code == 200, r.text
    await floor.server.writes.flush()  # the entry goes behind the event path, as a settled call's record

    # The caller rings 999 again: h2's pop shows the call-back above the abandoned call.
    await floor.state("h2", "ready")
    call_id = floor.sim.place_call("emergency", NUMBER, "Pat Caller")
    pop = await h2.expect(lambda m: m["type"] == "pop" and m["call_id"] == call_id)
    assert pop["history_status"] == "ok"
    recent = pop["history"]["recent"]
    assert [(c["call_id"], c["disposition"]) for c in recent] == [(f"callback:{task_id}", "called back"), (task_id, "abandoned")]
    back = recent[0]
    assert back["callback"] == {"task_id": task_id, "handler_id": "h1", "handler_name": "Alice Hughes", "contact": "reached"}
    assert (back["grading"], back["notes_excerpt"]) == ("priority", "ex-partner outside, unit sent")
    assert back["at"] == started and back["waited_seconds"] == pytest.approx(started - recent[1]["at"] - recent[1]["waited_seconds"], abs=0.01)
    # Counted as calls from the number: the abandoned one and this one, never our call-back.
    assert (pop["history"]["count_24h"], pop["flags"], pop["repeat"]) == (1, [], None)
    history = (await floor.http.get(f"/api/history/{NUMBER}", params={"reason": "test"}, headers=floor.auth("sup1"))).json()
    assert history["calls_in_window"] == 2 and history["recent"][0]["callback"]["outcome"]["notes"] == "ex-partner outside, unit sent"


async def test_a_task_closed_without_an_outcome_leaves_nothing_in_the_history(floor: Floor):
    h2 = await floor.desktop("h2")
    task_id = await floor.abandoned_999()
    await floor.state("h2", "ready")
    await h2.expect(offer_of(task_id))
    floor.sim.place_call("emergency", NUMBER, "Pat Caller")  # the caller got through: linked, no call-back made
    await h2.expect(closed_as(task_id, "callback-linked"))
    await floor.server.writes.flush()
    history = (await floor.http.get(f"/api/history/{NUMBER}", params={"reason": "test"}, headers=floor.auth("sup1"))).json()
    assert [c["disposition"] for c in history["recent"]] == ["abandoned"]


async def test_a_number_that_cannot_be_dialled_is_followed_up_but_never_reaches_the_pbx(floor: Floor):
    """Issue 11: a caller ID such as ``caller-7&PJSIP/handler-2`` became the Originate's Exten, and
    the dialplan's Dial() rang an extra phone. The task is kept (an abandoned 999 call is followed
    up whatever its number), shown as not dialable; "Call back now" is refused, naming the number."""
    h2 = await floor.desktop("h2")
    injected = await floor.abandoned_999("caller-7&PJSIP/handler-4")
    withheld = await floor.abandoned_999("anonymous")
    await floor.state("h2", "ready")
    card = await h2.expect(offer_of(injected))
    assert card["status"] == "open" and card["cannot_dial"].startswith("is not a dialable number (digits")
    assert card["history"][1].split(" ", 1)[1].startswith("the number cannot be dialled: it is not a dialable number")

    listed = (await floor.http.get("/api/callbacks", headers=floor.auth("sup1"))).json()["callbacks"]
    assert [(t["id"], t["number"], t["offered_to"], t["cannot_dial"][:24]) for t in listed] == [
        (injected, "caller-7&PJSIP/handler-4", "h2", "is not a dialable number"),
        (withheld, "anonymous", None, "is not a dialable number")]

    r = await floor.http.post(f"/api/callbacks/{injected}/start", headers=floor.auth("h2"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("number: the caller's number 'caller-7&PJSIP/handler-4' cannot be dialled: it is not")
    task = floor.server.callbacks.tasks[injected]
    assert (task.status, task.offered_to, task.called_at) == ("open", "h2", None)

    # Another withheld caller is not the same caller: the withheld task stays open.
    other = floor.sim.place_call("non-emergency", "anonymous", "")  # a line h2 does not work: nothing rings
    await until(lambda: other in floor.server.registry.calls)
    assert withheld in floor.server.callbacks.tasks

    # The handler records what they did instead; the desk goes on to the next task.
    r = await floor.http.post(f"/api/callbacks/{injected}/outcome", headers=floor.auth("h2"),
                              json={"contact": "unobtainable", "notes": "no callable number: network operator asked"})
    assert r.status_code == 200, r.text
    await h2.expect(offer_of(withheld))
    r = await floor.http.post(f"/api/callbacks/{withheld}/start", headers=floor.auth("h2"))
    assert r.status_code == 422 and "is empty" not in r.json()["detail"], r.text

    # Nothing was sent: an action round trip later, the PBX has no channel on h2's phone.
    await floor.state("h2", "not-ready", "break")
    assert not [name for name in floor.sim.pbx.channels if name.startswith("PJSIP/handler-2")]


# --- an Originate the PBX never confirms; saves while Redis is away -------------------------------

def pbx_answers_originate_with(monkeypatch: pytest.MonkeyPatch, reply: str) -> None:
    """The simulated PBX answers an Originate with ``reply``: "nothing" (no response at all, as a
    PBX stuck on it), or "queued" (Success, but the call's OriginateResponse never comes)."""
    frames = {"nothing": lambda a: (), "queued": lambda a: (sim_actions.response(a, True, "Originate successfully queued"),)}
    monkeypatch.setitem(sim_actions.HANDLERS, "originate", lambda pbx, a: sim_actions.Reply(frames[reply](a)))


async def offered_to_h1(floor: Floor) -> tuple[Desktop, str]:
    h1 = await floor.desktop("h1")
    await floor.state("h1", "ready")
    task_id = await floor.abandoned_999()
    await h1.expect(offer_of(task_id))
    return h1, task_id


UNCONFIRMED = "the PBX did not confirm the call-back"


async def test_an_originate_the_pbx_never_answers_gives_the_task_back_to_try_again_and_is_forgotten(
        sim: SimulatedPbx, redis_client: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    pbx_answers_originate_with(monkeypatch, "nothing")
    async with serving(sim, redis_client, tokens, action_timeout=2) as floor:  # others answered well within it
        h1, task_id = await offered_to_h1(floor)
        start, seen = f"/api/callbacks/{task_id}/start", len(h1.messages)
        r = await floor.http.post(start, headers=floor.auth("h1"))
        assert r.status_code == 503 and "did not confirm" in r.json()["detail"], r.text
        card = await h1.expect(offer_of(task_id, status="open"), after=seen)
        assert card["problem"].startswith(UNCONFIRMED), card
        assert floor.server.callbacks._originating == {}
        assert (await floor.stored(task_id))["status"] == "open"

        monkeypatch.undo()  # the PBX answers again: the handler tries again, and it goes
        r = await floor.http.post(start, headers=floor.auth("h1"))
        assert r.json() == {"task_id": task_id, "status": "calling"}
        await h1.expect(offer_of(task_id, status="calling", problem=""))


@pytest.mark.parametrize("reply", ["queued", "nothing"])
async def test_a_call_back_the_pbx_link_drops_under_is_given_back_unconfirmed_and_forgotten(
        sim: SimulatedPbx, redis_client: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch, reply: str):
    pbx_answers_originate_with(monkeypatch, reply)
    async with serving(sim, redis_client, tokens, action_timeout=60) as floor:
        h1, task_id = await offered_to_h1(floor)
        desk, seen = floor.server.callbacks, len(h1.messages)
        start = asyncio.create_task(floor.http.post(f"/api/callbacks/{task_id}/start", headers=floor.auth("h1")))
        if reply == "queued":
            assert (await start).json() == {"task_id": task_id, "status": "calling"}
        await until(lambda: len(desk._originating) == 1)
        await sim.stop()  # the link drops before the PBX said how the call-back went
        card = await h1.expect(offer_of(task_id, status="open"), after=seen)
        assert card["problem"].startswith(UNCONFIRMED), card
        assert desk._originating == {}
        if reply == "nothing":
            r = await start
            assert r.status_code == 503 and "did not confirm" in r.json()["detail"], r.text
        assert sum("call-back not confirmed" in step for step in desk.tasks[task_id].history) == 1  # once, however told


async def test_an_originate_response_that_never_comes_over_a_live_link_is_given_up_in_time(
        sim: SimulatedPbx, redis_client: Any, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    pbx_answers_originate_with(monkeypatch, "queued")
    async with serving(sim, redis_client, tokens, callback={"ring_seconds": 0.5}, action_timeout=2) as floor:
        h1, task_id = await offered_to_h1(floor)
        seen = len(h1.messages)
        r = await floor.http.post(f"/api/callbacks/{task_id}/start", headers=floor.auth("h1"))
        assert r.json() == {"task_id": task_id, "status": "calling"}
        # Rung for 0.5 s, confirmed within 2 s, and a margin of 5 s: the card comes back then.
        card = await h1.expect(offer_of(task_id, status="open"), after=seen, timeout=20)
        assert card["problem"].startswith(UNCONFIRMED), card
        assert floor.server.callbacks._originating == {} and floor.server.session.connected


async def test_task_saves_made_while_redis_is_away_land_when_it_is_back_in_order(
        sim: SimulatedPbx, tokens: dict[str, str], tmp_path: Path):
    redis_server = OwnRedis(tmp_path)
    await redis_server.start()
    client = redis_server.client()
    try:
        async with serving(sim, client, tokens) as floor:
            h1 = await floor.desktop("h1")
            redis_server.stop()
            task_id = await floor.abandoned_999()  # opened: saved while Redis is away...
            await floor.state("h1", "ready")
            await h1.expect(offer_of(task_id))  # ...and offered: a later state of the same task
            writes = floor.server.writes
            await until(lambda: len(writes) >= 2 and writes.failures >= 1)
            await redis_server.start()
            stored = await floor.stored(task_id)
            assert stored == floor.server.callbacks.tasks[task_id].model_dump(mode="json")
            assert (stored["offered_to"], stored["history"][-1].split(" ", 1)[1]) == ("h1", "offered to h1")
    finally:
        redis_server.stop()
        await client.aclose()


async def test_a_task_save_still_held_at_shutdown_is_spooled_and_the_next_start_has_the_task_as_it_last_stood(
        sim: SimulatedPbx, tokens: dict[str, str], tmp_path: Path):
    redis_server, spool = OwnRedis(tmp_path), tmp_path / "unwritten.jsonl"
    await redis_server.start()
    client = redis_server.client()
    try:
        async with serving(sim, client, tokens, spool=spool) as floor:
            task_id = await floor.abandoned_999()
            await floor.server.writes.flush()  # opened, and in Redis
            h1 = await floor.desktop("h1")
            redis_server.stop()
            await floor.state("h1", "ready")
            await h1.expect(offer_of(task_id))  # offered while Redis is away: held, then spooled
            last = list(floor.server.callbacks.tasks[task_id].history)
            await until(lambda: floor.server.writes.failures >= 1)
        assert ("callback", task_id) in [(s["kind"], s["call_id"]) for s in map(json.loads, spool.read_text().splitlines())]

        await redis_server.start()
        # h1's desktop is not back yet: a grace long enough that no take-back comes before we look, however busy the machine
        async with serving(sim, client, tokens, spool=spool, callback={"desktop_grace_seconds": 600}) as floor:
            assert floor.server.callbacks.tasks[task_id].history == last
            assert (await floor.stored(task_id))["history"] == last
        assert not spool.exists()
    finally:
        redis_server.stop()
        await client.aclose()


async def test_a_call_backs_grading_is_the_abandoned_calls_in_the_999_misuse_return(floor: Floor):
    h1 = await floor.desktop("h1")
    await floor.state("h1", "ready")
    task_id = await floor.abandoned_999()
    await h1.expect(offer_of(task_id))
    day = date.fromtimestamp(floor.server.callbacks.tasks[task_id].abandoned_at).isoformat()
    assert (await floor.http.post(f"/api/callbacks/{task_id}/start", headers=floor.auth("h1"))).status_code == 200
    r = await floor.http.post(f"/api/callbacks/{task_id}/outcome", headers=floor.auth("h1"),
                              json={"contact": "reached", "grading": "resolved", "notes": "pocket dial"})
    assert r.status_code == 200, r.text
    await floor.server.writes.flush()  # the abandoned call's record goes behind the event path

    r = await floor.http.get(f"/api/returns?from={day}&to={day}", headers=floor.auth("sup1"))
    assert r.status_code == 200, r.text
    misuse = r.json()["misuse"]
    assert [(row["grading"], row["calls"], row["called_back"]) for row in misuse["rows"]] == [("resolved", 1, 1)]
    assert (misuse["months"][0]["not_emergency"], misuse["months"][0]["called_back"]) == (1, 1)
    r = await floor.http.get(f"/api/returns/csv?from={day}&to={day}&table=misuse", headers=floor.auth("sup1"))
    assert r.text.splitlines()[0] == "month,hour,grading,calls,called_back" and r.text.splitlines()[1].endswith(",resolved,1,1")
