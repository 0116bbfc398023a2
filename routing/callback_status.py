"""Every rule of a call-back task's status lives in this file: the states, the events, and a
table (status, event) -> (next status, effects).

A task is *open* (waiting to be offered, offered, or given back after a call-back that did not
start), *calling* (the Originate from the handler's phone is on its way or ringing) or *closed*
(an outcome was filed, or the caller got through on a new call). A pair missing from the table is
an :class:`~routing.errors.IllegalTaskStep` naming the task, its status and the event: the desk
checks what a person or the PBX may do before it steps, so a missing pair is a bug of ours.

The effects are what the desk does about a step, in order, as data: :mod:`routing.callback_desk`
carries them out. Offers, take-backs and escalations keep the status; they are rows all the same,
so the table says which status each may happen in (a task being called is never taken back).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

from routing.errors import IllegalTaskStep


class Status(StrEnum):
    OPEN = "open"
    CALLING = "calling"
    CLOSED = "closed"


class TaskEvent(Enum):
    OFFERED = "offered"  # to a ready 999 handler with a desktop
    TAKEN_BACK = "taken-back"  # their handler can no longer take it: offered again
    ESCALATED = "escalated"  # open past escalate_seconds
    STARTED = "started"  # the handler clicked: the Originate is on its way
    SENT = "sent"  # the PBX took the Originate; its OriginateResponse comes later
    NOT_SENT = "not-sent"  # certainly not carried out (refused, or the PBX unreachable)
    UNCONFIRMED = "unconfirmed"  # the PBX will never say how it went: the phone may ring yet
    PHONE_ANSWERED = "phone-answered"  # OriginateResponse: the PBX is ringing the caller
    PHONE_FAILED = "phone-failed"  # OriginateResponse: the handler's phone did not answer
    OUTCOME_FILED = "outcome-filed"  # by the handler it is offered to
    CALLED_AGAIN = "called-again"  # a new call from the same number: the caller got through
    RESTARTED = "restarted"  # read back from Redis by a new intake


class Effect(Enum):
    SHOW = "show"  # the card as it now stands on its handler's desktop (when offered to one)
    TAKE_BACK = "take-back"  # the card off the desktop it was offered on
    CLOSE_CARD = "close-card"  # the card off its handler's desktop: the task is done
    FORGET = "forget"  # out of the open tasks, into the recently closed
    SAVE = "save"  # the task behind the event path (the write-behind), in order
    PUBLISH = "publish"  # the supervisors' picture changed


@dataclass(frozen=True, slots=True)
class Step:
    next: Status
    effects: tuple[Effect, ...] = ()


O, CA, CL = Status.OPEN, Status.CALLING, Status.CLOSED
E = TaskEvent
_CHANGED = (Effect.SAVE, Effect.PUBLISH)
_SHOWN = (Effect.SHOW, *_CHANGED)
_CLOSED = Step(CL, (Effect.CLOSE_CARD, Effect.FORGET, *_CHANGED))

OPENED_BY = "abandoned 999 call"
"""What opens a task (the registry settles a 999 call as abandoned): the diagram's entry."""

TRANSITIONS: dict[tuple[Status, TaskEvent], Step] = {
    (O, E.OFFERED): Step(O, _SHOWN),
    (O, E.TAKEN_BACK): Step(O, (Effect.TAKE_BACK, *_CHANGED)),
    (O, E.ESCALATED): Step(O, _SHOWN),
    (O, E.STARTED): Step(CA),  # shown once the PBX took it: a second click meanwhile is refused
    (O, E.SENT): Step(O, _SHOWN),  # the PBX's word on the call-back came before its answer to the action
    (O, E.OUTCOME_FILED): _CLOSED,  # what the handler did instead (a withheld number)
    (O, E.CALLED_AGAIN): _CLOSED,
    (O, E.RESTARTED): Step(O),  # offered afresh: desktops reconnect
    (CA, E.ESCALATED): Step(CA, _SHOWN),
    (CA, E.SENT): Step(CA, _SHOWN),
    (CA, E.NOT_SENT): Step(O, (Effect.SAVE,)),  # the handler is told by the answer to their click
    (CA, E.UNCONFIRMED): Step(O, _SHOWN),
    (CA, E.PHONE_ANSWERED): Step(CA, _SHOWN),
    (CA, E.PHONE_FAILED): Step(O, _SHOWN),
    (CA, E.OUTCOME_FILED): _CLOSED,
    (CA, E.CALLED_AGAIN): _CLOSED,
    (CA, E.RESTARTED): Step(CA, (Effect.SHOW,)),  # stays with the handler whose phone is on it
}


def step(task_id: str, status: Status, event: TaskEvent) -> Step:
    """The row for ``event`` in ``status``; :class:`IllegalTaskStep` when there is none."""
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise IllegalTaskStep(task_id, status.value, event.value) from None


def allows(status: Status, event: TaskEvent) -> bool:
    return (status, event) in TRANSITIONS
