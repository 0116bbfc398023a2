"""What the registry tells of an event: notices, frozen, each with the call as it stood after it.

A notice's ``call`` is a :class:`~intake.core.calls.CallView`: a subscriber that keeps one, or
reads it in a task later, reads what was true when the event was applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from intake.core.calls import Call, CallView
from intake.core.handlers import HandlerState
from telephony import events as ev


@dataclass(frozen=True, slots=True)
class Queued:
    """A call we now follow (it joined a queue, or a resync showed it waiting or talking): it
    moves the floor, so the engine runs the routing policy and refreshes the wallboard."""

    call: CallView


@dataclass(frozen=True, slots=True)
class Ringing:
    call: CallView
    member: str


@dataclass(frozen=True, slots=True)
class RingStopped:
    """A member's phone stopped ringing for a call it did not answer; ``reason`` says why."""

    call: CallView
    member: str
    reason: str  # rang-out | answered-elsewhere | abandoned | left | vanished


@dataclass(frozen=True, slots=True)
class Answered:
    call: CallView
    member: str


@dataclass(frozen=True, slots=True)
class Settled:
    """A counted call's outcome in its queue is known (answered, abandoned or left): the figures
    counted it just now, and its journal record is due (a call answered is settled long before
    it finishes: a restart in between must find it in the journal)."""

    call: CallView


@dataclass(frozen=True, slots=True)
class Finished:
    """A call reached a final state: the moment to write its contact record."""

    call: CallView


@dataclass(frozen=True, slots=True)
class HandlerChanged:
    member: str


@dataclass(frozen=True, slots=True)
class MembershipsLost:
    """After a lost link, the PBX's picture no longer has a member in queues it was in before
    (an Asterisk restart forgets every member: persistentmembers = no), or has a static member
    (queues.conf ``member =>``) back unpaused that was paused (a restart reads queues.conf
    afresh). ``lost`` is the member's state in each such queue as last seen, so the edge can put
    it back as it was."""

    member: str
    lost: dict[str, ev.MemberState]


@dataclass(frozen=True, slots=True)
class ResyncWanted:
    """The picture may no longer be the PBX's: the PBX read its queues' configuration again (a
    reload changes members without a member event). The edge asks the PBX for its picture."""

    reason: str


@dataclass(frozen=True, slots=True)
class WrappedUp:
    """A handler's wrap-up (measured by :mod:`intake.core.wrapups`, told by the engine beside the
    registry's notices) after ``call`` is over: it ran from ``started_at`` to ``ended_at`` (PBX clock)."""

    call: CallView
    member: str
    handler_id: str | None
    started_at: float
    ended_at: float
    ended_as: HandlerState
    """What the handler went to: ready, not ready, logged out."""

    @property
    def seconds(self) -> float:
        return max(0.0, self.ended_at - self.started_at)


Notice = (Queued | Ringing | RingStopped | Answered | Settled | Finished | HandlerChanged | MembershipsLost | ResyncWanted
          | WrappedUp)

_About = Callable[..., Notice]
"""A notice about a call, given the call's view once the event is applied (see :class:`Told`)."""


class Told(list[tuple["_About | None", "Call | Notice", tuple[str, ...]]]):
    """The notices of one event as the registry gives them: about a live call until the event is
    applied, then frozen (:meth:`frozen`) with one view of each call as it then stands. (A list:
    one is made for every event, most of which tell nothing.)"""

    __slots__ = ()

    def about(self, kind: _About, call: Call, *args: str) -> None:
        self.append((kind, call, args))

    def plain(self, notice: Notice) -> None:
        self.append((None, notice, ()))

    def frozen(self) -> list[Notice]:
        if not self:
            return []
        views: dict[int, CallView] = {}
        out: list[Notice] = []
        for kind, subject, args in self:
            if kind is None:
                out.append(subject)  # type: ignore[arg-type]  # plain: a Notice by construction
                continue
            call: Call = subject  # type: ignore[assignment]  # about: a Call by construction
            view = views.get(id(call))  # by object: a call id may start a new stay in the same event
            if view is None:
                view = views[id(call)] = call.view()
            out.append(kind(view, *args))
        return out
