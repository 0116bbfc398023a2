"""What the engine asks the app to do, as data: the app carries each out (Redis, AMI, sockets).

Nothing here does anything; :class:`~intake.core.engine.Engine` returns these from
:meth:`~intake.core.engine.Engine.feed` and :meth:`~intake.core.engine.Engine.wake`, in the order
they are due, and ``intake serve`` (:mod:`intake.app.server`) executes them. A replay that has no
Redis or desktops (:mod:`routing.scenario.replay`) drops them.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.core.calls import CallView
from intake.core.in_progress import InProgress
from intake.core.notices import WrappedUp
from telephony.events import MemberState


@dataclass(frozen=True, slots=True)
class KeepInProgress:
    """A call was offered: keep it where a restart finds it until its journal record is written."""

    record: InProgress


@dataclass(frozen=True, slots=True)
class Journal:
    """A counted call's outcome in its queue is known: its journal record is due (and the call
    leaves the calls in progress in the same write)."""

    call: CallView


@dataclass(frozen=True, slots=True)
class CallOver:
    """A call reached a final state: its contact record is due (a counted call with a number to
    file it under), and the wrap-up of the handler who answered it."""

    call: CallView


@dataclass(frozen=True, slots=True)
class WrapUpOver:
    """A handler's wrap-up after a counted call is over (:mod:`intake.core.wrapups`): its length
    is due beside the call's journal record (staffing's handle time = talk + wrap-up)."""

    wrapped: WrappedUp


@dataclass(frozen=True, slots=True)
class Resync:
    """Ask the PBX for its picture again."""

    reason: str


@dataclass(frozen=True, slots=True)
class RestoreMemberships:
    """Put a handler back in the queues a PBX restart dropped them from, as they were."""

    member: str
    lost: dict[str, MemberState]


@dataclass(frozen=True, slots=True)
class ResumeWrapUps:
    """The PBX's picture is in: resume the wrap-ups a restart or a lost link left pending."""


@dataclass(frozen=True, slots=True)
class CheckPbx:
    """The first login to the PBX: check what intake needs of it (once per run)."""


@dataclass(frozen=True, slots=True)
class Publish:
    """Send the supervisors' picture (the wallboard) now."""


Output = (KeepInProgress | Journal | CallOver | WrapUpOver | Resync | RestoreMemberships | ResumeWrapUps | CheckPbx
          | Publish)
