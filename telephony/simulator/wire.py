"""An AMI event as the simulated PBX emits it, before any client sees it.

The state machine produces these; the TCP server turns them into bytes with
:func:`telephony.frames.encode_frame`. ``at`` is the simulated PBX clock and becomes the
``Timestamp`` field (``timestampevents=yes``: six decimals, as Asterisk prints it).
"""

from __future__ import annotations

from dataclasses import dataclass

from telephony.frames import encode_frame

Fields = tuple[tuple[str, str], ...]

# manager.c privilege classes per event family, as Asterisk 22 prints them
CALL = "call,all"
AGENT = "agent,all"
SYSTEM = "system,all"


@dataclass(frozen=True, slots=True)
class AmiEvent:
    name: str
    privilege: str
    at: float
    fields: Fields
    stamped: bool = True  # FullyBooted, sent straight to the new session, carries no Timestamp

    def get(self, key: str, default: str = "") -> str:
        for k, v in self.fields:
            if k == key:
                return v
        return default

    def frame_fields(self) -> list[tuple[str, str]]:
        """Event, Privilege, Timestamp, then the body: the order recorded from Asterisk 22."""
        stamp = [("Timestamp", f"{self.at:.6f}")] if self.stamped else []
        return [("Event", self.name), ("Privilege", self.privilege), *stamp, *self.fields]

    def encode(self) -> bytes:
        return encode_frame(self.frame_fields())


def event(name: str, privilege: str, at: float, *parts: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> AmiEvent:
    """Build an event from field lists joined in order (a snapshot, a Dest snapshot, the body)."""
    fields: list[tuple[str, str]] = []
    for part in parts:
        fields.extend((k, str(v)) for k, v in part)
    return AmiEvent(name, privilege, at, tuple(fields))
