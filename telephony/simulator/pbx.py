"""The simulated app_queue: calls, queues and phones as one state machine, fed by commands and a clock.

No I/O and no asyncio: every command (a caller arrives, a phone answers, a timer falls due) runs
to completion at one instant (:func:`~telephony.simulator.switch.instant`) and hands the AMI
events it caused, in Asterisk 22's order, to the listeners. The orders are those recorded from
a real Asterisk 22.10 (tests/fixtures/ami on the ``pbx`` branch; each method's docstring names
its sequence) and agree with app_queue.c's try_calling / queue_exec. Where Asterisk itself races
(two Hangups, a ringing leg's Hangup against QueueCallerLeave) the choice is a named constant or
commented where it is made.

Over 400 lines in one module, on purpose: it is one state machine, a queue call's life in app_queue
(join, ring, answer, abandon, leave, complete, shut down), whose steps share the call and channel
tables and each emit one recorded event sequence; splitting it would scatter a sequence across
files. What has a seam of its own is already apart: members (membership.py), channels and the
clock (switch.py, channel_events.py, channels.py), originate (originate.py), queue_log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from telephony.events import MemberDevice
from telephony.geolocation import VARIABLE as GEO_VARIABLE
from telephony.geolocation import CallerLocation, geolocation_value
from telephony.simulator import channel_events as ce
from telephony.simulator import wire
from telephony.simulator.calls import Attempt, Phase, QueueCall
from telephony.simulator.channels import UNKNOWN, Channel, ChannelState
from telephony.simulator.config import HandlerConfig, QueueConfig
from telephony.simulator.errors import NoSuchCall, NoSuchChannel, NotOnCall, NotRinging
from telephony.simulator.membership import MemberBook
from telephony.simulator.queue_log import QueueLog
from telephony.simulator.switch import HANGUP_NORMAL, Switch, instant

# At answer app_queue calls leave_queue() before it publishes AgentConnect (try_calling), and
# the recording (answered.ami) agrees.
CONNECT_ORDER = ("QueueCallerLeave", "AgentConnect")
# When a caller hangs up while a phone rings, the recording (abandoned_ringing.ami) shows the
# abandon first and the ringing leg's Hangup after it; set False for the leg first.
ABANDON_BEFORE_LEG_HANGUP = True

HANGUP_UNKNOWN = (0, "Unknown")  # an unanswered caller or a cancelled ringing leg (recorded)
HANGUP_CANCELLED = (127, "Interworking, unspecified")  # a caller's CANCEL before answer (recorded, 101)

# Dialplan priorities of the caller's channel as recorded: 1 arrival, then Answer() if the
# dialplan answers first, then Queue().
PRIORITY_ANSWER = 2
HANDLER_CONTEXT = "handlers"


class Pbx(Switch):
    def __init__(
        self,
        queues: tuple[QueueConfig, ...],
        handlers: tuple[HandlerConfig, ...],
        clock: Callable[[], float],
        context: str = "police-queues",
        queue_log: QueueLog | None = None,
        dialplan_delay: float = 0.5,
        members_at_start: bool = True,
    ) -> None:
        super().__init__(clock)
        self.context = context
        self.queue_log = queue_log or QueueLog()
        self.dialplan_delay = dialplan_delay
        self.queue_log.write(self.boot_time, "NONE", "NONE", "NONE", "QUEUESTART", "")
        self.members = MemberBook(queues, self.publish, self.now, self.queue_log)
        self.calls: dict[str, QueueCall] = {}
        for h in handlers:
            self.members.know_phone(h.interface, h.name)
            for q in h.queues if members_at_start else ():
                self.members.add(q, h.interface, h.name, h.penalty, silent=True)

    # --- queue events ---------------------------------------------------------------------------

    def _agent_event(self, name: str, call: QueueCall, dest: Channel, member: str, *body: tuple[str, str]) -> None:
        head = [("Queue", call.queue), ("Interface", member), ("MemberName", self.members.name_of(member))]
        self.publish(wire.event(name, wire.AGENT, self.now(), call.caller.snapshot(), dest.snapshot("Dest"), head, body))

    def _caller_event(self, name: str, call: QueueCall, *body: tuple[str, str]) -> None:
        self.publish(wire.event(name, wire.AGENT, self.now(), call.caller.snapshot(), [("Queue", call.queue)], body))

    def _call(self, call_id: str) -> QueueCall:
        call = self.calls.get(call_id)
        if call is None or call.phase is Phase.ENDED:
            raise NoSuchCall(call_id)
        return call

    # --- commands: callers ----------------------------------------------------------------------

    def enqueue(self, queue: str, caller: Channel, delay: float, partner: Channel | None = None) -> str:
        """Hand a caller's channel to Queue() after ``delay`` (its dialplan before Queue())."""
        caller.application, caller.application_data = "Queue", queue
        self.calls[caller.uniqueid] = QueueCall(caller.uniqueid, queue, caller, join_at=self.now() + delay, partner=partner)
        return caller.uniqueid

    @instant
    def arrive(self, queue: str, number: str, name: str = "", endpoint: str = "PJSIP/caller",
               location: CallerLocation | None = None) -> str:
        """A caller dials in; Queue() runs a moment later. Returns the call id (caller Uniqueid).

        ``location``: the caller's INVITE carried it (a PIDF-LO): the dialplan's [intake-location]
        sets INTAKE_GEO before Queue(), so every event after Newchannel carries it, as recorded."""
        self.members.queue(queue)  # refuse an unknown queue now, not at join time
        config = self.members.queue(queue).config
        chan = self._new_channel(endpoint, number, name, self.context, config.exten or queue, state=ChannelState.RING)
        if location is not None:
            chan.variables[GEO_VARIABLE] = geolocation_value(location)
        delay = 0.0
        if config.answer_first:  # recorded for 999: Answer(), ~0.5 s, then Queue()
            chan.priority = PRIORITY_ANSWER
            self._set_state(chan, ChannelState.UP)
            delay = self.dialplan_delay
        return self.enqueue(queue, chan, delay)

    def _join(self, call: QueueCall) -> None:
        q = self.members.queue(call.queue)
        q.entries.append(call.call_id)
        call.phase, call.joined_at = Phase.WAITING, self.now()
        call.original_position = len(q.entries)
        call.caller.priority += 1
        self._caller_event("QueueCallerJoin", call, ("Position", str(call.original_position)), ("Count", str(len(q.entries))))
        self.queue_log.write(self.now(), call.call_id, call.queue, "NONE", "ENTERQUEUE", "", call.caller.caller_num, call.original_position)
        if self.members.queue(call.queue).config.answer_first:  # Queue(q,r) rings instead (recorded)
            self.publish(ce.music_on_hold(self.now(), call.caller, start=True))

    @instant
    def hangup_caller(self, call_id: str) -> None:
        """The caller hangs up: abandon if not yet answered, complete (Reason caller) if answered."""
        call = self._call(call_id)
        if call.phase is Phase.CONNECTED:
            self._complete(call, by_agent=False)
        else:
            self._abandon(call, hang_up=True)

    @instant
    def redirect_caller(self, call_id: str, exten: str = "") -> None:
        """AMI Redirect of a queued caller: app_queue sees it leave unanswered (an abandon). If
        ``exten`` reaches a queue (999, 101) the same channel joins that queue, as the dialplan
        would run it; any other target is not simulated and the channel ends there."""
        call = self._call(call_id)
        if call.phase is Phase.CONNECTED:
            raise NoSuchCall(call_id)
        self._abandon(call, hang_up=False)
        target = next((q for q in self.members.queues.values() if exten and q.config.exten == exten), None)
        if target is None:
            self._end_caller(call)
            return
        caller = call.caller
        caller.exten, caller.priority = exten, 1
        self.enqueue(target.name, caller, 0.0, partner=call.partner)

    def _abandon(self, call: QueueCall, hang_up: bool) -> None:
        """Recorded order: HangupRequest, MusicOnHoldStop, DialEnd CANCEL (if ringing),
        QueueCallerAbandon, QueueCallerLeave, SoftHangupRequest, Hangup of the leg, Hangup."""
        # An unanswered caller cancels (SIP CANCEL): cause 127 with TechCause 487, as recorded for 101;
        # an answered one (999) sends BYE: no cause on the request, 0 on the Hangup.
        answered = self.members.queue(call.queue).config.answer_first
        cause = HANGUP_UNKNOWN if answered else HANGUP_CANCELLED
        if hang_up:
            self.publish(ce.hangup_request(self.now(), call.caller, None if answered else (127, 487)))
        if call.phase is Phase.ARRIVING:  # gone before Queue() ran: no queue events at all
            call.phase = Phase.ENDED
            self._end_caller(call, cause)
            return
        self._stop_music(call)
        ringing = call.attempt
        if ringing is not None:
            call.attempt = None
            self._log_ring(call, ringing, "RINGCANCELED")
            for _ in range(2):  # recorded twice: once from the dial, once from hangupcalls()
                self.publish(ce.dial_end(self.now(), call.caller, ringing.channel, "CANCEL"))
            if not ABANDON_BEFORE_LEG_HANGUP:
                self._hangup(ringing.channel, HANGUP_UNKNOWN)
        q = self.members.queue(call.queue)
        pos, hold = q.position(call.call_id), _secs(self.now()) - _secs(call.joined_at)
        q.abandoned += 1
        q.abandoned_in_sl += hold <= q.service_level
        self._caller_event("QueueCallerAbandon", call, ("Position", str(pos)), ("OriginalPosition", str(call.original_position)), ("HoldTime", str(hold)))
        self.queue_log.write(self.now(), call.call_id, call.queue, "NONE", "ABANDON", pos, call.original_position, hold)
        self._leave(call)
        call.phase = Phase.ENDED
        if hang_up:
            self.publish(ce.soft_hangup_request(self.now(), call.caller))
        if ringing is not None and ABANDON_BEFORE_LEG_HANGUP:
            self._hangup(ringing.channel, HANGUP_UNKNOWN)
        if hang_up:
            self._end_caller(call, cause)
        if ringing is not None:
            self.members.set_device(ringing.member, MemberDevice.NOT_INUSE)

    def _leave(self, call: QueueCall) -> None:
        q = self.members.queue(call.queue)
        pos = q.position(call.call_id)
        q.entries.remove(call.call_id)
        self._caller_event("QueueCallerLeave", call, ("Position", str(pos)), ("Count", str(len(q.entries))))

    # --- commands: phones ----------------------------------------------------------------------

    @instant
    def answer(self, member: str) -> str:
        """The ringing phone answers. Returns the call id it connected to.

        Recorded order: Newstate Up (leg), DialEnd ANSWER, MusicOnHoldStop, then CONNECT_ORDER,
        BridgeCreate, BridgeEnter (leg), QueueMemberStatus in use, BridgeEnter (caller).
        """
        call = self._ringing_call(member)
        att = call.attempt
        assert att is not None
        now = self.now()
        call.attempt, call.phase, call.connected_at = None, Phase.CONNECTED, now
        call.hold_time = _secs(now) - _secs(call.joined_at)
        ring_s = int(now - att.started)
        self._set_state(att.channel, ChannelState.UP)
        self.publish(ce.dial_end(now, call.caller, att.channel, "ANSWER"))
        self._stop_music(call)
        q = self.members.queue(call.queue)
        q.answered += 1
        q.total_hold += now - call.joined_at
        for step in CONNECT_ORDER:
            if step == "QueueCallerLeave":
                self._leave(call)
            else:
                self.queue_log.write(now, call.call_id, call.queue, self.members.name_of(member), "CONNECT", call.hold_time, att.channel.uniqueid, ring_s)
                self._agent_event("AgentConnect", call, att.channel, member, ("HoldTime", str(call.hold_time)), ("RingTime", str(ring_s)))
        bridge = str(uuid.uuid4())
        call.caller.bridge_id = att.channel.bridge_id = bridge
        self.publish(ce.bridge_create(now, bridge))
        self.publish(ce.bridge_enter(now, bridge, att.channel, 1))
        self.members.set_in_call(member, call.queue, True)
        self.members.set_device(member, MemberDevice.INUSE)
        self.publish(ce.bridge_enter(now, bridge, call.caller, 2))
        return call.call_id

    @instant
    def reject(self, member: str) -> None:
        """The ringing phone declines (busy): app_queue treats it as a ring-no-answer."""
        self._ring_no_answer(self._ringing_call(member), dial_status="BUSY")

    @instant
    def hangup_member(self, member: str, reason: str = "agent") -> str:
        """The handler hangs up the answered call. ``reason='caller'`` is what Asterisk reports when
        the handler leg is hung up through AMI rather than by a BYE from the phone."""
        for call in self.calls.values():
            if call.phase is Phase.CONNECTED and call.caller.bridge_id and self._leg_of(call).name.startswith(member + "-"):
                self._complete(call, by_agent=reason == "agent")
                return call.call_id
        raise NotOnCall(member)

    @instant
    def hangup_channel(self, name: str) -> None:
        """AMI Hangup of any channel, by name."""
        chan = self.channels.get(name)
        if chan is None:
            raise NoSuchChannel(name)
        for call in self.calls.values():
            if call.phase is Phase.ENDED:
                continue
            if call.caller is chan:
                self.hangup_caller(call.call_id)
                return
            if call.attempt is not None and call.attempt.channel is chan:
                self._ring_no_answer(call)
                return
            if call.phase is Phase.CONNECTED and self._leg_of(call) is chan:
                self._complete(call, by_agent=False)  # AMI hangup of the handler leg: Reason=caller
                return
        member = self.members.interface_of_channel(name)
        self._hangup(chan)
        if member:
            self.members.set_device(member, MemberDevice.NOT_INUSE)

    @instant
    def shut_down(self, restart: bool = True) -> None:
        """``core restart now`` / ``core stop now``: every channel is hung up before AMI closes.

        As the real Asterisk 22 does (tests/pbx/test_simulator_restart_fidelity.py): app_queue
        logs ABANDON for a caller still waiting or ringing and COMPLETECALLER for one talking (the
        caller's channel is hung up first), and the matching events go out first; a caller still
        in the dialplan before Queue() leaves no queue_log line. Then the Shutdown event, the last
        one a client receives."""
        for call in list(self.calls.values()):
            if call.phase is Phase.CONNECTED:
                self._complete(call, by_agent=False)
            elif call.phase is not Phase.ENDED:
                self._abandon(call, hang_up=True)
        for name in list(self.channels):  # call-backs and other channels outside a queue
            if name in self.channels:  # a Local pair goes in one hangup
                self.hangup_channel(name)
        self.calls.clear()
        self.publish(wire.event("Shutdown", wire.SYSTEM, self.now(), [("Shutdown", "Cleanly"), ("Restart", "True" if restart else "False")]))

    # --- the distributor and its timers -----------------------------------------------------------

    @instant
    def advance(self) -> None:
        """Run every timer that is due: joins, ring timeouts, retries. Call often."""
        now = self.now()
        for call in list(self.calls.values()):
            if call.phase is Phase.ARRIVING and call.join_at <= now:
                self._join(call)
            elif call.phase is Phase.RINGING and call.attempt and call.attempt.deadline <= now:
                self._ring_no_answer(call)
        self._distribute()
        self.calls = {k: c for k, c in self.calls.items() if c.phase is not Phase.ENDED}

    def _distribute(self) -> None:
        """Each waiting caller whose retry time has come rings one free member. Higher-weight queues
        go first, and a member of a higher-weight queue with callers is kept for it (compare_weight).

        A caller who finds nobody free looks again only after the queue's ``retry``, as app_queue's
        caller loop does: a handler who becomes free is rung within ``retry`` seconds, not at once
        (recorded: ~0.5 s after an unpause with retry = 1).
        """
        now = self.now()
        ready = [c for c in self.calls.values() if c.phase is Phase.WAITING and c.next_try_at <= now]
        ready.sort(key=lambda c: (-self.members.queue(c.queue).config.weight, c.joined_at))
        for call in ready:
            member = self.members.pick(call.queue)
            if member is not None:
                self._ring(call, member)
            else:
                call.next_try_at = now + self.members.queue(call.queue).config.retry

    def _ring(self, call: QueueCall, member: str) -> None:
        """Recorded order: Newchannel (leg), NewCallerid (leg), AgentCalled, DialBegin,
        NewConnectedLine (caller), Newstate Ringing (leg), NewConnectedLine (leg),
        QueueMemberStatus ringing, DialState RINGING."""
        q = self.members.queue(call.queue)
        leg = self._new_channel(member, UNKNOWN, UNKNOWN, HANDLER_CONTEXT, "s", linkedid=call.caller.linkedid)
        # The leg takes the number the caller dialled as its caller id (recorded: "999" / "101").
        leg.caller_num = leg.exten = call.caller.exten
        self._chan_event("NewCallerid", leg, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)"))
        leg.connected_num, leg.connected_name = call.caller.caller_num, call.caller.caller_name
        leg.application, leg.application_data = "AppQueue", "(Outgoing Line)"
        now = self.now()
        call.attempt = Attempt(member, leg, now, now + q.config.timeout)
        call.phase = Phase.RINGING
        self._agent_event("AgentCalled", call, leg, member)
        self.publish(ce.dial_begin(now, call.caller, leg, member))
        call.caller.connected_num, call.caller.connected_name = leg.caller_num, UNKNOWN
        self._chan_event("NewConnectedLine", call.caller)
        self._set_state(leg, ChannelState.RINGING)
        self._chan_event("NewConnectedLine", leg)
        self.members.set_device(member, MemberDevice.RINGING)
        self.publish(ce.dial_state(now, call.caller, leg, "RINGING"))

    def _ring_no_answer(self, call: QueueCall, dial_status: str = "NOANSWER") -> None:
        """Recorded order: AgentRingNoAnswer, DialEnd x2, Hangup (leg), QueueMemberStatus not in use;
        the caller rings the next member after the queue's ``retry``."""
        att = call.attempt
        assert att is not None
        ring_ms = int((self.now() - att.started) * 1000)
        self._agent_event("AgentRingNoAnswer", call, att.channel, att.member, ("RingTime", str(ring_ms)))
        self.queue_log.write(self.now(), call.call_id, call.queue, self.members.name_of(att.member), "RINGNOANSWER", ring_ms)
        self.publish(ce.dial_end(self.now(), call.caller, att.channel, dial_status))
        self.publish(ce.dial_end(self.now(), call.caller, att.channel, "CANCEL"))  # recorded: then hangupcalls()
        call.attempt = None
        self._hangup(att.channel, HANGUP_UNKNOWN)
        self.members.set_device(att.member, MemberDevice.NOT_INUSE)
        call.phase = Phase.WAITING
        call.next_try_at = self.now() + self.members.queue(call.queue).config.retry

    def _end_caller(self, call: QueueCall, cause: tuple[int, str] = HANGUP_NORMAL) -> None:
        """The caller's channel goes; an originated caller's other Local half goes with it."""
        if call.partner is not None:
            self._hangup(call.partner, HANGUP_UNKNOWN)
        self._hangup(call.caller, cause)

    def _stop_music(self, call: QueueCall) -> None:
        if self.members.queue(call.queue).config.answer_first:
            self.publish(ce.music_on_hold(self.now(), call.caller, start=False))

    def _log_ring(self, call: QueueCall, att: Attempt, event: str) -> None:
        ring_ms = int((self.now() - att.started) * 1000)
        self.queue_log.write(self.now(), call.call_id, call.queue, self.members.name_of(att.member), event, ring_ms)

    def _complete(self, call: QueueCall, by_agent: bool) -> None:
        """Recorded order: HangupRequest (of whoever hung up), AgentComplete, BridgeLeave x2 with the
        leg's Hangup after the first (handler hung up) or the second (caller hung up),
        BridgeDestroy, SoftHangupRequest, Hangup (caller), QueueMemberStatus not in use."""
        leg = self._leg_of(call)
        member = self.members.interface_of_channel(leg.name)
        assert member is not None
        now = self.now()
        talk = _secs(now) - _secs(call.connected_at)
        q = self.members.queue(call.queue)
        q.completed += 1
        q.completed_in_sl += call.hold_time <= q.service_level
        q.total_talk += now - call.connected_at
        reason = "agent" if by_agent else "caller"
        first, second = (leg, call.caller) if by_agent else (call.caller, leg)
        self.publish(ce.hangup_request(now, first))
        self._agent_event("AgentComplete", call, leg, member, ("HoldTime", str(call.hold_time)), ("TalkTime", str(talk)), ("Reason", reason))
        self.queue_log.write(now, call.call_id, call.queue, self.members.name_of(member), "COMPLETEAGENT" if by_agent else "COMPLETECALLER", call.hold_time, talk, call.original_position)
        self.publish(ce.bridge_leave(now, leg.bridge_id, first, 1))
        if by_agent:  # handler_hangs_up.ami: the leg is gone before the caller leaves the bridge
            self._hangup(leg)
        self.publish(ce.bridge_leave(now, leg.bridge_id, second, 0))
        if not by_agent:  # answered.ami (the two Hangups race; this is the order recorded there)
            self._hangup(leg)
        self.publish(ce.bridge_destroy(now, leg.bridge_id))
        self.publish(ce.soft_hangup_request(now, call.caller))
        self._end_caller(call)
        call.phase = Phase.ENDED
        if member in q.members:
            q.members[member].calls_taken += 1
        self.members.finish_call(member, int(now))
        self.members.set_device(member, MemberDevice.NOT_INUSE)

    def _leg_of(self, call: QueueCall) -> Channel:
        for chan in self.channels.values():
            if chan is not call.caller and chan.bridge_id and chan.bridge_id == call.caller.bridge_id:
                return chan
        raise NoSuchCall(call.call_id)

    def _ringing_call(self, member: str) -> QueueCall:
        for call in self.calls.values():
            if call.phase is Phase.RINGING and call.attempt and call.attempt.member == member:
                return call
        raise NotRinging(member)

    # --- read-only views for QueueStatus / CoreShowChannels / tests -------------------------------

    def waiting(self, queue: str) -> list[QueueCall]:
        return [self.calls[c] for c in self.members.queue(queue).entries]

    def ringing_member_of(self, call_id: str) -> str | None:
        call = self.calls.get(call_id)
        return call.attempt.member if call and call.attempt else None


def _secs(t: float) -> int:
    """Whole seconds as time(NULL) gives them: app_queue subtracts these, not exact times."""
    return int(t)
