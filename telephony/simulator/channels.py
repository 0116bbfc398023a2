"""Channels as Asterisk names and numbers them, and the snapshot fields every channel event carries.

Asterisk gives each channel a ``Uniqueid`` of the form ``<epoch at boot>.<sequence>`` and a
name ``<tech>/<endpoint>-<8 hex digits>``; the ``Linkedid`` of every leg of a call is the
Uniqueid of its oldest channel (here the caller's). Events about two channels (Agent*) repeat the
snapshot of the second one with a ``Dest`` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from telephony.geolocation import ami_escaped

UNKNOWN = "<unknown>"  # what Asterisk writes for an empty caller id or connected line
CHANNEL_VARIABLES = ("INTAKE_SILENT", "INTAKE_GEO")
"""config/asterisk/manager.conf ``channelvars``, in its order. Asterisk writes one ``ChanVariable``
line per name on every channel event (empty when unset); the simulator writes them only for a
channel whose dialplan set one (:attr:`Channel.variables`), so that every other event keeps the
layout recorded before channelvars existed (tests/simulator/test_against_recordings.py)."""


class ChannelState(Enum):
    """ast_channel_state values with the text Asterisk puts in ChannelStateDesc."""

    DOWN = (0, "Down")
    RING = (4, "Ring")
    RINGING = (5, "Ringing")
    UP = (6, "Up")

    @property
    def code(self) -> int:
        return self.value[0]

    @property
    def desc(self) -> str:
        return self.value[1]


@dataclass(slots=True)
class Channel:
    """One live channel. Mutable on purpose: Asterisk's channel changes state under one name."""

    name: str
    uniqueid: str
    linkedid: str
    caller_num: str
    caller_name: str
    context: str
    exten: str
    state: ChannelState = ChannelState.DOWN
    connected_num: str = UNKNOWN
    connected_name: str = UNKNOWN
    priority: int = 1
    created_at: float = 0.0
    application: str = ""
    application_data: str = ""
    bridge_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    """Channel variables the dialplan set that manager.conf's channelvars names (unescaped)."""

    def snapshot(self, prefix: str = "") -> list[tuple[str, str]]:
        """The standard channel fields, in Asterisk's order, then its channelvars."""
        p = prefix
        chan_vars = [(f"{p}ChanVariable", f"{name}={ami_escaped(self.variables.get(name, ''))}")
                     for name in CHANNEL_VARIABLES] if self.variables else []
        return [
            (f"{p}Channel", self.name),
            (f"{p}ChannelState", str(self.state.code)),
            (f"{p}ChannelStateDesc", self.state.desc),
            (f"{p}CallerIDNum", self.caller_num or UNKNOWN),
            (f"{p}CallerIDName", self.caller_name or UNKNOWN),
            (f"{p}ConnectedLineNum", self.connected_num or UNKNOWN),
            (f"{p}ConnectedLineName", self.connected_name or UNKNOWN),
            (f"{p}Language", "en"),
            (f"{p}AccountCode", ""),
            (f"{p}Context", self.context),
            (f"{p}Exten", self.exten),
            (f"{p}Priority", str(self.priority)),
            (f"{p}Uniqueid", self.uniqueid),
            (f"{p}Linkedid", self.linkedid),
            *chan_vars,
        ]


class ChannelNamer:
    """Hands out Uniqueids and channel names as one Asterisk process would.

    Recorded: the Uniqueid is ``<epoch second of the channel's creation>.<process-wide sequence>``
    (a leg created a second after its caller has a larger epoch part), and the name's hex suffix
    is counted per technology (``Local/...-00000000;1`` and ``PJSIP/handler-1-00000000`` in one call).
    """

    def __init__(self) -> None:
        self._seq = 0
        self._suffix: dict[str, int] = {}

    def _uniqueid(self, now: float) -> str:
        seq = self._seq
        self._seq += 1
        return f"{int(now)}.{seq}"

    def _name(self, endpoint: str) -> str:
        tech = endpoint.split("/", 1)[0]
        n = self._suffix.get(tech, 0)
        self._suffix[tech] = n + 1
        return f"{endpoint}-{n:08x}"

    def next(self, endpoint: str, now: float) -> tuple[str, str]:
        """(channel name, uniqueid) for a new channel on ``endpoint`` (``PJSIP/handler-1``)."""
        return self._name(endpoint), self._uniqueid(now)

    def next_local(self, endpoint: str, now: float) -> tuple[str, str, str, str]:
        """The two halves of a Local channel: (name ;1, uniqueid ;1, name ;2, uniqueid ;2)."""
        base = self._name(endpoint)
        return f"{base};1", self._uniqueid(now), f"{base};2", self._uniqueid(now)
