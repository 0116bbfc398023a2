"""The edge of the routing policy when a decision cannot be sent: a failure counted and decided
again, never a dead task with the decision stuck in flight."""

from __future__ import annotations

from intake.app.server import registry_of
from intake.core.config import parse
from routing.policy import Lend, Reason
from routing.steering import SETTLE, Steering
from telephony.actions import Action, Response
from telephony.errors import ActionFailed

CONFIG = parse({
    "ami": {"secret": "env:X"},
    "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]},
              {"name": "101", "target_seconds": 60, "queues": ["non-emergency"]}],
    "handlers": [{"id": "h3", "name": "Cara", "member": "PJSIP/handler-3", "queues": ["non-emergency"], "token": "env:T"}],
})


class Pbx:
    def __init__(self) -> None:
        self.sent: list[Action] = []

    async def send(self, action: Action, timeout: float | None = None) -> Response:
        self.sent.append(action)
        raise AssertionError("nothing should reach the PBX")


async def test_a_decision_whose_action_the_builder_refuses_is_a_counted_failure_and_leaves_flight():
    pbx = Pbx()
    steering = Steering(CONFIG, registry_of(CONFIG), pbx, now=lambda: 0.0, monotonic=lambda: 100.0)
    # As a policy working from a queue name the PBX reported could decide: "emergency,x" may not be sent.
    await steering._send(Lend("PJSIP/handler-3", "h3", "emergency,x", 5, Reason.TARGET_AT_RISK, "test"))
    assert pbx.sent == [] and steering.failures == 1
    assert steering._in_flight[("PJSIP/handler-3", "emergency,x")] == 100.0 + SETTLE  # decided again after the settle


class RefusingPbx(Pbx):
    """A PBX whose queues changed behind intake's back (a reload): it refuses the QueueAdd."""

    async def send(self, action: Action, timeout: float | None = None) -> Response:
        self.sent.append(action)
        raise ActionFailed(action.name, action.action_id, "Unable to add interface to queue: No such queue")


async def test_a_lend_the_pbx_refuses_asks_for_the_pbxs_picture_again_and_is_decided_again():
    pbx, asked = RefusingPbx(), []
    steering = Steering(CONFIG, registry_of(CONFIG), pbx, now=lambda: 0.0, monotonic=lambda: 100.0, resync=asked.append)
    await steering._send(Lend("PJSIP/handler-3", "h3", "emergency", 5, Reason.TARGET_AT_RISK, "test"))
    assert [a.name for a in pbx.sent] == ["QueueAdd"] and steering.failures == 1
    assert asked == ["QueueAdd refused for h3: Unable to add interface to queue: No such queue"]
    assert steering._in_flight[("PJSIP/handler-3", "emergency")] == 100.0 + SETTLE
