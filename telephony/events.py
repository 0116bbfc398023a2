"""Domain events: what happened at the PBX, in our words, with the PBX's own clock.

These are the only input of the call registry. :mod:`telephony.translate` makes them from AMI
frames; the registry never sees a frame. Every event carries ``at``: the PBX's ``Timestamp``
(seconds since the epoch, float) where the frame had one, else the session's best estimate of the
PBX clock when the frame arrived.

Identifiers:
- ``call_id`` is the Asterisk ``Uniqueid`` of the caller's channel in the queue.
- ``member`` is the queue member's interface (``Interface`` in events, ``Location`` in
  QueueStatus), e.g. ``PJSIP/handler-1``: it is how configuration names a handler's phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from telephony.geolocation import CallerLocation


@dataclass(frozen=True, slots=True)
class CallQueued:
    """QueueCallerJoin: a caller entered a queue."""

    at: float
    call_id: str
    queue: str
    caller_number: str
    caller_name: str
    position: int
    channel: str
    linked_id: str
    silent: bool = False  # the caller could not speak and pressed 55 (dialplan INTAKE_SILENT=1)
    location: CallerLocation | None = None
    """Where the caller's INVITE said they are (its PIDF-LO, dialplan INTAKE_GEO): telephony/geolocation.py."""


@dataclass(frozen=True, slots=True)
class HandlerRang:
    """AgentCalled: the PBX started ringing a handler's phone for a queued call."""

    at: float
    call_id: str
    queue: str
    member: str
    member_name: str
    handler_channel: str


@dataclass(frozen=True, slots=True)
class HandlerRingNoAnswer:
    """AgentRingNoAnswer: a handler's phone rang out; the call goes back to waiting."""

    at: float
    call_id: str
    queue: str
    member: str
    ring_seconds: float


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """AgentConnect: a handler answered; ``hold_seconds`` is the PBX's own wait figure."""

    at: float
    call_id: str
    queue: str
    member: str
    member_name: str
    hold_seconds: float
    ring_seconds: float
    handler_channel: str


@dataclass(frozen=True, slots=True)
class CallLeftQueue:
    """QueueCallerLeave: the caller left the queue (answered, abandoned, timed out, redirected).

    On its own it does not say why: the registry decides from what came before or after it.
    """

    at: float
    call_id: str
    queue: str
    position: int
    count: int


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """QueueCallerAbandon: the caller hung up (or was redirected) while waiting or ringing."""

    at: float
    call_id: str
    queue: str
    hold_seconds: float
    position: int
    original_position: int


@dataclass(frozen=True, slots=True)
class CallCompleted:
    """AgentComplete: an answered queue call ended; ``reason`` is who hung up (caller/agent/transfer)."""

    at: float
    call_id: str
    queue: str
    member: str
    hold_seconds: float
    talk_seconds: float
    reason: str


@dataclass(frozen=True, slots=True)
class ChannelCreated:
    """Newchannel: a channel came into being at the PBX; the earliest moment of a call's arrival."""

    at: float
    channel_id: str
    linked_id: str
    channel: str
    caller_number: str


@dataclass(frozen=True, slots=True)
class ChannelHungUp:
    """Hangup: a channel is gone."""

    at: float
    channel_id: str
    channel: str
    cause: int


@dataclass(frozen=True, slots=True)
class OriginateFinished:
    """OriginateResponse: how an async Originate we sent (``action_id``) ended. ``answered``
    False: the originated phone never answered; ``reason`` is Asterisk's code for why (the last
    control frame on the channel: 3 ringing when it timed out, 5 busy, 0 not reachable)."""

    at: float
    action_id: str
    answered: bool
    reason: int
    channel: str


class MemberDevice(Enum):
    """Asterisk device states as QueueMember* events number them (``Status``)."""

    UNKNOWN = 0
    NOT_INUSE = 1
    INUSE = 2
    BUSY = 3
    INVALID = 4
    UNAVAILABLE = 5
    RINGING = 6
    RINGINUSE = 7
    ONHOLD = 8


@dataclass(frozen=True, slots=True)
class MemberState:
    """A queue member's state as the PBX reports it (QueueMemberStatus/Added/Pause, QueueMember)."""

    at: float
    queue: str
    member: str
    member_name: str
    device: MemberDevice
    paused: bool
    paused_reason: str
    in_call: bool
    penalty: int
    membership: str = "dynamic"
    """How the member came to be in the queue: ``dynamic`` (QueueAdd: intake's to add and remove),
    ``static`` (a ``member =>`` line in queues.conf) or ``realtime``. Only a dynamic member can be
    removed over AMI (Asterisk refuses QueueRemove of the others), and a PBX restart or reload
    brings the others back as queues.conf says, unpaused."""

    @property
    def fixed(self) -> bool:
        """In the queue by the PBX's configuration, not by QueueAdd: intake cannot log it out."""
        return self.membership != "dynamic"


@dataclass(frozen=True, slots=True)
class MemberJoined:
    """QueueMemberAdded: a handler's phone was added to a queue."""

    at: float
    state: MemberState


@dataclass(frozen=True, slots=True)
class MemberChanged:
    """QueueMemberStatus / QueueMemberPause / QueueMemberPenalty: a member's state changed."""

    at: float
    state: MemberState


@dataclass(frozen=True, slots=True)
class MemberLeft:
    """QueueMemberRemoved: a handler's phone was taken out of a queue."""

    at: float
    queue: str
    member: str


# --- resync: the picture the PBX gives on request after every (re)login -----------------------


@dataclass(frozen=True, slots=True)
class SnapshotStarted:
    """We asked the PBX for its whole queue picture; what follows replaces what we believed."""

    at: float


@dataclass(frozen=True, slots=True)
class WaitingCallSeen:
    """QueueEntry: a call waiting in a queue right now, ``wait_seconds`` so far."""

    at: float
    call_id: str
    queue: str
    caller_number: str
    caller_name: str
    position: int
    wait_seconds: float
    channel: str


@dataclass(frozen=True, slots=True)
class MemberSeen:
    """QueueMember: a member present in a queue right now."""

    at: float
    state: MemberState


@dataclass(frozen=True, slots=True)
class ChannelSeen:
    """CoreShowChannel: a live channel. A caller channel in the Queue application that is bridged
    (``bridged``) is a queue call already answered; ``queue`` is the first Queue() argument."""

    at: float
    channel_id: str
    linked_id: str
    channel: str
    caller_number: str
    caller_name: str
    application: str
    queue: str
    bridged: bool
    duration_seconds: float
    bridge_id: str = ""


@dataclass(frozen=True, slots=True)
class SnapshotCompleted:
    """The picture is complete: anything we believed live and was not in it ended while away."""

    at: float


# --- the link to the PBX --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModuleReloaded:
    """Reload (or Load) of a PBX module: its configuration was read again. A reload of app_queue
    changes queues and members without a single member event (queues.conf's ``member =>`` lines
    come and go, a queue dropped from the file takes its members with it, device states are read
    again), so whoever keeps a picture of the queues must ask for it again. ``module`` is as
    Asterisk names it (``app_queue.so``, ``app_queue``, or ``All`` for a reload of everything);
    ``status`` is Asterisk's result (``0`` success for a Reload, ``Success`` for a Load)."""

    at: float
    module: str
    status: str

    @property
    def queues_reloaded(self) -> bool:
        name = self.module.strip().lower().removesuffix(".so")
        return name in ("app_queue", "all")


@dataclass(frozen=True, slots=True)
class PbxLinkUp:
    """Logged in to the PBX (first time or after a reconnect)."""

    at: float
    pbx_version: str


@dataclass(frozen=True, slots=True)
class PbxLinkDown:
    """The AMI session was lost; events may be missed until the next snapshot."""

    at: float
    reason: str


CallEvent = (
    CallQueued
    | HandlerRang
    | HandlerRingNoAnswer
    | CallAnswered
    | CallLeftQueue
    | CallAbandoned
    | CallCompleted
)
MemberEvent = MemberJoined | MemberChanged | MemberLeft
SnapshotEvent = SnapshotStarted | WaitingCallSeen | MemberSeen | ChannelSeen | SnapshotCompleted
LinkEvent = PbxLinkUp | PbxLinkDown | ModuleReloaded
DomainEvent = CallEvent | MemberEvent | SnapshotEvent | LinkEvent | ChannelCreated | ChannelHungUp | OriginateFinished
