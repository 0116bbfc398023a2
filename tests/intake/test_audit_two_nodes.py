"""With two nodes following one PBX, both publish every pop (one copy takes its place in the
handler's stream): the caller's history was shown once, and the audit trail says so once, naming
the node whose copy the desktop got."""

from __future__ import annotations

import secrets as token_source
from typing import Any

from intake.app.audit_store import AuditStore
from telephony.simulator import SimConfig, SimulatedPbx
from tests.intake.test_two_nodes import SITE, node
from tests.waiting import eventually

NUMBER = "07700900555"


async def test_a_pop_both_nodes_publish_is_one_consultation(redis_client: Any) -> None:
    async with SimulatedPbx(SimConfig(traffic=None, members_at_start=True, secret=token_source.token_urlsafe(12),
                                      tick=0.005)) as sim:
        async with node(sim, redis_client, "node-a") as (a, _, _):
            await eventually(a.cluster.gate.acts, 10, "node-a leads the site")
            async with node(sim, redis_client, "node-b") as (b, _, _):
                await eventually(lambda: b.cluster.view()[SITE]["leader"] == "node-a", 10, "node-b sees node-a lead")
                for n in (a, b):  # a busy machine's slow append must not send the pop without its seq (then each node may tell)
                    n.hub._budget = 30.0  # type: ignore[attr-defined]
                call_id = sim.place_call("emergency", NUMBER, "Caller")
                await eventually(lambda: sim.pbx.ringing_member_of(call_id), 10, "a phone rings")
                for n in (a, b):  # each node published the pop: its copy appended, or found there
                    await eventually(lambda n=n: n.hub.counters.sequenced + n.hub.counters.already_there, 10,
                                     "the node published the pop")
                    await n.pops.drain()
                for n in (a, b):
                    await n.audit.flush()
                entries = [link.entry async for link in AuditStore(redis_client, "intake:").entries()]
                assert [(e.action.value, e.kind.value, e.number, e.why) for e in entries] == [
                    ("consulted", "history", NUMBER, f"call {call_id}")]
                assert entries[0].node in (a.audit.node, b.audit.node)
                assert a.hub.counters.sequenced + b.hub.counters.sequenced == 1  # one copy took its place
