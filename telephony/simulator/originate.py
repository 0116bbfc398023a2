"""AMI Originate carried out by the simulated PBX: a caller into a queue, or a handler's call-back.

``Local/<exten>@<context>`` where ``exten`` reaches a queue makes a queue call with no phone at
all, as recorded (originate_local.ami): two Local halves, the ;2 half runs the dialplan and
joins the queue, the call's Linkedid is the ;1 half's Uniqueid. Any member's phone as
``Channel`` is a call-back from that phone to ``Exten``; a phone already on a call answers the
PBX's INVITE busy, and the Originate fails with ``Reason: 5`` as manager.c reports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from telephony.events import MemberDevice
from telephony.simulator import wire
from telephony.simulator.channels import Channel, ChannelState
from telephony.simulator.pbx import PRIORITY_ANSWER, Pbx
from telephony.simulator.switch import instant

_LOCAL = re.compile(r"^Local/(?P<exten>[^@]+)@(?P<context>[^/;]+)$")


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    action_id: str
    channel: str
    context: str
    exten: str
    application: str
    data: str
    caller_num: str
    caller_name: str

    def local_target(self) -> tuple[str, str] | None:
        """(exten, context) of a ``Local/exten@context`` channel."""
        m = _LOCAL.match(self.channel)
        return (m["exten"], m["context"]) if m else None


def queue_for(pbx: Pbx, req: OriginateRequest) -> str | None:
    target = req.local_target()
    return next((q.name for q in pbx.members.queues.values() if target and q.config.exten == target[0]), None)


def is_phone(pbx: Pbx, req: OriginateRequest) -> bool:
    return any(req.channel in q.members for q in pbx.members.queues.values())


@instant
def originate(pbx: Pbx, req: OriginateRequest) -> str:
    """Carry out a checked request (:func:`queue_for` or :func:`is_phone` said yes). Returns the
    new call id (a queue caller) or the call-back channel's Uniqueid."""
    queue = queue_for(pbx, req)
    if queue is not None:
        return _local_caller(pbx, req, queue)
    return _call_back(pbx, req)


def _local_caller(pbx: Pbx, req: OriginateRequest, queue: str) -> str:
    """Recorded order: Newchannel ;1, Newchannel ;2, LocalBridge, DialBegin, Newstate ;2 Up,
    OriginateResponse, Newstate ;1 Up, DialEnd ANSWER; QueueCallerJoin on ;2 after Answer()."""
    exten, context = req.local_target() or ("", "")
    now = pbx.now()
    name1, uid1, name2, uid2 = pbx.namer.next_local(f"Local/{exten}@{context}", now)
    one = Channel(name1, uid1, uid1, req.caller_num, req.caller_name, context, exten, created_at=now)
    two = Channel(name2, uid2, uid1, req.caller_num, req.caller_name, context, exten, state=ChannelState.RING, created_at=now)
    one.connected_num, one.connected_name = req.caller_num, req.caller_name
    one.application, one.application_data = req.application, req.data
    for chan in (one, two):
        pbx.channels[chan.name] = chan
        pbx.publish(wire.event("Newchannel", wire.CALL, now, chan.snapshot()))
    pbx.publish(wire.event("LocalBridge", wire.CALL, now, one.snapshot("LocalOne"), two.snapshot("LocalTwo"),
                           [("Context", context), ("Exten", exten), ("LocalOptimization", "Yes")]))
    pbx.publish(wire.event("DialBegin", wire.CALL, now, one.snapshot("Dest"), [("DialString", f"{exten}@{context}")]))
    two.priority = PRIORITY_ANSWER - 1
    pbx._set_state(two, ChannelState.UP)
    _respond(pbx, req, one)
    pbx._set_state(one, ChannelState.UP)
    pbx.publish(wire.event("DialEnd", wire.CALL, now, one.snapshot("Dest"), [("DialStatus", "ANSWER")]))
    return pbx.enqueue(queue, two, pbx.dialplan_delay, partner=one)


BUSY = 5  # AST_CONTROL_BUSY: OriginateResponse's Reason for a phone that answered busy
USER_BUSY = (17, "User busy")


def _call_back(pbx: Pbx, req: OriginateRequest) -> str:
    """The handler's phone is rung by the PBX and picks up, then the PBX dials ``Exten``. Not
    recorded yet: the phone's own leg only, in use until hung up. A phone in use (a queue call, or
    an earlier call-back) answers busy and the Originate fails, in the order Asterisk 22 reports a
    failed call-back on the test bed (seen for a phone that rang out: Reason 3, Hangup cause 19):
    the phone's channel, OriginateResponse Failure, then the channel's Hangup."""
    member = req.channel
    endpoint = member.split("/", 1)[-1]
    chan = pbx._new_channel(member, endpoint, pbx.members.name_of(member), req.context or "callback", req.exten)
    if pbx.members.device(member) is not MemberDevice.NOT_INUSE:
        _fail(pbx, req, BUSY)
        pbx._hangup(chan, USER_BUSY)
        return ""
    chan.connected_num, chan.application, chan.application_data = req.exten, "Dial", f"PJSIP/{req.exten}"
    pbx._set_state(chan, ChannelState.UP)
    _respond(pbx, req, chan)
    pbx.members.set_device(member, MemberDevice.INUSE)
    return chan.uniqueid


def _respond(pbx: Pbx, req: OriginateRequest, chan: Channel) -> None:
    target = [("Application", req.application), ("Data", req.data)] if req.application else [
        ("Context", req.context), ("Exten", req.exten)]
    pbx.publish(wire.event("OriginateResponse", wire.CALL, pbx.now(), [("ActionID", req.action_id)] if req.action_id else [], [
        ("Response", "Success"), ("Channel", chan.name), *target, ("Reason", "4"), ("Uniqueid", chan.uniqueid),
        ("CallerIDNum", req.caller_num or "<unknown>"), ("CallerIDName", req.caller_name or "<unknown>"),
    ]))


def _fail(pbx: Pbx, req: OriginateRequest, reason: int) -> None:
    """manager.c fast_originate after a failed dial: no channel to name, so Channel is the one
    asked for and Uniqueid ``<unknown>`` (as Asterisk 22 writes it)."""
    pbx.publish(wire.event("OriginateResponse", wire.CALL, pbx.now(), [("ActionID", req.action_id)] if req.action_id else [], [
        ("Response", "Failure"), ("Channel", req.channel), ("Context", req.context), ("Exten", req.exten),
        ("Reason", str(reason)), ("Uniqueid", "<unknown>"),
        ("CallerIDNum", req.caller_num or "<unknown>"), ("CallerIDName", req.caller_name or "<unknown>"),
    ]))
