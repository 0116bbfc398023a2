"""AMI frames -> domain events. Pure: no I/O, no clock of its own, no state.

One table, :data:`TRANSLATORS`, maps an AMI ``Event`` name to a small function; an event not in
the table is not ours to interpret and yields ``None`` (the session counts those). A known event
that lacks a field we need, or carries a number that does not parse, raises
:class:`~telephony.errors.MalformedFrame` naming the event and the field: the session counts it,
logs it and carries on with the next frame.

Time: every domain event carries ``at`` from the frame's ``Timestamp`` (``timestampevents=yes``).
Frames without one (QueueStatus/CoreShowChannels list items) take ``now``, the caller's estimate
of the PBX clock. The live session passes its :class:`~telephony.timing.PbxClock`, the one gate
for Timestamps: an absurd or distant one gives the event the clock's estimate instead (counted
there). Without a clock (a recording replayed) only the clock-free half of that rule applies:
a Timestamp that is not a time gives the event ``now``. Either way the event is kept.

Numbers: every count and duration is checked finite, non-negative and within a sane bound (no
queue holds 100,000 callers, no call lasts a month); anything else is a MalformedFrame. Figures
are sums and percentiles of these: one ``HoldTime: 1e300`` would otherwise own the wallboard.
"""

from __future__ import annotations

from collections.abc import Callable

from telephony.errors import MalformedFrame
from telephony.events import (
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallLeftQueue,
    CallQueued,
    ChannelCreated,
    ChannelHungUp,
    ChannelSeen,
    DomainEvent,
    HandlerRang,
    HandlerRingNoAnswer,
    MemberChanged,
    MemberDevice,
    MemberJoined,
    MemberLeft,
    MemberSeen,
    MemberState,
    ModuleReloaded,
    OriginateFinished,
    WaitingCallSeen,
)
from telephony.frames import Frame
from telephony.geolocation import VARIABLE as GEO_VARIABLE
from telephony.geolocation import parse_geolocation
from telephony.timing import PbxClock, pbx_timestamp

Translator = Callable[[Frame, float], DomainEvent]

_DEVICES = {str(device.value): device for device in MemberDevice}
# Asterisk writes this where a channel has no caller id; to us that is "no number", not a number.
_NO_CALLER_ID = {"<unknown>", ""}

# Bounds of the numbers we read; beyond them a value is garbage, not an extreme.
MAX_COUNT = 100_000
"""Queue positions and caller counts."""
MAX_CODE = 65_535
"""Codes: device states, hangup causes, Originate reasons (all small enums at the PBX)."""
MAX_PENALTY = 2**31 - 1
"""Asterisk keeps a member's penalty in a C int; any non-negative one is valid to it."""
MAX_SECONDS = 31 * 86_400.0
"""Hold, ring, talk and channel-up times: a month is beyond any call."""


def translate(frame: Frame, now: float, clock: PbxClock | None = None) -> DomainEvent | None:
    """The domain event for ``frame``, or ``None`` if its Event is not one we translate.

    ``now``: the time of an event without a (believable) Timestamp; ``clock``: the live gate for
    Timestamps (see the module's docstring)."""
    name = frame.get("Event")
    if name is None:
        return None
    translator = TRANSLATORS.get(name)
    if translator is None:
        return None
    stamp = frame.get("Timestamp")
    if stamp is not None:
        if clock is not None:
            now = clock.stamp(stamp)
        else:
            now = pbx_timestamp(stamp) or now
    try:
        return translator(frame, now)
    except KeyError as missing:
        # Translators index required text fields directly (the fast path); name the field here.
        raise _malformed(frame, str(missing.args[0]), "missing") from None


# --- field access: each raises MalformedFrame naming the event and the field -------------------


def _malformed(frame: Frame, key: str, problem: str) -> MalformedFrame:
    event = frame.get("Event", "?")
    return MalformedFrame(f"{event}: field {key} {problem}", event=event, field=key)


def _text(frame: Frame, key: str) -> str:
    try:
        return frame[key]
    except KeyError:
        raise _malformed(frame, key, "missing") from None


def _int(frame: Frame, key: str, most: int = MAX_COUNT) -> int:
    try:
        value = int(frame[key])
    except KeyError:
        raise _malformed(frame, key, "missing") from None
    except ValueError:
        raise _malformed(frame, key, f"not an integer: {frame[key]!r}") from None
    if not 0 <= value <= most:
        raise _malformed(frame, key, f"out of range 0..{most}: {frame[key]!r}")
    return value


def _seconds(frame: Frame, key: str, scale: float = 1.0) -> float:
    try:
        value = float(frame[key]) * scale
    except KeyError:
        raise _malformed(frame, key, "missing") from None
    except ValueError:
        raise _malformed(frame, key, f"not a number: {frame[key]!r}") from None
    return _bounded_seconds(frame, key, value)


def _bounded_seconds(frame: Frame, key: str, value: float) -> float:
    if not 0.0 <= value <= MAX_SECONDS:  # NaN fails too; inf is beyond the bound
        raise _malformed(frame, key, f"out of range 0..{MAX_SECONDS:g} s: {frame[key]!r}")
    return value


def _flag(frame: Frame, key: str) -> bool:
    """``1``/``0`` (Asterisk's booleans in queue events); absent means false."""
    value = frame.get(key, "0")
    if value in ("0", "1"):
        return value == "1"
    if value.lower() in ("yes", "true", "no", "false"):
        return value.lower() in ("yes", "true")
    raise _malformed(frame, key, f"not a flag: {value!r}")


def _caller(frame: Frame, key: str) -> str:
    value = frame.get(key, "")
    return "" if value in _NO_CALLER_ID else value


def _duration(frame: Frame, key: str) -> float:
    """CoreShowChannel's ``Duration`` is ``HH:MM:SS``; plain seconds accepted too."""
    value = _text(frame, key)
    try:
        if ":" not in value:
            total = float(value)
        else:
            total = 0.0
            for part in value.split(":"):
                if not part.isdigit():  # no sign, no blank: "00:-5:00" is not five minutes less
                    raise ValueError(part)
                total = total * 60 + int(part)
    except ValueError:
        raise _malformed(frame, key, f"not a duration: {value!r}") from None
    return _bounded_seconds(frame, key, total)


def _device(frame: Frame) -> MemberDevice:
    status = _text(frame, "Status")
    device = _DEVICES.get(status)
    if device is not None:
        return device
    _int(frame, "Status", MAX_CODE)  # raises if not a plausible state number at all
    # A number outside the enum: a newer Asterisk's state. Still a member update worth keeping.
    return MemberDevice.UNKNOWN


def _member_state(frame: Frame, at: float, member_key: str, name_key: str) -> MemberState:
    """Events name a member ``Interface``/``MemberName``; QueueStatus names it ``Location``/``Name``."""
    return MemberState(
        at=at,
        queue=_text(frame, "Queue"),
        member=_text(frame, member_key),
        member_name=frame.get(name_key, ""),
        device=_device(frame),
        paused=_flag(frame, "Paused"),
        paused_reason=frame.get("PausedReason", ""),
        in_call=_flag(frame, "InCall"),
        penalty=_int(frame, "Penalty", MAX_PENALTY),
        membership=frame.get("Membership", "dynamic"),
    )


# --- one small function per event ------------------------------------------------------------


def _channel_variables(frame: Frame) -> dict[str, str]:
    """manager.conf ``channelvars``: one ``ChanVariable: NAME=value`` line per name, every name on
    every event of the channel (empty when unset), the value C-escaped (Asterisk 22)."""
    lines = frame.values("ChanVariable") if isinstance(frame, Frame) else [frame.get("ChanVariable", "")]
    found = dict(line.partition("=")[::2] for line in lines)
    legacy = frame.get("ChanVariable(INTAKE_SILENT)")  # older releases: "ChanVariable(NAME): value"
    if legacy is not None:
        found["INTAKE_SILENT"] = legacy
    return found


def _caller_join(f: Frame, at: float) -> CallQueued:
    variables = _channel_variables(f)
    return CallQueued(
        at=at,
        call_id=f["Uniqueid"],
        queue=f["Queue"],
        caller_number=_caller(f, "CallerIDNum"),
        caller_name=_caller(f, "CallerIDName"),
        position=_int(f, "Position"),
        channel=f["Channel"],
        linked_id=f.get("Linkedid", ""),
        # manager.conf channelvars: the dialplan's silent-call marker (pressed 55) and the caller's
        # location from the INVITE's PIDF-LO (telephony/geolocation.py).
        silent=variables.get("INTAKE_SILENT", "") == "1",
        location=parse_geolocation(variables.get(GEO_VARIABLE, "")),
    )


def _agent_called(f: Frame, at: float) -> HandlerRang:
    return HandlerRang(
        at=at,
        call_id=f["Uniqueid"],
        queue=f["Queue"],
        member=f["Interface"],
        member_name=f.get("MemberName", ""),
        handler_channel=f.get("DestChannel", ""),
    )


def _agent_ring_no_answer(f: Frame, at: float) -> HandlerRingNoAnswer:
    return HandlerRingNoAnswer(
        at=at,
        call_id=f["Uniqueid"],
        queue=f["Queue"],
        member=f["Interface"],
        ring_seconds=_seconds(f, "RingTime", 0.001),  # the only queue duration Asterisk gives in ms
    )


def _agent_connect(f: Frame, at: float) -> CallAnswered:
    return CallAnswered(
        at=at,
        call_id=f["Uniqueid"],
        queue=f["Queue"],
        member=f["Interface"],
        member_name=f.get("MemberName", ""),
        hold_seconds=_seconds(f, "HoldTime"),
        ring_seconds=_seconds(f, "RingTime"),
        handler_channel=f.get("DestChannel", ""),
    )


def _agent_complete(f: Frame, at: float) -> CallCompleted:
    return CallCompleted(
        at=at,
        call_id=f["Uniqueid"],
        queue=f["Queue"],
        member=f["Interface"],
        hold_seconds=_seconds(f, "HoldTime"),
        talk_seconds=_seconds(f, "TalkTime"),
        reason=f.get("Reason", ""),
    )


def _caller_leave(f: Frame, at: float) -> CallLeftQueue:
    return CallLeftQueue(
        at=at,
        call_id=f["Uniqueid"],
        queue=f["Queue"],
        position=_int(f, "Position"),
        count=_int(f, "Count"),
    )


def _caller_abandon(f: Frame, at: float) -> CallAbandoned:
    return CallAbandoned(
        at=at,
        call_id=f["Uniqueid"],
        queue=f["Queue"],
        hold_seconds=_seconds(f, "HoldTime"),
        position=_int(f, "Position"),
        original_position=_int(f, "OriginalPosition"),
    )


def _new_channel(f: Frame, at: float) -> ChannelCreated:
    return ChannelCreated(
        at=at,
        channel_id=f["Uniqueid"],
        linked_id=f.get("Linkedid", ""),
        channel=f["Channel"],
        caller_number=_caller(f, "CallerIDNum"),
    )


def _hangup(f: Frame, at: float) -> ChannelHungUp:
    return ChannelHungUp(at=at, channel_id=f["Uniqueid"], channel=f["Channel"], cause=_int(f, "Cause", MAX_CODE))


def _originate_response(f: Frame, at: float) -> OriginateFinished:
    return OriginateFinished(at=at, action_id=f.get("ActionID", ""), answered=f["Response"] == "Success",
                             reason=_int(f, "Reason", MAX_CODE), channel=f.get("Channel", ""))


def _member_added(f: Frame, at: float) -> MemberJoined:
    return MemberJoined(at=at, state=_member_state(f, at, "Interface", "MemberName"))


def _member_changed(f: Frame, at: float) -> MemberChanged:
    return MemberChanged(at=at, state=_member_state(f, at, "Interface", "MemberName"))


def _member_removed(f: Frame, at: float) -> MemberLeft:
    return MemberLeft(at=at, queue=f["Queue"], member=f["Interface"])


def _module_reloaded(f: Frame, at: float) -> ModuleReloaded:
    return ModuleReloaded(at=at, module=_text(f, "Module"), status=f.get("Status", ""))


def _queue_member(f: Frame, at: float) -> MemberSeen:
    return MemberSeen(at=at, state=_member_state(f, at, "Location", "Name"))


def _queue_entry(f: Frame, at: float) -> WaitingCallSeen:
    return WaitingCallSeen(
        at=at,
        call_id=f["Uniqueid"],
        queue=f["Queue"],
        caller_number=_caller(f, "CallerIDNum"),
        caller_name=_caller(f, "CallerIDName"),
        position=_int(f, "Position"),
        wait_seconds=_seconds(f, "Wait"),
        channel=f["Channel"],
    )


def _core_show_channel(f: Frame, at: float) -> ChannelSeen:
    application = f.get("Application", "")
    return ChannelSeen(
        at=at,
        channel_id=f["Uniqueid"],
        linked_id=f.get("Linkedid", ""),
        channel=f["Channel"],
        caller_number=_caller(f, "CallerIDNum"),
        caller_name=_caller(f, "CallerIDName"),
        application=application,
        queue=f.get("ApplicationData", "").partition(",")[0] if application == "Queue" else "",
        bridged=bool(f.get("BridgeId")),
        duration_seconds=_duration(f, "Duration"),
        bridge_id=f.get("BridgeId", ""),
    )


TRANSLATORS: dict[str, Translator] = {
    "QueueCallerJoin": _caller_join,
    "AgentCalled": _agent_called,
    "AgentRingNoAnswer": _agent_ring_no_answer,
    "AgentConnect": _agent_connect,
    "AgentComplete": _agent_complete,
    "QueueCallerLeave": _caller_leave,
    "QueueCallerAbandon": _caller_abandon,
    "Newchannel": _new_channel,
    "Hangup": _hangup,
    "OriginateResponse": _originate_response,
    "QueueMemberAdded": _member_added,
    "QueueMemberStatus": _member_changed,
    "QueueMemberPause": _member_changed,
    "QueueMemberPenalty": _member_changed,
    "QueueMemberRemoved": _member_removed,
    # A module read its configuration again (loader.c: Reload, and Load after an unload).
    "Reload": _module_reloaded,
    "Load": _module_reloaded,
    # Response-list items of the resync (QueueStatus, CoreShowChannels).
    "QueueMember": _queue_member,
    "QueueEntry": _queue_entry,
    "CoreShowChannel": _core_show_channel,
}
"""AMI Event name -> translator. The single place that says which AMI events intake uses."""
