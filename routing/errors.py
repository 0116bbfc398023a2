"""Errors of the routing package, each carrying what the person who asked needs to act on it.

Call-back errors say whose move it was: the task is not there (:class:`NoSuchTask`), it is not
the asker's to act on now (:class:`TaskConflict`: offered to someone else, already being called,
already closed), or the PBX did not start the call (:class:`CallbackNotStarted`).
"""

from __future__ import annotations


class RoutingError(Exception):
    """Base of every error raised by :mod:`routing`."""


class IllegalStep(RoutingError):
    """A pair (state, event) a routing state machine's table has no row for: a bug of ours (the
    desk let an event through that its state cannot take), named with what it happened to."""

    def __init__(self, machine: str, subject: str, state: str, event: str) -> None:
        super().__init__(f"{machine} {subject!r}: no step for event {event!r} in state {state!r}")
        self.machine, self.subject, self.state, self.event = machine, subject, state, event


class IllegalTaskStep(IllegalStep):
    """A call-back task was asked to take a step its status has no row for."""

    def __init__(self, task_id: str, state: str, event: str) -> None:
        super().__init__("call-back task", task_id, state, event)
        self.task_id = task_id


class IllegalRingOutStep(IllegalStep):
    """A member's ring-out count was fed an event its state has no row for."""

    def __init__(self, member: str, state: str, event: str) -> None:
        super().__init__("ring-out count of", member, state, event)
        self.member = member


class CallbackError(RoutingError):
    def __init__(self, task_id: str, message: str) -> None:
        super().__init__(message)
        self.task_id = task_id


class NoSuchTask(CallbackError):
    def __init__(self, task_id: str) -> None:
        super().__init__(task_id, f"no call-back task {task_id!r}")


class TaskConflict(CallbackError):
    """The task exists but the asker cannot do this to it now; ``why`` says what is in the way."""

    def __init__(self, task_id: str, handler_id: str, why: str) -> None:
        super().__init__(task_id, f"call-back task {task_id!r}: {why}")
        self.handler_id, self.why = handler_id, why


class CallbackNotStarted(CallbackError):
    """The Originate did not go through. ``refused``: the PBX said no (its words are in
    ``detail``); otherwise it could not be reached. Either way the task is still the handler's."""

    def __init__(self, task_id: str, detail: str, *, refused: bool) -> None:
        super().__init__(task_id, f"call-back of task {task_id!r} not started: {detail}")
        self.detail, self.refused = detail, refused


class CallbackNotDialable(CallbackError):
    """The task's number cannot be dialled (withheld, ``anonymous``, not a telephone number): no
    call-back can be started, and the task stays open for its outcome. ``field`` names what is
    wrong ("number"), ``why`` the rule it breaks (:data:`telephony.values.DIALABLE_NUMBER`)."""

    def __init__(self, task_id: str, shown: str, why: str) -> None:
        super().__init__(task_id, f"number: the caller's number {shown} cannot be dialled: it {why}")
        self.field, self.why = "number", why


class Fenced(RoutingError):
    """Redis refused a write made with fencing token ``token``: the site has granted its lease
    since, at ``current`` (:mod:`routing.fenced`). This node was deposed; the write is not applied."""

    def __init__(self, site: str, token: int, current: int) -> None:
        super().__init__(f"site {site!r}: a write with fencing token {token} refused, the site's lease is at {current}")
        self.site, self.token, self.current = site, token, current


class TimerNotReplicated(RoutingError):
    """A durable timer's write the primary took, that no replica was seen to hold in time
    (``what``: "put" or "remove"); the wrap-up goes on in memory (the handler desk logs it)."""

    def __init__(self, what: str, handler_id: str, replicas: int) -> None:
        super().__init__(f"wrap-up timer {what} of {handler_id}: not held by {replicas} replica(s) in time")
        self.what, self.handler_id, self.replicas = what, handler_id, replicas
