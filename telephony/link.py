"""Every rule about where one AMI link stands, in one table: :data:`TRANSITIONS`.

A link is the life of one TCP connection to Asterisk, from connect to loss. The
:class:`~telephony.connection.AmiConnection` takes a :class:`LinkStep` on what it reads, what its
timers say and what the I/O loop tells it; :func:`next_state` looks the step up here, and a step
with no entry is :class:`~telephony.errors.LinkStepRefused` naming the state and the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from telephony.errors import LinkStepRefused


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """The timing of a link: its watchdog, its patience with answers, its largest frame."""

    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    action_timeout: float = 10.0
    """Also the wait for the banner and for each answer of a snapshot."""
    max_frame: int = 64 * 1024


class LinkState(Enum):
    CLOSED = "closed"
    """No connection: before the first, between two, after stop."""
    GREETING = "greeting"
    """Connected; waiting for the ``Asterisk Call Manager/<version>`` banner."""
    LOGGING_IN = "logging in"
    """Login written, its answer not read yet."""
    SYNCING = "syncing"
    """Logged in; the PBX's picture (QueueStatus + CoreShowChannels) is being read."""
    DEFERRED = "deferred"
    """Logged in while the PBX was still starting: its picture waits for its FullyBooted."""
    FOLLOWING = "following"
    """Logged in, picture complete: live events only."""


class LinkStep(Enum):
    CONNECTED = "connected"
    BANNER = "banner read"
    LOGGED_IN = "login accepted"
    SNAPSHOT_ASKED = "snapshot asked"
    SNAPSHOT_COMPLETED = "snapshot completed"
    SNAPSHOT_DEFERRED = "snapshot deferred"
    LOST = "lost"


S, E = LinkState, LinkStep
TRANSITIONS: dict[tuple[LinkState, LinkStep], LinkState] = {
    (S.CLOSED, E.CONNECTED): S.GREETING,
    (S.GREETING, E.BANNER): S.LOGGING_IN,
    (S.LOGGING_IN, E.LOGGED_IN): S.SYNCING,  # the login's own snapshot starts at once
    (S.SYNCING, E.SNAPSHOT_COMPLETED): S.FOLLOWING,
    (S.SYNCING, E.SNAPSHOT_DEFERRED): S.DEFERRED,
    (S.FOLLOWING, E.SNAPSHOT_ASKED): S.SYNCING,
    (S.DEFERRED, E.SNAPSHOT_ASKED): S.SYNCING,
    **{(state, E.LOST): S.CLOSED for state in S if state is not S.CLOSED},
}
"""(state, step) -> the state after it. Anything else is refused."""

LOGGED_IN = frozenset({S.SYNCING, S.DEFERRED, S.FOLLOWING})
"""The states in which actions may be sent and a snapshot asked for."""


def next_state(state: LinkState, step: LinkStep) -> LinkState:
    try:
        return TRANSITIONS[state, step]
    except KeyError:
        raise LinkStepRefused(state.value, step.value) from None
