"""The channel-core events around a queue call that app_queue does not raise itself.

Dialling (DialBegin/DialState/DialEnd), bridging (Bridge*), hang-up requests and music on hold:
a real Asterisk 22 interleaves them with the queue events (see the recordings in
tests/fixtures/ami on the ``pbx`` branch), and a client must cope with them, so the simulator
sends them too, with the recorded fields. Builders only: the state machine decides when.
"""

from __future__ import annotations

from telephony.simulator import wire
from telephony.simulator.channels import Channel


def music_on_hold(at: float, chan: Channel, start: bool) -> wire.AmiEvent:
    body = [("Class", "default")] if start else []
    return wire.event("MusicOnHoldStart" if start else "MusicOnHoldStop", wire.CALL, at, chan.snapshot(), body)


def dial_begin(at: float, caller: Channel, leg: Channel, interface: str) -> wire.AmiEvent:
    return wire.event("DialBegin", wire.CALL, at, caller.snapshot(), leg.snapshot("Dest"), [("DialString", interface)])


def dial_state(at: float, caller: Channel, leg: Channel, status: str) -> wire.AmiEvent:
    return wire.event("DialState", wire.CALL, at, caller.snapshot(), leg.snapshot("Dest"), [("DialStatus", status)])


def dial_end(at: float, caller: Channel, leg: Channel, status: str) -> wire.AmiEvent:
    """``status``: ANSWER, NOANSWER, BUSY or CANCEL, as Asterisk spells them."""
    return wire.event("DialEnd", wire.CALL, at, caller.snapshot(), leg.snapshot("Dest"), [("DialStatus", status)])


def hangup_request(at: float, chan: Channel, cause: tuple[int, int] | None = None) -> wire.AmiEvent:
    """``cause``: (Cause, TechCause) when the far end gave one (a SIP CANCEL: 127, 487)."""
    body = [("Cause", str(cause[0])), ("TechCause", str(cause[1]))] if cause else []
    return wire.event("HangupRequest", wire.CALL, at, chan.snapshot(), body)


def soft_hangup_request(at: float, chan: Channel, cause: int = 16) -> wire.AmiEvent:
    return wire.event("SoftHangupRequest", wire.CALL, at, chan.snapshot(), [("Cause", str(cause))])


def _bridge(bridge_id: str, channels: int, technology: str) -> list[tuple[str, str]]:
    return [
        ("BridgeUniqueid", bridge_id), ("BridgeType", "basic"), ("BridgeTechnology", technology),
        ("BridgeCreator", "<unknown>"), ("BridgeName", "<unknown>"), ("BridgeNumChannels", str(channels)),
        ("BridgeVideoSourceMode", "none"),
    ]


# Recorded: a bridge starts as simple_bridge and becomes native_rtp once both legs are in.
def bridge_create(at: float, bridge_id: str) -> wire.AmiEvent:
    return wire.event("BridgeCreate", wire.CALL, at, _bridge(bridge_id, 0, "simple_bridge"))


def bridge_enter(at: float, bridge_id: str, chan: Channel, channels: int) -> wire.AmiEvent:
    return wire.event("BridgeEnter", wire.CALL, at, _bridge(bridge_id, channels, "simple_bridge"), chan.snapshot())


def bridge_leave(at: float, bridge_id: str, chan: Channel, channels: int) -> wire.AmiEvent:
    return wire.event("BridgeLeave", wire.CALL, at, _bridge(bridge_id, channels, "native_rtp"), chan.snapshot())


def bridge_destroy(at: float, bridge_id: str) -> wire.AmiEvent:
    return wire.event("BridgeDestroy", wire.CALL, at, _bridge(bridge_id, 0, "native_rtp"))
