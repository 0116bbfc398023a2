"""The call registry: every live queue call and every handler, fed only by domain events.

:meth:`Registry.apply` takes one event and returns the notices it gave rise to (a handler's
phone started ringing for a call, stopped ringing, answered it, a call finished); it does no I/O,
so a recorded event sequence replays through it in a test exactly as it runs in the server. The
per-call rules are in :mod:`intake.core.calls`; this module routes events to calls and handlers,
reconciles a resync snapshot and feeds the figures in :mod:`intake.core.metrics`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from intake.core.calls import Call, CallState, Step, next_state
from intake.core.errors import IllegalTransition
from intake.core.handlers import Handler
from intake.core.in_progress import InProgress
from intake.core.metrics import QueueMetrics
from screenpop.models import is_ident
from telephony import events as ev

log = structlog.get_logger("intake.registry")

MAX_ARRIVALS = 50_000  # channels seen created but not yet queued or hung up
RECENT_HANGUPS = 10_000  # channels hung up lately: a queue event read after its channel's Hangup is stale
UNSEEN_WHILE_DOWN = "unseen-while-intake-was-down"
"""The end reason of a call offered before a restart and gone from the PBX at the first resync:
its outcome (answered and over, or abandoned) came while intake was down, and nobody tells."""


@dataclass(frozen=True, slots=True)
class Queued:
    """A call we now follow (it joined a queue, or a resync showed it waiting or talking).

    Nothing reads its fields today, but it is why a new call moves the floor: the server re-runs
    the routing policy and refreshes the wallboard on any event that gave a notice."""

    call: Call


@dataclass(frozen=True, slots=True)
class Ringing:
    call: Call
    member: str


@dataclass(frozen=True, slots=True)
class RingStopped:
    """A member's phone stopped ringing for a call it did not answer; ``reason`` says why."""

    call: Call
    member: str
    reason: str  # rang-out | answered-elsewhere | abandoned | left | vanished


@dataclass(frozen=True, slots=True)
class Answered:
    call: Call
    member: str


@dataclass(frozen=True, slots=True)
class Settled:
    """A counted call's outcome in its queue is known (answered, abandoned or left): the figures
    counted it just now, and its journal record is due (a call answered is settled long before
    it finishes: a restart in between must find it in the journal)."""

    call: Call


@dataclass(frozen=True, slots=True)
class Finished:
    """A call reached a final state: the moment to write its contact record."""

    call: Call


@dataclass(frozen=True, slots=True)
class HandlerChanged:
    member: str


@dataclass(frozen=True, slots=True)
class MembershipsLost:
    """After a lost link, the PBX's picture no longer has a member in queues it was in before
    (an Asterisk restart forgets every member: persistentmembers = no), or has a static member
    (queues.conf ``member =>``) back unpaused that was paused (a restart reads queues.conf
    afresh). ``lost`` is the member's state in each such queue as last seen, so the edge can put
    it back as it was."""

    member: str
    lost: dict[str, ev.MemberState]


@dataclass(frozen=True, slots=True)
class ResyncWanted:
    """The picture may no longer be the PBX's: the PBX read its queues' configuration again (a
    reload changes members without a member event). The edge asks the PBX for its picture."""

    reason: str


Notice = Queued | Ringing | RingStopped | Answered | Settled | Finished | HandlerChanged | MembershipsLost | ResyncWanted


@dataclass(slots=True)
class Counters:
    events: int = 0
    illegal_transitions: int = 0
    orphan_events: int = 0  # about a call we never saw queued (joined before we watched)
    stale_joins: int = 0  # a QueueCallerJoin repeated, or read after its channel's Hangup
    unusable_call_ids: int = 0  # a call id no Asterisk writes (no record could be filed under it)
    other_queue_events: int = 0  # about a queue on no configured line
    snapshots: int = 0
    vanished_calls: int = 0


@dataclass(slots=True)
class _Snapshot:
    """What the PBX's picture says, gathered between SnapshotStarted and SnapshotCompleted.

    The session delivers the list items in stream order, interleaved with live events; anything
    a live event touched during the window is newer than the picture and is left alone.
    """

    waiting: set[str] = field(default_factory=set)
    members: dict[str, dict[str, ev.MemberState]] = field(default_factory=dict)
    channels: list[ev.ChannelSeen] = field(default_factory=list)
    touched_calls: set[str] = field(default_factory=set)
    touched_members: set[str] = field(default_factory=set)


class Registry:
    def __init__(self, queues: Mapping[str, tuple[str, float]], *, handlers: dict[str, tuple[str, str]] | None = None,
                 wrapup_reason: str = "wrap-up", settle_grace: float = 2.0) -> None:
        """``queues``: queue -> (line, target seconds); ``handlers``: member -> (handler id, name)."""
        self.queues = dict(queues)
        self.wrapup_reason = wrapup_reason
        self.settle_grace = settle_grace
        self.metrics = QueueMetrics(self.queues)
        self.calls: dict[str, Call] = {}
        self.handlers: dict[str, Handler] = {
            member: Handler(member, name, handler_id) for member, (handler_id, name) in (handlers or {}).items()
        }
        self.counters = Counters()
        self.link_up = False
        self.pbx_version = ""
        self.now = 0.0
        self._arrivals: OrderedDict[str, float] = OrderedDict()
        self._hung_up: OrderedDict[str, None] = OrderedDict()
        self._snapshot: _Snapshot | None = None
        # Each member's queues as they were when the link went down (the first loss of a run of
        # failed reconnects), compared with the resync's picture once it completes.
        self._before_loss: dict[str, dict[str, ev.MemberState]] | None = None
        # (member, queue) pairs seen held by the PBX's configuration (static/realtime), each
        # warned about once while it lasts.
        self._fixed: set[tuple[str, str]] = set()
        # Calls offered before a restart and not yet journalled (adopt_in_progress), held until
        # the PBX link is up; then followed, and settled by the resync if it finds them answered
        # or gone (_unconfirmed: those the resync has yet to confirm).
        self._adopted: dict[str, Call] = {}
        self._unconfirmed: set[str] = set()

    # --- reading -------------------------------------------------------------------------

    def waiting_calls(self) -> list[Call]:
        return [c for c in self.calls.values() if c.state.waiting]

    def report(self, now: float | None = None) -> dict[str, Any]:
        now = self.now if now is None else now
        return self.metrics.report(self.waiting_calls(), now)

    def handler(self, member: str) -> Handler:
        if member not in self.handlers:
            self.handlers[member] = Handler(member, member)
        return self.handlers[member]

    # --- feeding -------------------------------------------------------------------------

    def adopt_in_progress(self, records: Iterable[InProgress]) -> int:
        """Calls a previous run offered and had not journalled (:mod:`intake.core.in_progress`), given
        before the first resync: it follows those still waiting, and settles those it finds
        answered or gone, so each is counted and journalled once. Returns how many were taken."""
        for r in records:
            if r.queue not in self.queues or not is_ident(r.call_id) or r.call_id in self.calls:
                continue
            line, target = self.queues[r.queue]
            call = Call(r.call_id, r.queue, line, target, r.caller_number, r.caller_name, r.channel, r.queued_at,
                        arrived_at=r.arrived_at, observed_from_start=False, silent=r.silent)
            self._adopted[r.call_id] = call
        return len(self._adopted)

    def _follow_adopted(self, notices: list[Notice]) -> None:
        """The adopted calls join the live ones as the PBX link comes up (live events about them
        may come before the snapshot does), offered now: the journal the figures were rebuilt
        from does not have them."""
        for call in self._adopted.values():
            if call.call_id in self.calls:
                continue
            self.calls[call.call_id] = call
            self._unconfirmed.add(call.call_id)
            self.metrics.offered(call)
            notices.append(Queued(call))
            log.info("call_adopted", call_id=call.call_id, queue=call.queue, queued_at=call.queued_at)
        self._adopted.clear()

    def apply(self, event: ev.DomainEvent) -> list[Notice]:
        self.counters.events += 1
        self.now = max(self.now, event.at)
        handler = _DISPATCH.get(type(event))
        if handler is None:
            return []
        notices: list[Notice] = []
        if self._snapshot is not None and not isinstance(event, _SNAPSHOT_ITEMS):
            call_id = getattr(event, "call_id", None) or getattr(event, "channel_id", None)
            if call_id:
                self._snapshot.touched_calls.add(call_id)
            state = getattr(event, "state", None)
            member = getattr(event, "member", None) or getattr(state, "member", None)
            if member:
                self._snapshot.touched_members.add(member)
        try:
            handler(self, event, notices)
        except IllegalTransition as exc:
            self.counters.illegal_transitions += 1
            log.warning("illegal_transition", call_id=exc.call_id, state=exc.state, step=exc.event)
        return notices

    def tick(self, now: float) -> list[Notice]:
        """Settle calls that left the queue unanswered: no AgentConnect came within the grace."""
        self.now = max(self.now, now)
        notices: list[Notice] = []
        for call in [c for c in self.calls.values() if c.state is CallState.LEAVING]:
            if call.left_at is not None and now - call.left_at >= self.settle_grace:
                self._step(call, Step.SETTLED, now, notices)
        return notices

    # --- the steps --------------------------------------------------------------------------

    def _step(self, call: Call, step: Step, at: float, notices: list[Notice], *, member: str | None = None) -> None:
        before = call.state
        call.state = next_state(call.call_id, before, step)
        if call.state is before:
            return
        log.info("call_state", call_id=call.call_id, queue=call.queue, state=call.state.value, was=before.value, step=step.value)
        if call.state is CallState.ANSWERED:
            call.answered_at = at if call.answered_at is None else call.answered_at
            call.answered_by = member
            for other in sorted(call.ringing - {member}):
                self._stop_ringing(call, other, "answered-elsewhere", notices)
            if member is not None:
                self._stop_ringing(call, member, None, notices)
                h = self.handler(member)
                h.on_call = call.call_id
                notices += [Answered(call, member), HandlerChanged(member)]
            if call.counted:
                self.metrics.settled(call)
                notices.append(Settled(call))
        elif call.state is CallState.LEAVING:
            call.left_at = at
        elif call.state in (CallState.ABANDONED, CallState.LEFT):
            call.left_at = call.left_at or at
            call.ended_at = at
            reason = "abandoned" if call.state is CallState.ABANDONED else ("vanished" if step is Step.VANISHED else "left")
            for other in sorted(call.ringing):
                self._stop_ringing(call, other, reason, notices)
            if call.counted:
                self.metrics.settled(call)
                notices.append(Settled(call))
        if call.state is CallState.COMPLETED:
            call.ended_at = at
            if call.answered_by is not None:
                h = self.handler(call.answered_by)
                if h.on_call == call.call_id:
                    h.on_call = None
                    notices.append(HandlerChanged(call.answered_by))
        if call.state.final:
            call.end_reason = call.end_reason or step.value
            del self.calls[call.call_id]
            notices.append(Finished(call))

    def _stop_ringing(self, call: Call, member: str, reason: str | None, notices: list[Notice]) -> None:
        call.ringing.discard(member)
        h = self.handler(member)
        h.ringing_for.discard(call.call_id)
        if reason is not None:
            notices += [RingStopped(call, member, reason), HandlerChanged(member)]

    def _call_for(self, call_id: str, queue: str) -> Call | None:
        call = self.calls.get(call_id)
        if call is None:
            if queue in self.queues:
                self.counters.orphan_events += 1
            else:
                self.counters.other_queue_events += 1
        return call

    def _new_call(self, call_id: str, queue: str, number: str, name: str, channel: str, queued_at: float,
                  arrival_keys: tuple[str, ...], notices: list[Notice], *, observed: bool, counted: bool = True) -> Call | None:
        if queue not in self.queues:
            self.counters.other_queue_events += 1
            return None
        if not is_ident(call_id):
            # A garbled Uniqueid: neither its journal record nor its contact record nor its pop
            # could carry it. Not followed, like a Join that never came.
            self.counters.unusable_call_ids += 1
            log.warning("unusable_call_id", call_id=call_id[:80], queue=queue)
            return None
        line, target = self.queues[queue]
        arrived = next((self._arrivals[k] for k in arrival_keys if k in self._arrivals), None)
        call = Call(call_id, queue, line, target, number, name, channel, queued_at,
                    arrived_at=arrived if arrived is not None and arrived <= queued_at else None,
                    observed_from_start=observed)
        call.counted = counted
        self.calls[call_id] = call
        if counted:
            self.metrics.offered(call)
        notices.append(Queued(call))
        log.info("call_state", call_id=call_id, queue=queue, line=line, state=call.state.value, caller=number)
        return call

    def _on_queued(self, e: ev.CallQueued, notices: list[Notice]) -> None:
        old = self.calls.get(e.call_id)
        if e.call_id in self._hung_up or (old is not None and old.queue == e.queue and old.state.waiting):
            # A channel is in a queue once at a time, and a hung-up one in none: this Join was
            # sent twice or read out of order. Taken as a new call it would be offered, settled
            # and journalled twice.
            self.counters.stale_joins += 1
            log.warning("stale_join", call_id=e.call_id, queue=e.queue)
            return
        if old is not None:  # the same channel moved on to another queue before we settled it
            self._step(old, Step.SETTLED if old.state is CallState.LEAVING else Step.VANISHED, e.at, notices)
        call = self._new_call(e.call_id, e.queue, e.caller_number, e.caller_name, e.channel, e.at,
                              (e.linked_id, e.call_id), notices, observed=True)
        if call is not None:
            call.silent = e.silent

    def _on_rang(self, e: ev.HandlerRang, notices: list[Notice]) -> None:
        call = self._call_for(e.call_id, e.queue)
        if call is None:
            return
        self._step(call, Step.RANG, e.at, notices)
        call.ringing.add(e.member)
        call.rung.add(e.member)
        self.handler(e.member).ringing_for.add(call.call_id)
        notices += [Ringing(call, e.member), HandlerChanged(e.member)]

    def _on_ring_no_answer(self, e: ev.HandlerRingNoAnswer, notices: list[Notice]) -> None:
        call = self._call_for(e.call_id, e.queue)
        if call is None:
            return
        self._stop_ringing(call, e.member, "rang-out", notices)
        if not call.ringing:
            self._step(call, Step.RANG_OUT, e.at, notices)

    def _on_answered(self, e: ev.CallAnswered, notices: list[Notice]) -> None:
        call = self._call_for(e.call_id, e.queue)
        if call is not None:
            self._step(call, Step.ANSWERED, e.at, notices, member=e.member)

    def _on_left(self, e: ev.CallLeftQueue, notices: list[Notice]) -> None:
        call = self._call_for(e.call_id, e.queue)
        if call is not None:
            self._step(call, Step.LEFT_QUEUE, e.at, notices)

    def _on_abandoned(self, e: ev.CallAbandoned, notices: list[Notice]) -> None:
        call = self._call_for(e.call_id, e.queue)
        if call is not None:
            self._step(call, Step.ABANDONED, e.at, notices)

    def _on_completed(self, e: ev.CallCompleted, notices: list[Notice]) -> None:
        call = self._call_for(e.call_id, e.queue)
        if call is not None:
            call.talk_seconds = e.talk_seconds
            call.end_reason = f"hangup-by-{e.reason}" if e.reason else None
            self._step(call, Step.COMPLETED, e.at, notices)

    def _on_channel_created(self, e: ev.ChannelCreated, notices: list[Notice]) -> None:
        self._arrivals[e.channel_id] = e.at
        while len(self._arrivals) > MAX_ARRIVALS:
            self._arrivals.popitem(last=False)

    def _on_hangup(self, e: ev.ChannelHungUp, notices: list[Notice]) -> None:
        self._arrivals.pop(e.channel_id, None)
        self._hung_up[e.channel_id] = None
        while len(self._hung_up) > RECENT_HANGUPS:
            self._hung_up.popitem(last=False)
        call = self.calls.get(e.channel_id)
        if call is not None:
            if call.state is CallState.ANSWERED and call.answered_at is not None and call.talk_seconds is None:
                call.talk_seconds = max(0.0, e.at - call.answered_at)
            self._step(call, Step.HUNG_UP, e.at, notices)

    def _on_member(self, e: ev.MemberJoined | ev.MemberChanged | ev.MemberSeen, notices: list[Notice]) -> None:
        s = e.state
        if s.queue not in self.queues:
            return
        h = self.handler(s.member)
        h.memberships[s.queue] = s
        notices.append(HandlerChanged(s.member))
        if s.fixed:
            self._fixed_member(h, s)
        if self._snapshot is not None and isinstance(e, ev.MemberSeen):
            self._snapshot.members.setdefault(s.member, {})[s.queue] = s

    def _fixed_member(self, h: Handler, s: ev.MemberState) -> None:
        if (s.member, s.queue) in self._fixed:
            return
        self._fixed.add((s.member, s.queue))
        # A managed queue with a member the PBX's configuration holds: intake cannot log it out
        # (QueueRemove is refused) and every PBX restart or reload makes it ready again.
        log.warning("static_member", member=s.member, queue=s.queue, membership=s.membership,
                    handler_id=h.handler_id,
                    fix=f"remove 'member => {s.member}' from [{s.queue}] in queues.conf; intake adds handlers itself")

    def _on_member_left(self, e: ev.MemberLeft, notices: list[Notice]) -> None:
        h = self.handlers.get(e.member)
        self._fixed.discard((e.member, e.queue))
        if h is not None and h.memberships.pop(e.queue, None) is not None:
            notices.append(HandlerChanged(e.member))

    def _on_module_reloaded(self, e: ev.ModuleReloaded, notices: list[Notice]) -> None:
        if e.queues_reloaded:
            log.info("pbx_queues_reloaded", module=e.module, status=e.status)
            notices.append(ResyncWanted(f"PBX reloaded {e.module}"))

    def _on_link_up(self, e: ev.PbxLinkUp, notices: list[Notice]) -> None:
        self.link_up = True
        self.pbx_version = e.pbx_version
        log.info("pbx_link_up", version=e.pbx_version)
        self._follow_adopted(notices)

    def _on_link_down(self, e: ev.PbxLinkDown, notices: list[Notice]) -> None:
        self.link_up = False
        self._snapshot = None
        if self._before_loss is None:
            self._before_loss = {m: dict(h.memberships) for m, h in self.handlers.items() if h.memberships}
        log.warning("pbx_link_down", reason=e.reason, live_calls=len(self.calls))

    # --- resync -----------------------------------------------------------------------------

    def _on_snapshot_started(self, e: ev.SnapshotStarted, notices: list[Notice]) -> None:
        self._snapshot = _Snapshot()
        self._follow_adopted(notices)

    def _on_waiting_seen(self, e: ev.WaitingCallSeen, notices: list[Notice]) -> None:
        if self._snapshot is None:
            return
        self._snapshot.waiting.add(e.call_id)
        if e.call_id not in self.calls:
            self._new_call(e.call_id, e.queue, e.caller_number, e.caller_name, e.channel, e.at - e.wait_seconds,
                           (e.call_id,), notices, observed=False)

    def _on_channel_seen(self, e: ev.ChannelSeen, notices: list[Notice]) -> None:
        if self._snapshot is not None:
            self._snapshot.channels.append(e)

    def _on_snapshot_completed(self, e: ev.SnapshotCompleted, notices: list[Notice]) -> None:
        snap, self._snapshot = self._snapshot, None
        if snap is None:
            return
        self.counters.snapshots += 1
        live = {c.channel_id: c for c in snap.channels}
        # Calls answered at the PBX: a caller channel in Queue() bridged to a handler's channel.
        by_bridge: dict[str, list[ev.ChannelSeen]] = {}
        for c in snap.channels:
            if c.bridge_id:
                by_bridge.setdefault(c.bridge_id, []).append(c)
        for call in list(self.calls.values()):
            if call.call_id in snap.waiting or call.call_id in snap.touched_calls:
                continue
            seen = live.get(call.call_id)
            if seen is not None and seen.application.lower() == "queue" and seen.bridged:
                if call.state is not CallState.ANSWERED:
                    # Answered while we were away: the exact moment is lost; the snapshot is
                    # an upper bound on the wait, and the PBX's queue_log keeps the true one.
                    member = self._member_in_bridge(by_bridge.get(seen.bridge_id, []), call.call_id)
                    call.outcome_seen = False
                    self._step(call, Step.ANSWERED, e.at, notices, member=member)
            elif seen is None or call.state is not CallState.ANSWERED:
                # Gone from the PBX, or out of the queue and not talking to a handler.
                self.counters.vanished_calls += 1
                call.outcome_seen = not call.state.waiting  # gone while it waited: how it ended nobody saw
                if call.call_id in self._unconfirmed:
                    # Offered before a restart, over before intake was back: answered and done, or
                    # abandoned, nobody can say. Counted as offered and left, and said so.
                    call.end_reason = UNSEEN_WHILE_DOWN
                    log.warning("call_outcome_unseen", call_id=call.call_id, queue=call.queue, queued_at=call.queued_at)
                self._step(call, Step.VANISHED, e.at, notices)
        for c in snap.channels:
            if c.application.lower() == "queue" and c.bridged and c.channel_id not in self.calls and c.queue in self.queues:
                found = self._new_call(c.channel_id, c.queue, c.caller_number, c.caller_name, c.channel,
                                       e.at - c.duration_seconds, (c.linked_id,), notices, observed=False, counted=False)
                if found is not None:
                    member = self._member_in_bridge(by_bridge.get(c.bridge_id, []), c.channel_id)
                    # Answered before we watched: shown live, but its wait is unknown, so it
                    # counts in no figure (it was neither offered nor answered on our watch).
                    found.state = CallState.ANSWERED
                    found.answered_by = member
                    if member:
                        self.handler(member).on_call = found.call_id
                        notices.append(HandlerChanged(member))
        # Arrivals of channels the PBX no longer has: their Hangup was lost while away (or on the
        # wire). Held on, they would only fill the table up to its cap.
        for channel_id in [k for k in self._arrivals if k not in live and k not in snap.touched_calls]:
            del self._arrivals[channel_id]
        # Rings the picture contradicts: a member whose phone it shows not ringing (or in no queue:
        # a garbled Interface) rings for no waiting call; its AgentRingNoAnswer was lost. (A ring
        # heard during the snapshot touched its member, and stands.)
        for call in [c for c in self.calls.values() if c.state.waiting]:
            for member in sorted(call.ringing - snap.touched_members):
                in_queue = snap.members.get(member, {}).get(call.queue)
                if in_queue is None or in_queue.device not in _MAY_RING:
                    self._stop_ringing(call, member, "rang-out", notices)
            if not call.ringing and call.state is CallState.RINGING:
                self._step(call, Step.RANG_OUT, e.at, notices)
        # Memberships: the snapshot is the whole truth.
        for member, h in self.handlers.items():
            if member in snap.touched_members:
                continue
            fresh = snap.members.get(member, {})
            if h.memberships != fresh:
                h.memberships = dict(fresh)
                notices.append(HandlerChanged(member))
        self._fixed = {(m, q) for m, q in self._fixed if (s := self.handlers[m].memberships.get(q)) is not None and s.fixed}
        before, self._before_loss = self._before_loss or {}, None
        for member, queues in before.items():
            now_in = self.handlers[member].memberships
            lost = {q: s for q, s in queues.items()
                    if q not in now_in or (s.paused and now_in[q].fixed and not now_in[q].paused)}
            if lost:
                log.warning("memberships_lost", member=member, queues=sorted(lost))
                notices.append(MembershipsLost(member, lost))
        # A member no configuration names, in no queue of the PBX's picture and on no call (a
        # garbled Interface, a static member since removed): nothing will ever tell of it again.
        for member in [m for m, h in self.handlers.items() if h.handler_id is None and not h.memberships
                       and not h.ringing_for and h.on_call is None and m not in snap.touched_members]:
            del self.handlers[member]
        self._unconfirmed.clear()
        log.info("resynced", live_calls=len(self.calls), waiting=len(snap.waiting), channels=len(snap.channels))

    def _member_in_bridge(self, channels: list[ev.ChannelSeen], caller_id: str) -> str | None:
        """The member whose phone is the other party in a bridge (its channel is member-NNNN)."""
        for c in channels:
            if c.channel_id == caller_id:
                continue
            for member in self.handlers:
                if c.channel.startswith(member + "-"):
                    return member
        return None


# A member's phone may be ringing (UNKNOWN: a Local member with no state interface cannot tell).
_MAY_RING = (ev.MemberDevice.RINGING, ev.MemberDevice.RINGINUSE, ev.MemberDevice.UNKNOWN)
_SNAPSHOT_ITEMS = (ev.SnapshotStarted, ev.WaitingCallSeen, ev.MemberSeen, ev.ChannelSeen, ev.SnapshotCompleted)

_DISPATCH: dict[type, Any] = {
    ev.CallQueued: Registry._on_queued,
    ev.HandlerRang: Registry._on_rang,
    ev.HandlerRingNoAnswer: Registry._on_ring_no_answer,
    ev.CallAnswered: Registry._on_answered,
    ev.CallLeftQueue: Registry._on_left,
    ev.CallAbandoned: Registry._on_abandoned,
    ev.CallCompleted: Registry._on_completed,
    ev.ChannelCreated: Registry._on_channel_created,
    ev.ChannelHungUp: Registry._on_hangup,
    ev.MemberJoined: Registry._on_member,
    ev.MemberChanged: Registry._on_member,
    ev.MemberSeen: Registry._on_member,
    ev.MemberLeft: Registry._on_member_left,
    ev.ModuleReloaded: Registry._on_module_reloaded,
    ev.PbxLinkUp: Registry._on_link_up,
    ev.PbxLinkDown: Registry._on_link_down,
    ev.SnapshotStarted: Registry._on_snapshot_started,
    ev.WaitingCallSeen: Registry._on_waiting_seen,
    ev.ChannelSeen: Registry._on_channel_seen,
    ev.SnapshotCompleted: Registry._on_snapshot_completed,
}
