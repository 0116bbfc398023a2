"""The pure rules of handlers' states: which AMI actions take a handler to the state they asked
for (:func:`plan`), put them back after a PBX restart (:func:`restoring`), what a refusal means
(:func:`contradicts_picture`, :func:`failure_of`), and when a finished call starts a wrap-up
(:func:`wrapup_after`) and whether it still ends it (:func:`wrapup_holds`, :func:`wrapup_still_due`).

No I/O: :class:`routing.handler_desk.HandlerDesk` sends what these decide and feeds back what came
of it as :class:`~routing.executor.ActionResult` values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from intake.core.config import HandlerConfig
from intake.core.errors import NoPhone, StateChangeFailed
from intake.core.handlers import Handler, wrapup_due
from routing.executor import ActionResult, Sent
from telephony import actions
from telephony.actions import Action
from telephony.events import MemberState
from telephony.values import PAUSE_REASON


class Wanted(Enum):
    """The states a handler may ask for; ringing, on call and wrap-up are the PBX's to say."""

    READY = "ready"
    NOT_READY = "not-ready"
    LOGGED_OUT = "logged-out"


def phone_of(handler: HandlerConfig, wanted: str) -> str:
    """The phone the rules act on: the handler's fixed one, or the position's the desk put in
    its place (:meth:`routing.handler_desk.HandlerDesk.at_phone`); NoPhone when neither."""
    if handler.member is None:
        raise NoPhone(handler.id, wanted)
    return handler.member


def plan(wanted: Wanted, reason: str, handler: HandlerConfig, memberships: Mapping[str, MemberState],
         lent: frozenset[str] = frozenset()) -> list[Action]:
    """The actions that take ``handler`` to ``wanted`` given its current queue memberships.

    Only the handler's configured queues, and the ``lent`` queues the routing policy added them
    to, are touched: a supervisor's ad-hoc membership elsewhere is theirs to undo. A lent queue
    follows the handler's state (a handler on a break must not ring for 999 calls) but is never
    joined here: lending is the policy's to decide. Not-ready re-pauses queues already paused so
    the new reason shows.
    """
    m = phone_of(handler, wanted.value)
    joined = [q for q in handler.queues if q in memberships] + sorted(q for q in lent if q in memberships and q not in handler.queues)
    missing = [q for q in handler.queues if q not in memberships]
    if wanted is Wanted.LOGGED_OUT:
        return [actions.queue_remove(q, m) for q in joined]
    if wanted is Wanted.READY:
        return ([actions.queue_add(q, m, member_name=handler.id) for q in missing]
                + [actions.queue_pause(m, False, q) for q in joined if memberships[q].paused])
    return ([actions.queue_add(q, m, member_name=handler.id, paused=True, reason=reason) for q in missing]
            + [actions.queue_pause(m, True, q, reason) for q in joined])


def fixed_in(wanted: Wanted, handler: HandlerConfig, memberships: Mapping[str, MemberState],
             lent: frozenset[str] = frozenset()) -> list[str]:
    """The queues ``wanted`` would have to take the handler out of although the PBX's own
    configuration holds them there (queues.conf ``member =>``): Asterisk refuses to remove such a
    member, so a log-out is refused before anything is sent (a half logged-out handler would still
    ring for 999 calls)."""
    if wanted is not Wanted.LOGGED_OUT:
        return []
    return sorted(q for q, s in memberships.items() if s.fixed and (q in handler.queues or q in lent))


MEMBERSHIP_ACTIONS = frozenset({"QueueAdd", "QueueRemove", "QueuePause"})


def contradicts_picture(action: Action) -> bool:
    """Whether the PBX refusing ``action`` says our picture of the queues is not the PBX's.

    :func:`plan` only asks what the picture says will work: add where the member is not, pause or
    remove where it is. So any refusal of one of these (Asterisk's "Interface not found", "Not
    there", "Already there", "No such queue" alike) means the queues changed behind our back. The
    rule needs no error text: the refusal is the evidence."""
    return action.name in MEMBERSHIP_ACTIONS


class FinishedCall(Protocol):
    """What wrap-up reads of a finished call (the registry's call, or a frozen snapshot of it)."""

    @property
    def queue(self) -> str: ...
    @property
    def answered_by(self) -> str | None: ...
    @property
    def answered_at(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class WrapUp:
    handler_id: str
    member: str
    queues: tuple[str, ...]
    seconds: float
    reason: str
    then_paused: str | None = None
    """None: ready when it ends; else the pause reason they asked for during the call (Not ready
    pressed on a call means "not ready after this call"): paused with it when it ends."""


def wrapup_after(call: FinishedCall, handler: Handler | None, seconds: float, wrapup_reason: str) -> WrapUp | None:
    """A wrap-up pause for the handler who answered ``call``, or None when none is due: nobody
    answered, or :func:`~intake.core.handlers.wrapup_due` says none is (the rule the registry
    shows the wrap-up due by, from the call's end until its pause arrives)."""
    if call.answered_at is None or handler is None:
        return None
    due = wrapup_due(handler, "", 0.0, seconds, wrapup_reason)
    if due is None or handler.handler_id is None:
        return None
    return WrapUp(handler.handler_id, handler.member, tuple(sorted(handler.memberships)), seconds, wrapup_reason,
                  due.then_paused)


def wrapup_holds(handler: Handler | None, wrapup_reason: str, then_paused: str | None = None) -> tuple[str, ...]:
    """The queues a wrap-up still holds the handler paused in, as the PBX shows them: those
    paused with the wrap-up's reason; none when the handler is logged out, ready in every queue
    (made ready at the phone or by another node) or on a break they chose in any queue (a
    choice outranks wrap-up).

    Queue by queue, not by :meth:`Handler.state`: a wrap-up pauses its queues one QueuePause at
    a time, so intake killed between two of them leaves the handler paused for wrap-up in some
    queues and ready in the rest. The state then reads "ready", and judged by it the wrap-up was
    dropped, leaving the handler paused in the first queue for good.

    ``then_paused``: the reason the wrap-up ends in (Not ready pressed during the call): a queue
    still paused with it (the pause cut off before reaching it) is no choice made meanwhile."""
    if handler is None:
        return ()
    states = handler.memberships.items()
    if any(s.paused and s.paused_reason not in (wrapup_reason, then_paused) for _, s in states):
        return ()
    return tuple(sorted(q for q, s in states if s.paused and s.paused_reason == wrapup_reason))


def wrapup_still_due(handler: Handler, wrapup_reason: str) -> bool:
    """At the end of the timer: unpause only a handler still in wrap-up (not one who went on a
    break or logged out meanwhile)."""
    return bool(wrapup_holds(handler, wrapup_reason))


def restoring(handler: HandlerConfig, lost: Mapping[str, MemberState], present: Mapping[str, MemberState],
              wrapup_reason: str) -> list[Action]:
    """The actions that put ``handler`` back as a PBX restart found them (``lost``), given the
    queues the PBX still has them in (``present``: static members)."""
    member, todo = phone_of(handler, "restored after PBX restart"), []
    for q, s in sorted(lost.items()):
        # A wrap-up pause is intake's own timer for a call the restart ended: back ready.
        paused = s.paused and s.paused_reason != wrapup_reason
        # A reason set at the PBX by other means may break our rule: paused all the same, without it.
        reason = s.paused_reason if paused and not PAUSE_REASON.problem(s.paused_reason) else None
        if q not in handler.queues:
            continue
        if q in present:  # a static member, back unpaused: a break must not ring 999 calls
            if paused:
                todo.append(actions.queue_pause(member, True, q, reason))
        else:
            todo.append(actions.queue_add(q, member, member_name=handler.id, paused=paused or None, reason=reason))
    return todo


def failure_of(handler_id: str, wanted: str, results: list[ActionResult]) -> StateChangeFailed | None:
    """What the results of a handler's actions (sent in order, up to the first not done) come to:
    None when every one was done, else the failure to report, refused or unreachable."""
    last = results[-1] if results else None
    if last is None or last.done:
        return None
    if last.sent is Sent.REFUSED:
        detail = f"the PBX refused {last.action.name}: {last.detail}"
        if contradicts_picture(last.action):
            detail += " (intake's picture of the queues was out of date and is being read again: try again)"
        return StateChangeFailed(handler_id, wanted, detail, refused=True)
    return StateChangeFailed(handler_id, wanted, f"the PBX could not be reached ({last.detail})", refused=False)
