"""A queue call as app_queue holds it: its phase, its caller channel and the ring in progress."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from telephony.simulator.channels import Channel


class Phase(Enum):
    """ARRIVING: the channel exists, Queue() has not run yet. WAITING and RINGING are in the queue
    (both count in Position/Count). CONNECTED has left the queue. ENDED is kept until the next tick."""

    ARRIVING = "arriving"
    WAITING = "waiting"
    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"


@dataclass(slots=True)
class Attempt:
    """One ring of one member's phone for one caller."""

    member: str
    channel: Channel
    started: float
    deadline: float


@dataclass(slots=True)
class QueueCall:
    call_id: str
    queue: str
    caller: Channel
    join_at: float
    phase: Phase = Phase.ARRIVING
    joined_at: float = 0.0
    original_position: int = 0
    next_try_at: float = 0.0
    attempt: Attempt | None = None
    connected_at: float = 0.0
    hold_time: int = 0
    partner: Channel | None = None  # the ;1 half of an originated Local caller
