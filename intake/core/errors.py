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
    """No credential, or one that names nobody. Never carries the credential: it would be logged.
    ``reason``: why a credential was refused (expired, another issuer's...), for the person and the log."""

    def __init__(self, reason: str = "a valid bearer token is required") -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownPerson(IntakeError):
    """The identity provider vouches for someone intake has no configured entry for in that role
    (``username``: the configured id their token names; ``role``: the role their token gives)."""

    def __init__(self, username: str, role: str | None) -> None:
        if role is None:
            message = f"{username!r} has no intake role (handler, supervisor, auditor or admin) at the identity provider"
        else:
            message = (f"{username!r} signs in as a {role}, but intake has no {role} {username!r} "
                       f"configured: an administrator adds them to [[{role}s]]")
        super().__init__(message)
        self.username = username
        self.role = role


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



class ReasonRequired(IntakeError):
    """A look at a caller's data with no call, task or typed reason to justify it: the audit trail
    (DPA 2018 s.62) must say why each consultation happened, so it is refused."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs a reason: give ?call=<call id>, ?task=<call-back task id> or ?reason=<text> "
                         "(it goes into the audit trail)")
        self.what = what


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


# --- positions (hot-desking): refusals at the desktop's sign-in to a position ---------------------


class PositionTaken(IntakeError):
    """Another handler sits at the position: ``holder`` names them (one position, one handler)."""

    code = "position-taken"

    def __init__(self, position: str, holder: str) -> None:
        super().__init__(f"position {position} is taken by {holder}")
        self.position = position
        self.holder = holder


class AlreadySeated(IntakeError):
    """One handler, one position: ``handler_id`` holds ``position`` already (leave it first)."""

    code = "already-at-a-position"

    def __init__(self, handler_id: str, position: str) -> None:
        super().__init__(f"{handler_id} is signed in at position {position}: leave it first")
        self.handler_id, self.position = handler_id, position


class UnknownPosition(IntakeError):
    """No ``[[positions]]`` of that id on the handler's site (``site``) to sign in at."""

    code = "unknown-position"

    def __init__(self, position: str, site: str) -> None:
        super().__init__(f"no position {position!r} on site {site}")
        self.position = position
        self.site = site


class NoPhone(StateChangeFailed):
    """A handler with no fixed phone asked for a state before signing in at a position: there is
    no phone to add to their queues."""

    def __init__(self, handler_id: str, wanted: str) -> None:
        super().__init__(handler_id, wanted, "not signed in at a position: choose one first", refused=True)


class FixedPhone(IntakeError):
    """A handler with a fixed phone (``[[handlers]] member``) asked to sign in at a position."""

    code = "fixed-phone"

    def __init__(self, handler_id: str, member: str) -> None:
        super().__init__(f"{handler_id} has a fixed phone ({member}): positions are for those without one")
        self.handler_id = handler_id
        self.member = member


class StaffingError(IntakeError, ValueError):
    """A staffing figure was asked of a value no model takes (a negative rate, a goal of 120%)."""

    def __init__(self, field: str, value: object, wanted: str) -> None:
        super().__init__(f"{field}: {value!r} is not {wanted}")
        self.field = field
        self.value = value
        self.wanted = wanted
