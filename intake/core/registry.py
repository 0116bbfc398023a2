"""The call registry: every live queue call and every handler, fed only by domain events.

:meth:`Registry.apply` takes one event and returns the notices it gave rise to (a handler's
phone started ringing for a call, stopped ringing, answered it, a call finished); it does no I/O,
so a recorded event sequence replays through it in a test exactly as it runs in the server. The
per-call rules (the call table and its effects) are in :mod:`intake.core.calls`; this module
routes events to calls and handlers, carries out the table's effects, gathers a resync snapshot
(merged by :mod:`intake.core.resync`) and feeds the figures in :mod:`intake.core.metrics`.
"""

# Why one module of ~400 lines: the registry is the one owner of calls and handlers, and every
# event's routing to them reads best in one place; the resync merge and the effects are already
# their own modules (resync.py, effects.py).

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from intake.core import resync
from intake.core.calls import Call, CallState, Step, transition
from intake.core.config import IntakeConfig
from intake.core.effects import EFFECTS
from intake.core.errors import IllegalTransition
from intake.core.handlers import WRAPUP_PAUSE_WAIT, Handler, WrapUpCalledOff, wrapup_due
from intake.core.in_progress import InProgress
from intake.core.metrics import QueueMetrics
from intake.core.notices import (
    Answered,
    Finished,
    HandlerChanged,
    MembershipsLost,
    Notice,
    Queued,
    ResyncWanted,
    Ringing,
    RingStopped,
    Settled,
    Told,
)
from intake.core.seating import Seating, seating_of
from screenpop.location import from_call
from screenpop.models import is_ident
from telephony import events as ev

__all__ = ["UNSEEN_WHILE_DOWN", "Answered", "Fed", "Finished", "HandlerChanged", "MembershipsLost", "Notice", "Queued",
           "Registry", "ResyncWanted", "RingStopped", "Ringing", "Settled"]  # the notices, where desks import them

log = structlog.get_logger("intake.registry")


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)

MAX_ARRIVALS = 50_000  # channels seen created but not yet queued or hung up
RECENT_HANGUPS = 10_000  # channels hung up lately: a queue event read after its channel's Hangup is stale
UNSEEN_WHILE_DOWN = resync.UNSEEN_WHILE_DOWN

Fed = ev.DomainEvent | WrapUpCalledOff
"""What the registry is fed: the PBX's events, and intake's own word that a wrap-up it showed
due will not come (the one fact about a handler that is intake's, not the PBX's)."""
_NOT_LIVE = (*resync.ITEMS, WrapUpCalledOff)  # no live PBX event: touches nothing in a resync's picture

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


class Registry:
    def __init__(self, queues: Mapping[str, tuple[str, float]], *, handlers: dict[str, tuple[str, str]] | None = None,
                 wrapup_reason: str = "wrap-up", settle_grace: float = 2.0, seating: Seating | None = None,
                 wrapups: Mapping[str, float] | None = None, wrapup_pause_wait: float = WRAPUP_PAUSE_WAIT) -> None:
        """``queues``: queue -> (line, target seconds); ``handlers``: member -> (handler id, name)
        of the fixed phones; ``seating``: who may sit where (default: those fixed phones only);
        ``wrapups``: queue -> the wrap-up seconds after a call answered there (default: none),
        shown from the call's end (:class:`~intake.core.handlers.WrapUpDue`) for at most
        ``wrapup_pause_wait`` seconds without its pause."""
        handlers = handlers or {}
        self.seating = seating or Seating(fixed={m: hid for m, (hid, _) in handlers.items()}, hot_desk={}, positions={},
                                          names={hid: name for hid, name in handlers.values()})
        self.queues = dict(queues)
        self.wrapup_reason = wrapup_reason
        self.wrapups = dict(wrapups or {})
        self.wrapup_pause_wait = wrapup_pause_wait
        self.settle_grace = settle_grace
        self.metrics = QueueMetrics(self.queues)
        self.calls: dict[str, Call] = {}
        self.handlers: dict[str, Handler] = {
            member: Handler(member, self.seating.name(handler_id, member), handler_id)
            for member, handler_id in self.seating.fixed.items()
        }
        self.counters = Counters()
        self.link_up = False
        self.pbx_version = ""
        self.now = 0.0
        self._arrivals: OrderedDict[str, float] = OrderedDict()
        self._hung_up: OrderedDict[str, None] = OrderedDict()
        self._snapshot: resync.Snapshot | None = None
        # Each member's queues as they were when the link went down (the first loss of a run of
        # failed reconnects), compared with the resync's picture once it completes.
        self.before_loss: dict[str, dict[str, ev.MemberState]] | None = None
        # (member, queue) pairs seen held by the PBX's configuration (static/realtime), each
        # warned about once while it lasts.
        self.fixed: set[tuple[str, str]] = set()
        # Calls offered before a restart and not yet journalled (adopt_in_progress), held until
        # the PBX link is up; then followed, and settled by the resync if it finds them answered
        # or gone (_unconfirmed: those the resync has yet to confirm).
        self._adopted: dict[str, Call] = {}
        self._unconfirmed: set[str] = set()
        self._wrapups_due: set[str] = set()  # members shown in a wrap-up whose pause has yet to come (tick's backstop)

    # --- reading -------------------------------------------------------------------------

    def waiting_calls(self) -> list[Call]:
        return [c for c in self.calls.values() if c.state.waiting]

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def report(self, now: float | None = None) -> dict[str, Any]:
        now = self.now if now is None else now
        return self.metrics.report(self.waiting_calls(), now)

    def handler(self, member: str) -> Handler:
        if member not in self.handlers:
            self.handlers[member] = Handler(member, member)
        return self.handlers[member]

    def handler_of(self, member: str) -> str | None:
        """The handler at ``member`` now (None: nobody's phone)."""
        return self.seating.handler_of(member)

    def member_of(self, handler_id: str) -> str | None:
        """The phone ``handler_id`` is at now: fixed, or the position the PBX shows them at."""
        return self.seating.member_of(handler_id)

    def reseat(self, h: Handler) -> None:
        """Who sits at ``h``'s phone, as its queue memberships' MemberNames now say
        (:mod:`intake.core.seating`): a handler signed in at a position, or out of it."""
        if h.member not in self.seating.positions:
            return  # a fixed phone is always its handler's and a stray one nobody's: the hot path, every member event
        who = self.seating.occupant(h.member, (s.member_name for s in h.memberships.values()))
        if who == h.handler_id:
            return
        log.info("handler_seated" if who is not None else "handler_unseated", member=h.member,
                 handler_id=who or h.handler_id, position=self.seating.position_of(h.member))
        self.seating.moved(h.member, h.handler_id, who)
        h.handler_id, h.name = who, self.seating.name(who, h.member)

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
                        arrived_at=r.arrived_at, observed_from_start=False, silent=r.silent, location=r.location)
            self._adopted[r.call_id] = call
        return len(self._adopted)

    def _follow_adopted(self, told: Told) -> None:
        """The adopted calls join the live ones as the PBX link comes up (live events about them
        may come before the snapshot does), offered now: the journal the figures were rebuilt
        from does not have them."""
        for call in self._adopted.values():
            if call.call_id in self.calls:
                continue
            self.calls[call.call_id] = call
            self._unconfirmed.add(call.call_id)
            self.metrics.offered(call)
            told.about(Queued, call)
            log.info("call_adopted", call_id=call.call_id, queue=call.queue, queued_at=call.queued_at)
        self._adopted.clear()

    def apply(self, event: Fed) -> list[Notice]:
        self.counters.events += 1
        self.now = max(self.now, event.at)
        handler = _DISPATCH.get(type(event))
        if handler is None:
            return []
        told = Told()
        if self._snapshot is not None and not isinstance(event, _NOT_LIVE):
            self._snapshot.touched_by(event)
        try:
            handler(self, event, told)
        except IllegalTransition as exc:
            self.counters.illegal_transitions += 1
            log.warning("illegal_transition", call_id=exc.call_id, state=exc.state, step=exc.event)
        return told.frozen()

    def tick(self, now: float) -> list[Notice]:
        """Settle calls that left the queue unanswered: no AgentConnect came within the grace;
        and stop showing a wrap-up whose pause never came (the backstop, WRAPUP_PAUSE_WAIT)."""
        self.now = max(self.now, now)
        told = Told()
        for call in [c for c in self.calls.values() if c.state is CallState.LEAVING]:
            if call.left_at is not None and now - call.left_at >= self.settle_grace:
                self.step(call, Step.SETTLED, now, told)
        for member in list(self._wrapups_due):
            h = self.handlers.get(member)
            due = h.wrapup_follows if h is not None else None
            if h is None or due is None:
                self._wrapups_due.discard(member)  # ended by its pause meanwhile
            elif due.overdue(now, self.wrapup_pause_wait):
                self.wrapup_ended(h, f"no pause within {self.wrapup_pause_wait:g} s", told)
        return told.frozen()

    # --- a wrap-up due from a call's end until its pause (intake.core.handlers.WrapUpDue) -----

    def wrapup_starts(self, h: Handler, call: Call, at: float) -> None:
        """``call``, answered by ``h``, ended at ``at``: shown in wrap-up from now, if one is due."""
        due = wrapup_due(h, call.call_id, at, self.wrapups.get(call.queue, 0.0), self.wrapup_reason)
        if due is not None and due.awaiting:
            h.wrapup_follows = due
            self._wrapups_due.add(h.member)

    def wrapup_ended(self, h: Handler, why: str, told: Told | None) -> None:
        """Stop showing ``h``'s wrap-up due (its pause came, or will not): the pauses say again."""
        self._wrapups_due.discard(h.member)
        if h.wrapup_follows is None:
            return
        log.info("wrapup_due_ended", member=h.member, call_id=h.wrapup_follows.call_id, why=why)
        h.wrapup_follows = None
        if told is not None:
            told.plain(HandlerChanged(h.member))

    def next_settle(self) -> float | None:
        """When :meth:`tick` next has a call to settle (PBX clock), or None."""
        due = [c.left_at + self.settle_grace for c in self.calls.values()
               if c.state is CallState.LEAVING and c.left_at is not None]
        return min(due, default=None)

    # --- the steps: the call table's transitions and their effects --------------------------

    def step(self, call: Call, step: Step, at: float, told: Told, *, member: str | None = None) -> None:
        """Move ``call`` by ``step`` as the call table says, and carry out the move's effects."""
        before = call.state
        call.state, effects = transition(call.call_id, before, step)
        if call.state is before:
            return
        log.debug("call_state", call_id=call.call_id, queue=call.queue, state=call.state.value, was=before.value, step=step.value)
        for effect in effects:
            EFFECTS[effect](self, call, step, at, member, told)

    def stop_ringing(self, call: Call, member: str, reason: str | None, told: Told) -> None:
        call.ringing.discard(member)
        h = self.handler(member)
        h.ringing_for.discard(call.call_id)
        if reason is not None:
            told.about(RingStopped, call, member, reason)
            told.plain(HandlerChanged(member))

    def _call_for(self, call_id: str, queue: str) -> Call | None:
        call = self.calls.get(call_id)
        if call is None:
            if queue in self.queues:
                self.counters.orphan_events += 1
            else:
                self.counters.other_queue_events += 1
        return call

    def new_call(self, call_id: str, queue: str, number: str, name: str, channel: str, queued_at: float,
                 arrival_keys: tuple[str, ...], told: Told, *, observed: bool, counted: bool = True) -> Call | None:
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
        told.about(Queued, call)
        log.debug("call_state", call_id=call_id, queue=queue, line=line, state=call.state.value, caller=number)
        return call

    @staticmethod
    def summarise(call: Call, at: float) -> None:
        """The call's one line at info, when its outcome in the queue is known (settled), or for
        a call in no figure (answered before we watched: it never settles) when it finishes. Its
        steps are at debug: at a busy hour's rate five lines a call were a tenth of the CPU."""
        log.info("call_summary", call_id=call.call_id, queue=call.queue, line=call.line, outcome=call.state.value,
                 caller=call.caller_number, waited_s=round(call.waited(at), 3) if call.counted else None,
                 from_arrival_s=_rounded(call.waited_from_arrival(at)) if call.counted else None,
                 target_s=call.target_seconds, answered_by=call.answered_by,
                 rung=len(call.rung), counted=call.counted)

    def _on_queued(self, e: ev.CallQueued, told: Told) -> None:
        old = self.calls.get(e.call_id)
        if e.call_id in self._hung_up or (old is not None and old.queue == e.queue and old.state.waiting):
            # A channel is in a queue once at a time, and a hung-up one in none: this Join was
            # sent twice or read out of order. Taken as a new call it would be offered, settled
            # and journalled twice.
            self.counters.stale_joins += 1
            log.warning("stale_join", call_id=e.call_id, queue=e.queue)
            return
        if old is not None:  # the same channel moved on to another queue before we settled it
            self.step(old, Step.SETTLED if old.state is CallState.LEAVING else Step.VANISHED, e.at, told)
        call = self.new_call(e.call_id, e.queue, e.caller_number, e.caller_name, e.channel, e.at,
                             (e.linked_id, e.call_id), told, observed=True)
        if call is not None:
            call.silent = e.silent
            call.location = from_call(e.location, e.at)

    def _on_rang(self, e: ev.HandlerRang, told: Told) -> None:
        call = self._call_for(e.call_id, e.queue)
        if call is None:
            return
        self.step(call, Step.RANG, e.at, told)
        call.ringing.add(e.member)
        call.rung.add(e.member)
        self.handler(e.member).ringing_for.add(call.call_id)
        told.about(Ringing, call, e.member)
        told.plain(HandlerChanged(e.member))

    def _on_ring_no_answer(self, e: ev.HandlerRingNoAnswer, told: Told) -> None:
        call = self._call_for(e.call_id, e.queue)
        if call is None:
            return
        self.stop_ringing(call, e.member, "rang-out", told)
        if not call.ringing:
            self.step(call, Step.RANG_OUT, e.at, told)

    def _on_answered(self, e: ev.CallAnswered, told: Told) -> None:
        call = self._call_for(e.call_id, e.queue)
        if call is not None:
            self.step(call, Step.ANSWERED, e.at, told, member=e.member)

    def _on_left(self, e: ev.CallLeftQueue, told: Told) -> None:
        call = self._call_for(e.call_id, e.queue)
        if call is not None:
            self.step(call, Step.LEFT_QUEUE, e.at, told)

    def _on_abandoned(self, e: ev.CallAbandoned, told: Told) -> None:
        call = self._call_for(e.call_id, e.queue)
        if call is not None:
            self.step(call, Step.ABANDONED, e.at, told)

    def _on_completed(self, e: ev.CallCompleted, told: Told) -> None:
        call = self._call_for(e.call_id, e.queue)
        if call is not None:
            call.talk_seconds = e.talk_seconds
            call.end_reason = f"hangup-by-{e.reason}" if e.reason else None
            self.step(call, Step.COMPLETED, e.at, told)

    def _on_channel_created(self, e: ev.ChannelCreated, told: Told) -> None:
        self._arrivals[e.channel_id] = e.at
        while len(self._arrivals) > MAX_ARRIVALS:
            self._arrivals.popitem(last=False)

    def _on_hangup(self, e: ev.ChannelHungUp, told: Told) -> None:
        self._arrivals.pop(e.channel_id, None)
        self._hung_up[e.channel_id] = None
        while len(self._hung_up) > RECENT_HANGUPS:
            self._hung_up.popitem(last=False)
        call = self.calls.get(e.channel_id)
        if call is not None:
            if call.state is CallState.ANSWERED and call.answered_at is not None and call.talk_seconds is None:
                call.talk_seconds = max(0.0, e.at - call.answered_at)
            self.step(call, Step.HUNG_UP, e.at, told)

    def _on_member(self, e: ev.MemberJoined | ev.MemberChanged | ev.MemberSeen, told: Told) -> None:
        s = e.state
        if s.queue not in self.queues:
            return
        h = self.handler(s.member)
        if h.wrapup_follows is None:  # the hot path, every member event: one dict write
            h.memberships[s.queue] = s
        elif h.member_seen(s, self.wrapup_reason):
            log.debug("wrapup_due_ended", member=h.member, why="its pause came, or a choice")
        # Inlined guard, for every member event: a fixed phone never changes hands, and the
        # seated handler's own status changes (pauses, device states) do not move them.
        if s.member_name != h.handler_id and s.member in self.seating.positions:
            self.reseat(h)
        told.plain(HandlerChanged(s.member))
        if s.fixed:
            self._fixed_member(h, s)
        if self._snapshot is not None and isinstance(e, ev.MemberSeen):
            self._snapshot.members.setdefault(s.member, {})[s.queue] = s

    def _fixed_member(self, h: Handler, s: ev.MemberState) -> None:
        if (s.member, s.queue) in self.fixed:
            return
        self.fixed.add((s.member, s.queue))
        # A managed queue with a member the PBX's configuration holds: intake cannot log it out
        # (QueueRemove is refused) and every PBX restart or reload makes it ready again.
        log.warning("static_member", member=s.member, queue=s.queue, membership=s.membership,
                    handler_id=h.handler_id,
                    fix=f"remove 'member => {s.member}' from [{s.queue}] in queues.conf; intake adds handlers itself")

    def _on_member_left(self, e: ev.MemberLeft, told: Told) -> None:
        h = self.handlers.get(e.member)
        self.fixed.discard((e.member, e.queue))
        if h is not None and h.memberships.pop(e.queue, None) is not None:
            if h.wrapup_follows is not None:
                h.wrapup_follows = h.wrapup_follows.left(e.queue) if h.memberships else None
            told.plain(HandlerChanged(e.member))
            self.reseat(h)

    def _on_wrapup_called_off(self, e: WrapUpCalledOff, told: Told) -> None:
        h = self.handlers.get(e.member)
        if h is not None:
            self.wrapup_ended(h, e.why, told)

    def _on_module_reloaded(self, e: ev.ModuleReloaded, told: Told) -> None:
        if e.queues_reloaded:
            log.info("pbx_queues_reloaded", module=e.module, status=e.status)
            told.plain(ResyncWanted(f"PBX reloaded {e.module}"))

    def _on_link_up(self, e: ev.PbxLinkUp, told: Told) -> None:
        self.link_up = True
        self.pbx_version = e.pbx_version
        log.info("pbx_link_up", version=e.pbx_version)
        self._follow_adopted(told)

    def _on_link_down(self, e: ev.PbxLinkDown, told: Told) -> None:
        self.link_up = False
        self._snapshot = None
        for member in list(self._wrapups_due):  # the pauses will come from the resync's picture, if at all
            h = self.handlers.get(member)
            if h is not None:
                self.wrapup_ended(h, "PBX link lost", told)
        self._wrapups_due.clear()
        if self.before_loss is None:
            self.before_loss = {m: dict(h.memberships) for m, h in self.handlers.items() if h.memberships}
        log.warning("pbx_link_down", reason=e.reason, live_calls=len(self.calls))

    # --- resync (the merge itself is intake.core.resync) --------------------------------------

    def _on_snapshot_started(self, e: ev.SnapshotStarted, told: Told) -> None:
        self._snapshot = resync.Snapshot()
        self._follow_adopted(told)

    def _on_waiting_seen(self, e: ev.WaitingCallSeen, told: Told) -> None:
        if self._snapshot is None:
            return
        self._snapshot.waiting.add(e.call_id)
        if e.call_id not in self.calls:
            self.new_call(e.call_id, e.queue, e.caller_number, e.caller_name, e.channel, e.at - e.wait_seconds,
                          (e.call_id,), told, observed=False)

    def _on_channel_seen(self, e: ev.ChannelSeen, told: Told) -> None:
        if self._snapshot is not None:
            self._snapshot.channels.append(e)
        call = self.calls.get(e.channel_id)
        if call is not None and not call.observed_from_start:
            # Learned from the PBX's picture (QueueEntry has no channelvars): the channel's own
            # marks, as its QueueCallerJoin carried them; the location as of its queue entry.
            call.silent = call.silent or e.silent
            if call.location is None:
                call.location = from_call(e.location, call.queued_at)

    def _on_snapshot_completed(self, e: ev.SnapshotCompleted, told: Told) -> None:
        snap, self._snapshot = self._snapshot, None
        if snap is not None:
            resync.merge(self, snap, e.at, told)
            self._unconfirmed.clear()

    def unconfirmed(self, call_id: str) -> bool:
        """Whether ``call_id`` was offered before a restart and no resync has confirmed it yet."""
        return call_id in self._unconfirmed


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
    WrapUpCalledOff: Registry._on_wrapup_called_off,
    ev.PbxLinkUp: Registry._on_link_up,
    ev.PbxLinkDown: Registry._on_link_down,
    ev.SnapshotStarted: Registry._on_snapshot_started,
    ev.WaitingCallSeen: Registry._on_waiting_seen,
    ev.ChannelSeen: Registry._on_channel_seen,
    ev.SnapshotCompleted: Registry._on_snapshot_completed,
}


def registry_of(config: IntakeConfig) -> Registry:
    """An empty registry for the configured lines, queues and handlers."""
    queues = {q: (line.name, line.target_seconds) for line in config.lines for q in line.queues}
    wrapups = {q: line.wrapup_seconds for line in config.lines for q in line.queues}
    return Registry(queues, wrapup_reason=config.wrapup_reason, seating=seating_of(config), wrapups=wrapups)
