"""Who is in which queue, in what state, and who may be rung: the member side of app_queue.

Every change here is announced the way app_queue announces it: QueueMemberAdded / Removed /
Pause / Penalty for the membership it touched, and QueueMemberStatus for *every* queue a phone
is in whenever that phone's device state changes (app_queue's device_state_cb walks all queues).
"""

from __future__ import annotations

from collections.abc import Callable

from telephony.events import MemberDevice
from telephony.simulator import wire
from telephony.simulator.config import QueueConfig
from telephony.simulator.errors import MemberAlreadyThere, NoSuchMember, NoSuchQueue
from telephony.simulator.queue_log import QueueLog
from telephony.simulator.queues import Membership, QueueState, member_fields


class MemberBook:
    def __init__(self, queues: tuple[QueueConfig, ...], emit: Callable[[wire.AmiEvent], None], clock: Callable[[], float],
                 queue_log: QueueLog) -> None:
        self.queues: dict[str, QueueState] = {q.name: QueueState(q) for q in queues}
        self.devices: dict[str, MemberDevice] = {}
        self._names: dict[str, str] = {}
        self._emit = emit
        self._clock = clock
        self._log = queue_log

    # --- lookups -------------------------------------------------------------------------------

    def queue(self, name: str) -> QueueState:
        q = self.queues.get(name)
        if q is None:
            raise NoSuchQueue(name)
        return q

    def membership(self, queue: str, interface: str) -> Membership:
        m = self.queue(queue).members.get(interface)
        if m is None:
            raise NoSuchMember(queue, interface)
        return m

    def name_of(self, interface: str) -> str:
        return self._names.get(interface, interface)

    def device(self, interface: str) -> MemberDevice:
        return self.devices.get(interface, MemberDevice.NOT_INUSE)

    def queues_of(self, interface: str) -> list[QueueState]:
        return [q for q in self.queues.values() if interface in q.members]

    def interface_of_channel(self, channel: str) -> str | None:
        """``PJSIP/handler-1-0000001f`` -> ``PJSIP/handler-1`` when that phone is known."""
        base = channel.rsplit("-", 1)[0]
        return base if base in self._names else None

    # --- who may ring ----------------------------------------------------------------------------

    def pick(self, queue: str) -> str | None:
        """The member to ring for a caller of ``queue`` now, or None (ringinuse=no, paused skipped)."""
        q = self.queue(queue)
        eligible = {
            i for i, m in q.members.items()
            if not m.paused and self.device(i) is MemberDevice.NOT_INUSE and not self._kept_for_heavier(q, i)
        }
        return q.choose(eligible)

    def _kept_for_heavier(self, q: QueueState, interface: str) -> bool:
        """app_queue's compare_weight: a member also in a heavier queue with callers is left to it."""
        return any(
            other.config.weight > q.config.weight and other.entries
            for other in self.queues_of(interface)
            if other is not q
        )

    # --- changes ---------------------------------------------------------------------------------

    def know_phone(self, interface: str, name: str) -> None:
        """A handler's phone exists (registered), whether or not it is in a queue yet."""
        self._names.setdefault(interface, name)

    def add(self, queue: str, interface: str, name: str = "", penalty: int = 0, paused: bool = False,
            reason: str = "", silent: bool = False) -> None:
        q = self.queue(queue)
        if interface in q.members:
            raise MemberAlreadyThere(queue, interface)
        now = int(self._clock())
        self._names.setdefault(interface, name or interface)
        m = Membership(interface, name or self._names[interface], penalty, paused, reason if paused else "",
                       login_time=now, last_pause=now if paused else 0)
        q.members[interface] = m
        if not silent:
            self._log.write(now, "MANAGER", queue, m.name, "ADDMEMBER", "PAUSED" if paused else "")
            self._announce("QueueMemberAdded", q, m)

    def remove(self, queue: str, interface: str) -> None:
        q = self.queue(queue)
        m = q.members.get(interface)
        if m is None:
            raise NoSuchMember(queue, interface)
        self._log.write(self._clock(), "MANAGER", queue, m.name, "REMOVEMEMBER", "")
        self._announce("QueueMemberRemoved", q, m)
        del q.members[interface]

    def pause(self, interface: str, paused: bool, queue: str | None = None, reason: str = "") -> None:
        """QueuePause: one queue, or every queue the phone is in when ``queue`` is None."""
        targets = [self.queue(queue)] if queue else self.queues_of(interface)
        targets = [q for q in targets if interface in q.members]
        if not targets:
            raise NoSuchMember(queue, interface)
        if queue is None:  # recorded: one PAUSEALL/UNPAUSEALL line, then one per queue
            self._log.write(self._clock(), "NONE", "NONE", self.name_of(interface), "PAUSEALL" if paused else "UNPAUSEALL", "")
        for q in targets:
            m = q.members[interface]
            m.paused, m.reason = paused, reason if paused else ""
            if paused:
                m.last_pause = int(self._clock())
            self._log.write(self._clock(), "NONE", q.name, m.name, "PAUSE" if paused else "UNPAUSE", reason if paused else "")
            # Asterisk 22 reports the reason as PausedReason only (recorded: no Reason field).
            self._announce("QueueMemberPause", q, m)

    def set_penalty(self, interface: str, penalty: int, queue: str | None = None) -> None:
        targets = [self.queue(queue)] if queue else self.queues_of(interface)
        targets = [q for q in targets if interface in q.members]
        if not targets:
            raise NoSuchMember(queue, interface)
        for q in targets:
            q.members[interface].penalty = penalty
            self._log.write(self._clock(), "NONE", q.name, interface, "PENALTY", penalty)  # interface, as recorded
            self._announce("QueueMemberPenalty", q, q.members[interface])

    def set_device(self, interface: str, state: MemberDevice) -> None:
        if self.device(interface) is state:
            return
        self.devices[interface] = state
        for q in self.queues_of(interface):
            self._announce("QueueMemberStatus", q, q.members[interface])

    def set_in_call(self, interface: str, queue: str, in_call: bool) -> None:
        """Recorded: only the queue that connected the call says InCall 1; the others show the
        phone in use (Status 2) with InCall 0."""
        q = self.queue(queue)
        if interface in q.members:
            q.members[interface].in_call = in_call

    def finish_call(self, interface: str, at: int) -> None:
        for q in self.queues_of(interface):
            m = q.members[interface]
            m.in_call, m.last_call = False, at
        # CallsTaken counts in the queue that delivered the call only; callers update it there.

    def _announce(self, name: str, q: QueueState, m: Membership) -> None:
        self._emit(wire.event(name, wire.AGENT, self._clock(), member_fields(q, m, self.device(m.interface))))
