"""Two intake nodes on one Redis, following one (simulated) PBX: both keep the whole picture and
journal every call, only the site's leader carries out the wrap-up; when the leader's lease
lapses (its renewals stop: a stalled or cut-off node that still hears the PBX) the other node
takes over, reconciles, and the wrap-up that was running ends once, by the new leader."""

from __future__ import annotations

import contextlib
import secrets as token_source
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx

from intake.app.demo import demo_config
from intake.app.server import IntakeServer
from intake.app.supervise import Supervisor
from intake.core.config import ClusterConfig
from intake.core.handlers import HandlerState
from telephony.actions import Action, Response
from telephony.simulator import SimConfig, SimulatedPbx
from tests.routing.test_callback_desk import Floor, offer_of, rules_looked, serving
from tests.serving import running_server
from tests.waiting import eventually

SITE = "default"
SUPERVISOR = token_source.token_urlsafe(18)
LEASE = 2.0  # long enough that a busy machine does not lose it by accident; a takeover waits for events


@contextlib.asynccontextmanager
async def node(sim: SimulatedPbx, redis: Any, node_id: str,
               clear_seconds: float = 20.0) -> AsyncIterator[tuple[IntakeServer, httpx.AsyncClient, list[Action]]]:
    """A node of the cluster; yields it, an HTTP client on it, and the actions it sent the PBX.
    ``clear_seconds``: how long lent handlers stay after the 999 line is clear."""
    config = demo_config(sim.config, sim.port, 0)
    overflow = config.routing.overflow.model_copy(update={"clear_seconds": clear_seconds})
    config = config.model_copy(update={"cluster": ClusterConfig(enabled=True, node_id=node_id, lease_seconds=LEASE),
                                       "routing": config.routing.model_copy(update={"overflow": overflow})})
    secrets = {"ami.secret": sim.config.secret, "supervisors[0].token": SUPERVISOR}
    secrets |= {f"handlers[{i}].token": token_source.token_urlsafe(18) for i in range(len(config.handlers))}
    bound: list[int] = []
    async with (running_server(config, secrets, redis, bound=bound, tasks=Supervisor(backoff_initial=0.05, backoff_max=0.4))
                as server, httpx.AsyncClient(base_url=f"http://127.0.0.1:{bound[0]}") as http):
        sent: list[Action] = []
        real = server.session.send

        async def send(action: Action, timeout: float | None = None) -> Response:  # what this node asked of the PBX
            sent.append(action)
            return await real(action, timeout)

        server.session.send = send  # type: ignore[method-assign]
        yield server, http, sent


def unpauses(sent: list[Action], member: str) -> list[Action]:
    return [a for a in sent if a.name == "QueuePause" and dict(a.fields).get("Interface") == member
            and dict(a.fields).get("Paused") == "false"]


def pauses(sent: list[Action], member: str) -> list[Action]:
    return [a for a in sent if a.name == "QueuePause" and dict(a.fields).get("Interface") == member
            and dict(a.fields).get("Paused") == "true"]


async def test_only_the_leader_wraps_up_and_the_other_takes_over_and_ends_it_once(redis_client: Any) -> None:
    async with SimulatedPbx(SimConfig(traffic=None, members_at_start=True, secret=token_source.token_urlsafe(12),
                                      tick=0.005)) as sim:
        async with node(sim, redis_client, "node-a") as (a, a_http, a_sent):
            await eventually(a.cluster.gate.acts, 10, "node-a leads the site")
            async with node(sim, redis_client, "node-b") as (b, b_http, b_sent):
                await eventually(lambda: b.cluster.view()[SITE]["leader"] == "node-a", 10, "node-b sees node-a lead")
                assert (await b_http.get("/healthz")).json()["leaders"][SITE] == {
                    "node": "node-b", "role": "follower", "leader": "node-a", "token": None}

                call_id = sim.place_call("emergency", "07700900555", "Caller")
                member = await eventually(lambda: sim.pbx.ringing_member_of(call_id), 10, "a phone rings")
                sim.answer(member)
                await eventually(lambda: a.engine.answered(call_id) and b.engine.answered(call_id), 10,
                                 "both nodes see the answer")
                sim.hangup_caller(call_id)
                # The leader pauses the handler for wrap-up and keeps its timer in Redis.
                await eventually(lambda: pauses(a_sent, member), 10, "node-a pauses the handler for wrap-up")
                await eventually(lambda: redis_client.zcard("intake:timers"), 10, "the wrap-up's timer in Redis")
                # node-a stalls: its renewals stop (it still hears the PBX and runs its timers).
                await a.tasks.stop("lease")
                await eventually(b.cluster.gate.acts, 15, "node-b leads the site")
                assert not a.cluster.gate.acts()  # it stepped down on its own clock, before node-b was granted
                await eventually(lambda: unpauses(b_sent, member), 15, "node-b ends the wrap-up")
                await eventually(lambda: not a.desk.running_wrapups, 15, "node-a's own timer came due")
                await eventually(lambda: not sim.pbx.members.membership("emergency", member).paused, 10,
                                 "the PBX shows the handler ready")
                async def no_timer() -> bool:
                    return await redis_client.zcard("intake:timers") == 0

                await eventually(no_timer, 10, "the timer removed")

                # Only node-a paused; only node-b ended it, once on each of the handler's queues.
                assert pauses(b_sent, member) == []
                assert unpauses(a_sent, member) == []
                queues = [q for q in ("emergency", "non-emergency") if member in sim.pbx.members.queue(q).members]
                assert sorted(dict(u.fields)["Queue"] for u in unpauses(b_sent, member)) == sorted(queues)

                # Both nodes journalled the call: one record.
                await a.writes.flush()
                await b.writes.flush()
                day = date.fromtimestamp(a.pbx_now())
                assert [r.call_id for r in await a.journal.day(day)].count(call_id) == 1
                assert await redis_client.zcard(a.journal.key(day.isoformat())) == 1
                # The stalled node says it does not lead, and does not pretend to know who does.
                assert (await a_http.get("/healthz")).json()["leaders"][SITE] == {
                    "node": "node-a", "role": "follower", "leader": None, "token": None}
                wallboard = (await b_http.get("/api/queues", headers={"Authorization": f"Bearer {SUPERVISOR}"})).json()
                assert wallboard["leaders"][SITE] == {"node": "node-b", "role": "leading", "leader": "node-b", "token": 2}
                assert 'intake_site_leading{node="node-b",site="default"} 1.0' in (await b_http.get("/metrics")).text
                assert 'intake_site_leading{node="node-a",site="default"} 0.0' in (await a_http.get("/metrics")).text


@contextlib.asynccontextmanager
async def leader_and_follower_with_a_task(redis_client: Any) -> AsyncIterator[tuple[Floor, Floor, str]]:
    """node-a leading the site, node-b following it, on one simulated PBX with the call-back
    tests' floor, and a call-back task both opened (an abandoned 999 call): (a, b, its id)."""
    tokens = {h: token_source.token_urlsafe(18) for h in ("h1", "h2", "h3", "h4", "sup1")}
    async with SimulatedPbx(SimConfig(traffic=None, members_at_start=False, secret=token_source.token_urlsafe(12),
                                      tick=0.005)) as sim:
        cluster = {"enabled": True, "lease_seconds": LEASE}
        async with serving(sim, redis_client, tokens, cluster=ClusterConfig(node_id="node-a", **cluster)) as a:
            await eventually(a.server.cluster.gate.acts, 10, "node-a leads the site")
            async with serving(sim, redis_client, tokens, cluster=ClusterConfig(node_id="node-b", **cluster)) as b:
                await eventually(lambda: b.server.cluster.view()[SITE]["leader"] == "node-a", 10, "node-b sees node-a lead")
                task_id = await a.abandoned_999()
                await eventually(lambda: task_id in b.server.callbacks.tasks, 10, "node-b opened the task too")
                yield a, b, task_id


async def test_only_the_leader_offers_call_backs_a_follower_starts_one_and_the_new_leader_takes_it_up(redis_client: Any) -> None:
    async with leader_and_follower_with_a_task(redis_client) as (a, b, task_id):
        on_a, on_b = await a.desktop("h2"), await b.desktop("h2")
        await b.state("h2", "ready")  # a handler's own command, carried out by the follower their desktop is on
        await eventually(lambda: a.server.registry.handlers["PJSIP/handler-2"].state("wrap-up")[0]
                         is HandlerState.READY, 10, "node-a sees h2 ready")
        offered = await on_a.expect(offer_of(task_id, status="open"))
        assert (await a.stored(task_id))["offered_to"] == "h2"
        await on_b.expect(offer_of(task_id, status="open"))  # the leader's offer, through h2's stream
        await rules_looked(b.server, time.monotonic())
        # that one only, with the leader's seq: the follower's rules looked, and offered nothing of their own
        assert [m["seq"] for m in on_b.callbacks(task_id)] == [offered["seq"]]
        assert b.server.callbacks.tasks[task_id].offered_to is None

        # The handler starts the call-back from the follower their desktop is on: it reads
        # the task as the leader saved it, and carries the handler's click out itself.
        started = await b.http.post(f"/api/callbacks/{task_id}/start", headers=b.auth("h2"))
        assert started.status_code == 200, started.text
        assert (await b.stored(task_id))["status"] == "calling"

        await a.server.tasks.stop("lease")  # node-a stalls
        await eventually(b.server.cluster.gate.acts, 15, "node-b leads the site")
        # The new leader took the task up from Redis: still h2's, still being called.
        await on_b.expect(offer_of(task_id, status="calling"))
        assert (await b.stored(task_id))["offered_to"] == "h2"


async def test_an_outcome_filed_on_the_follower_reaches_the_leader_and_is_never_overwritten_by_its_copy(
        redis_client: Any) -> None:
    async with leader_and_follower_with_a_task(redis_client) as (a, b, task_id):
        on_b = await b.desktop("h2")
        await b.state("h2", "ready")
        await on_b.expect(offer_of(task_id, status="open"))  # the leader's offer, on the follower
        assert (await a.stored(task_id))["offered_to"] == "h2"

        # h2 files what they did on the follower their desktop is on: the task is closed in Redis.
        filed = {"contact": "reached", "grading": "priority", "notes": "caller safe, unit on scene"}
        r = await b.http.post(f"/api/callbacks/{task_id}/outcome", headers=b.auth("h2"), json=filed)
        assert r.status_code == 200, r.text
        assert (await b.stored(task_id))["status"] == "closed"

        # The leader learns it from Redis: the task leaves its open tasks and its supervisors' list.
        # h2 going on a break, had it not, would have had the leader take its open copy back from
        # h2 and save it over the outcome.
        await eventually(lambda: task_id not in a.server.callbacks.tasks, 10, "node-a forgets the closed task")
        assert task_id not in [t["id"] for t in a.server.callback_views()]
        await b.state("h2", "not-ready", "break")
        await b.state("h2", "ready")
        await rules_looked(a.server, time.monotonic())
        stored = await a.stored(task_id)
        assert stored["status"] == "closed", stored
        assert stored["outcome"]["notes"] == filed["notes"], stored
        assert [m["status"] for m in on_b.callbacks(task_id) if m["type"] == "callback"] == ["open"]  # never offered again
        # h2 on the leader's node cannot start the call-back of the closed task either.
        started = await a.http.post(f"/api/callbacks/{task_id}/start", headers=a.auth("h2"))
        assert started.status_code in (404, 409), started.text


def membership(sent: list[Action], name: str, member: str, queue: str) -> list[Action]:
    return [a for a in sent if a.name == name and dict(a.fields).get("Interface") == member
            and dict(a.fields).get("Queue") == queue]


async def test_only_the_leader_lends_and_the_new_leader_returns_the_lent_handler_it_found_at_the_pbx(
        redis_client: Any) -> None:
    h3 = "PJSIP/handler-3"  # works the 101 line only
    async with SimulatedPbx(SimConfig(traffic=None, members_at_start=False, secret=token_source.token_urlsafe(12),
                                      tick=0.005)) as sim:
        async with node(sim, redis_client, "node-a", clear_seconds=1.0) as (a, _, a_sent):
            await eventually(a.cluster.gate.acts, 10, "node-a leads the site")
            async with node(sim, redis_client, "node-b", clear_seconds=1.0) as (b, _, b_sent):
                await eventually(lambda: b.cluster.view()[SITE]["leader"] == "node-a", 10, "node-b sees node-a lead")
                sim.add_member("non-emergency", h3, "h3")  # h3 logs in at the phone: ready, 101 only
                call_id = sim.place_call("emergency", "07700900777", "Caller")  # no 999 handler: outnumbered
                await eventually(lambda: membership(a_sent, "QueueAdd", h3, "emergency"), 10, "node-a lends h3")
                await eventually(lambda: b.steering.lent() == [{"handler_id": "h3", "queues": ["emergency"]}], 10,
                                 "node-b sees h3 lent, from the PBX's events")
                assert membership(b_sent, "QueueAdd", h3, "emergency") == []

                await a.tasks.stop("lease")  # node-a stalls
                await eventually(b.cluster.gate.acts, 15, "node-b leads the site")
                sim.hangup_caller(call_id)  # the 999 line is clear: the lent handler goes back after clear_seconds
                await eventually(lambda: membership(b_sent, "QueueRemove", h3, "emergency"), 15, "node-b returns h3")
                await eventually(lambda: h3 not in sim.pbx.members.queue("emergency").members, 10, "the PBX shows h3 back")
                assert membership(a_sent, "QueueRemove", h3, "emergency") == []
                assert len(membership(a_sent, "QueueAdd", h3, "emergency")) == 1
