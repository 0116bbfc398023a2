"""Errors of the intake server itself, each carrying the data a person needs to act on it."""

from __future__ import annotations

from dataclasses import dataclass


class IntakeError(Exception):
    """Base of every error raised by :mod:`intake`."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong in a configuration file: where (dotted key path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<top>'}: {self.message}"


class ConfigError(IntakeError):
    """A configuration file is unusable; ``problems`` lists every fault found, not the first."""

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {source}: {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in {source}:\n{lines}")


class CannotListen(IntakeError):
    """The HTTP port could not be bound (another process holds it, or the address is not this
    machine's): found before intake touches the PBX or Redis."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {reason}")
        self.host = host
        self.port = port
        self.reason = reason


class IllegalTransition(IntakeError):
    """An event arrived that makes no sense for a call in its present state.

    The PBX's picture wins: the registry logs and counts this and carries on; a resync repairs
    anything we missed.
    """

    def __init__(self, call_id: str, state: str, event: str) -> None:
        super().__init__(f"call {call_id}: {event} is not expected in state {state}")
        self.call_id = call_id
        self.state = state
        self.event = event


class StateChangeFailed(IntakeError):
    """A handler asked for a state the PBX did not give them. ``refused``: the PBX said no (its
    message is in the text); otherwise it could not be reached or did not answer in time."""

    def __init__(self, handler_id: str, wanted: str, detail: str, *, refused: bool) -> None:
        super().__init__(f"{wanted} for {handler_id} not done: {detail}")
        self.handler_id = handler_id
        self.wanted = wanted
        self.detail = detail
        self.refused = refused


class StaticMembership(StateChangeFailed):
    """A handler asked to log out of queues the PBX's own configuration holds them in (queues.conf
    ``member =>``, or realtime): Asterisk refuses QueueRemove of such a member, so intake does not
    try. ``queues`` names them; the fix is in queues.conf, not at the desk."""

    def __init__(self, handler_id: str, wanted: str, member: str, queues: list[str]) -> None:
        where = ", ".join(queues)
        super().__init__(handler_id, wanted,
                         f"static member in queues.conf: intake cannot log it out ({member} in {where}; "
                         f"remove its 'member =>' line there)", refused=True)
        self.member = member
        self.queues = queues


# --- refusals at the web edge: each maps to a status and a code in intake/app/web_errors.py -----


class NotSignedIn(IntakeError):
    """No credential, or one that names nobody. Never carries the credential: it would be logged."""

    def __init__(self) -> None:
        super().__init__("a valid bearer token is required")


class WrongRole(IntakeError):
    """Signed in, but as someone this is not for: ``needed`` is the role that may ("handler",
    "supervisor")."""

    def __init__(self, needed: str, message: str) -> None:
        super().__init__(message)
        self.needed = needed


class InvalidRequest(IntakeError):
    """A request's body, path or query is unusable. ``problems`` are "field: problem" lines (the
    wording of :func:`screenpop.models.describe`); ``field`` names the first field at fault, None
    when the fault is the whole body (not JSON, not an object)."""

    def __init__(self, field: str | None, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.field = field
        self.problems = problems

    @classmethod
    def of(cls, field: str, problem: str) -> InvalidRequest:
        return cls(field, [f"{field}: {problem}"])



class RequestTooLarge(IntakeError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"a request body is at most {limit} bytes (this one: {size} or more)")
        self.size = size
        self.limit = limit


class IllegalLeaseStep(IntakeError):
    """A site's lease was fed an event its role has no row for (:mod:`intake.core.leadership`): a
    bug of ours, named with the site, the role and the event."""

    def __init__(self, site: str, role: str, event: str) -> None:
        super().__init__(f"lease of site {site!r}: no step for event {event!r} in role {role!r}")
        self.site, self.role, self.event = site, role, event
