"""Queues and their members: who may be rung next, and how app_queue describes a member.

Device state belongs to the phone (one per interface, shared by every queue it is in); pause,
penalty and call counts belong to the membership (one per queue), as in app_queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telephony.events import MemberDevice
from telephony.simulator.config import QueueConfig, Strategy


@dataclass(slots=True)
class Membership:
    interface: str
    name: str
    penalty: int = 0
    paused: bool = False
    reason: str = ""
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: bool = False
    dynamic: bool = True


@dataclass(slots=True)
class QueueState:
    config: QueueConfig
    members: dict[str, Membership] = field(default_factory=dict)  # insertion order = member order
    entries: list[str] = field(default_factory=list)  # call ids waiting or ringing, in position order
    rr_next: int = 0  # rrmemory: index to start the next search from
    answered: int = 0
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    total_hold: float = 0.0
    total_talk: float = 0.0

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def service_level(self) -> int:
        return self.config.service_level

    def position(self, call_id: str) -> int:
        return self.entries.index(call_id) + 1

    def choose(self, eligible: set[str]) -> str | None:
        """The member app_queue would ring next among ``eligible`` interfaces.

        Lowest penalty first; among equals, linear takes member order, rrmemory starts after the
        member rung last so that calls go round.
        """
        order = list(self.members)
        if not order:
            return None
        start = self.rr_next if self.config.strategy is Strategy.RRMEMORY else 0
        rotated = order[start % len(order):] + order[: start % len(order)]
        ranked = [i for i in rotated if i in eligible]
        if not ranked:
            return None
        best = min(ranked, key=lambda i: (self.members[i].penalty, ranked.index(i)))
        if self.config.strategy is Strategy.RRMEMORY:
            self.rr_next = order.index(best) + 1
        return best


def member_fields(queue: QueueState, m: Membership, device: MemberDevice) -> list[tuple[str, str]]:
    """The body of QueueMemberStatus/Added/Removed/Pause/Penalty (queue_member_blob_create)."""
    return [
        ("Queue", queue.name),
        ("MemberName", m.name),
        ("Interface", m.interface),
        ("StateInterface", m.interface),
        ("Membership", "dynamic" if m.dynamic else "static"),
        ("Penalty", str(m.penalty)),
        ("CallsTaken", str(m.calls_taken)),
        ("LastCall", str(m.last_call)),
        ("LastPause", str(m.last_pause)),
        ("LoginTime", str(m.login_time)),
        ("InCall", str(int(m.in_call))),
        ("Status", str(device.value)),
        ("Paused", str(int(m.paused))),
        ("PausedReason", m.reason),
        ("Ringinuse", "0"),
        ("Wrapuptime", "0"),
    ]


def status_member_fields(queue: QueueState, m: Membership, device: MemberDevice) -> list[tuple[str, str]]:
    """QueueStatus's QueueMember: the same facts under Name/Location and without Ringinuse, in the
    same order, as manager_queues_status writes them."""
    renamed = {"MemberName": "Name", "Interface": "Location"}
    return [(renamed.get(k, k), v) for k, v in member_fields(queue, m, device) if k != "Ringinuse"]
