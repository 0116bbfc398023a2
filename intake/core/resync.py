"""A resync: the PBX's picture (QueueStatus, CoreShowChannels) merged into the registry's.

The session delivers the list items in stream order, interleaved with live events; the registry
gathers them in a :class:`Snapshot` and, at SnapshotCompleted, :func:`merge` reconciles: calls
answered or gone while we were away, calls talking we never saw, rings and memberships the
picture contradicts, memberships a PBX restart dropped. **Snapshots merge, they do not
replace**: anything a live event touched during the window is newer than the picture and is
left alone. Every change of a call goes through the call table (:mod:`intake.core.calls`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from intake.core.calls import CallState, Step
from intake.core.notices import HandlerChanged, MembershipsLost
from telephony import events as ev

if TYPE_CHECKING:
    from intake.core.notices import Told
    from intake.core.registry import Registry

log = structlog.get_logger("intake.registry")

UNSEEN_WHILE_DOWN = "unseen-while-intake-was-down"
"""The end reason of a call offered before a restart and gone from the PBX at the first resync:
its outcome (answered and over, or abandoned) came while intake was down, and nobody tells."""

# A member's phone may be ringing (UNKNOWN: a Local member with no state interface cannot tell).
MAY_RING = (ev.MemberDevice.RINGING, ev.MemberDevice.RINGINUSE, ev.MemberDevice.UNKNOWN)
ITEMS = (ev.SnapshotStarted, ev.WaitingCallSeen, ev.MemberSeen, ev.ChannelSeen, ev.SnapshotCompleted)
"""The events that make up the picture (every other event during the window is a live one)."""


@dataclass(slots=True)
class Snapshot:
    """What the PBX's picture says, gathered between SnapshotStarted and SnapshotCompleted."""

    waiting: set[str] = field(default_factory=set)
    members: dict[str, dict[str, ev.MemberState]] = field(default_factory=dict)
    channels: list[ev.ChannelSeen] = field(default_factory=list)
    touched_calls: set[str] = field(default_factory=set)
    touched_members: set[str] = field(default_factory=set)

    def touched_by(self, event: ev.DomainEvent) -> None:
        """A live event during the window: what it is about is newer than the picture."""
        call_id = getattr(event, "call_id", None) or getattr(event, "channel_id", None)
        if call_id:
            self.touched_calls.add(call_id)
        state = getattr(event, "state", None)
        member = getattr(event, "member", None) or getattr(state, "member", None)
        if member:
            self.touched_members.add(member)


def merge(reg: Registry, snap: Snapshot, at: float, told: Told) -> None:
    """Reconcile the registry with the PBX's picture ``snap``, complete at ``at``."""
    reg.counters.snapshots += 1
    live = {c.channel_id: c for c in snap.channels}
    # Calls answered at the PBX: a caller channel in Queue() bridged to a handler's channel.
    by_bridge: dict[str, list[ev.ChannelSeen]] = {}
    for c in snap.channels:
        if c.bridge_id:
            by_bridge.setdefault(c.bridge_id, []).append(c)
    _calls(reg, snap, live, by_bridge, at, told)
    _found_talking(reg, snap, by_bridge, at, told)
    # Arrivals of channels the PBX no longer has: their Hangup was lost while away (or on the
    # wire). Held on, they would only fill the table up to its cap.
    for channel_id in [k for k in reg._arrivals if k not in live and k not in snap.touched_calls]:
        del reg._arrivals[channel_id]
    _rings(reg, snap, at, told)
    _memberships(reg, snap, told)
    log.info("resynced", live_calls=len(reg.calls), waiting=len(snap.waiting), channels=len(snap.channels))


def _calls(reg: Registry, snap: Snapshot, live: dict[str, ev.ChannelSeen], by_bridge: dict[str, list[ev.ChannelSeen]],
           at: float, told: Told) -> None:
    """The calls we follow that the picture shows answered, or no longer shows."""
    for call in list(reg.calls.values()):
        if call.call_id in snap.waiting or call.call_id in snap.touched_calls:
            continue
        seen = live.get(call.call_id)
        if seen is not None and seen.application.lower() == "queue" and seen.bridged:
            if call.state is not CallState.ANSWERED:
                # Answered while we were away: the exact moment is lost; the snapshot is
                # an upper bound on the wait, and the PBX's queue_log keeps the true one.
                member = member_in_bridge(reg, by_bridge.get(seen.bridge_id, []), call.call_id)
                call.outcome_seen = False
                reg.step(call, Step.ANSWERED, at, told, member=member)
        elif seen is None or call.state is not CallState.ANSWERED:
            # Gone from the PBX, or out of the queue and not talking to a handler.
            reg.counters.vanished_calls += 1
            call.outcome_seen = not call.state.waiting  # gone while it waited: how it ended nobody saw
            if reg.unconfirmed(call.call_id):
                # Offered before a restart, over before intake was back: answered and done, or
                # abandoned, nobody can say. Counted as offered and left, and said so.
                call.end_reason = UNSEEN_WHILE_DOWN
                log.warning("call_outcome_unseen", call_id=call.call_id, queue=call.queue, queued_at=call.queued_at)
            reg.step(call, Step.VANISHED, at, told)


def _found_talking(reg: Registry, snap: Snapshot, by_bridge: dict[str, list[ev.ChannelSeen]], at: float, told: Told) -> None:
    """Calls answered before we watched: shown live, but their wait is unknown, so they count in
    no figure (neither offered nor answered on our watch)."""
    for c in snap.channels:
        if c.application.lower() == "queue" and c.bridged and c.channel_id not in reg.calls and c.queue in reg.queues:
            found = reg.new_call(c.channel_id, c.queue, c.caller_number, c.caller_name, c.channel,
                                 at - c.duration_seconds, (c.linked_id,), told, observed=False, counted=False)
            if found is not None:
                member = member_in_bridge(reg, by_bridge.get(c.bridge_id, []), c.channel_id)
                reg.step(found, Step.FOUND_TALKING, at, told, member=member)


def _rings(reg: Registry, snap: Snapshot, at: float, told: Told) -> None:
    """Rings the picture contradicts: a member whose phone it shows not ringing (or in no queue:
    a garbled Interface) rings for no waiting call; its AgentRingNoAnswer was lost. (A ring heard
    during the snapshot touched its member, and stands.)"""
    for call in [c for c in reg.calls.values() if c.state.waiting]:
        for member in sorted(call.ringing - snap.touched_members):
            in_queue = snap.members.get(member, {}).get(call.queue)
            if in_queue is None or in_queue.device not in MAY_RING:
                reg.stop_ringing(call, member, "rang-out", told)
        if not call.ringing and call.state is CallState.RINGING:
            reg.step(call, Step.RANG_OUT, at, told)


def _memberships(reg: Registry, snap: Snapshot, told: Told) -> None:
    """The snapshot is the whole truth of memberships; what a lost link took is told."""
    for member, h in reg.handlers.items():
        if member in snap.touched_members:
            continue
        fresh = snap.members.get(member, {})
        if h.memberships != fresh:
            h.memberships = dict(fresh)
            reg.reseat(h)
            told.plain(HandlerChanged(member))
    # Static memberships the picture no longer shows may be warned about again.
    reg.fixed = {(m, q) for m, q in reg.fixed if (s := reg.handlers[m].memberships.get(q)) is not None and s.fixed}
    before, reg.before_loss = reg.before_loss or {}, None
    for member, queues in before.items():
        now_in = reg.handlers[member].memberships
        lost = {q: s for q, s in queues.items() if q not in now_in or (s.paused and now_in[q].fixed and not now_in[q].paused)}
        if lost:
            log.warning("memberships_lost", member=member, queues=sorted(lost))
            told.plain(MembershipsLost(member, lost))
    # A member no configuration names, in no queue of the PBX's picture and on no call (a
    # garbled Interface, a static member since removed): nothing will ever tell of it again.
    for member in [m for m, h in reg.handlers.items() if h.handler_id is None and not h.memberships
                   and not h.ringing_for and h.on_call is None and m not in snap.touched_members]:
        del reg.handlers[member]


def member_in_bridge(reg: Registry, channels: list[ev.ChannelSeen], caller_id: str) -> str | None:
    """The member whose phone is the other party in a bridge (its channel is member-NNNN)."""
    for c in channels:
        if c.channel_id == caller_id:
            continue
        for member in reg.handlers:
            if c.channel.startswith(member + "-"):
                return member
    return None
