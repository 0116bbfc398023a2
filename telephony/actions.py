"""The AMI actions intake sends, as typed builders, and what comes back. Sans-I/O.

Each builder returns an :class:`Action` with a fresh ``ActionID``; :meth:`Action.encode` gives the
bytes (through :func:`telephony.frames.encode_frame`, which refuses CR/LF injection). Every field
of every action has a kind in :data:`FIELDS` and is checked against its rule
(:mod:`telephony.values`) as the Action is made: a value that breaks it raises
:class:`~telephony.errors.RefusedValue` naming the action, the field and why, so nothing
unchecked can reach the PBX, whoever builds the Action. An action
also says how its answer ends: most get one ``Response``; a few (QueueStatus, CoreShowChannels)
get ``Response: Success`` + ``EventList: start`` and then list events up to a ``*Complete`` event
named by :attr:`Action.list_end`.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from telephony import values as v
from telephony.errors import RefusedValue
from telephony.frames import Frame, encode_frame

# A per-process prefix: ActionIDs are per connection, but a prefix makes our actions easy to pick
# out of an Asterisk debug log shared with other AMI clients.
_PREFIX = f"intake-{secrets.token_hex(3)}-"
_counter = itertools.count(1)
_REDACTED = ("Secret",)

_QUEUE_MEMBER: dict[str, v.Kind] = {"Queue": v.QUEUE, "Interface": v.INTERFACE}
FIELDS: dict[str, dict[str, v.Kind]] = {
    "Login": {"Username": v.LOGIN_NAME, "Secret": v.SECRET, "Events": v.EVENT_MASK},
    "Logoff": {},
    "Ping": {},
    "QueueStatus": {"Queue": v.QUEUE},
    "CoreShowChannels": {},
    "ListCommands": {},  # check-config --pbx: which actions this AMI user may send
    "QueueAdd": {**_QUEUE_MEMBER, "MemberName": v.MEMBER_NAME, "Penalty": v.PENALTY, "Paused": v.FLAG,
                 "Reason": v.PAUSE_REASON, "StateInterface": v.INTERFACE},
    "QueueRemove": _QUEUE_MEMBER,
    "QueuePause": {**_QUEUE_MEMBER, "Paused": v.FLAG, "Reason": v.PAUSE_REASON},
    "QueuePenalty": {**_QUEUE_MEMBER, "Penalty": v.PENALTY},
    # Originate's Channel is a dial string for the first leg: one interface, never a list.
    "Originate": {"Channel": v.INTERFACE, "Context": v.CONTEXT, "Exten": v.EXTEN, "Priority": v.PRIORITY,
                  "CallerID": v.CALLER_ID, "Timeout": v.TIMEOUT_MS, "Variable": v.VARIABLE, "Async": v.FLAG},
    "Redirect": {"Channel": v.CHANNEL, "Context": v.CONTEXT, "Exten": v.EXTEN, "Priority": v.PRIORITY},
    "Hangup": {"Channel": v.CHANNEL, "Cause": v.CAUSE},
}
"""The kind of every field each action may carry, as written on the wire: the table the checks run on."""


def next_action_id() -> str:
    return f"{_PREFIX}{next(_counter)}"


@dataclass(frozen=True, slots=True)
class Action:
    """One AMI action: its name, its fields in wire order, its ActionID."""

    name: str
    fields: tuple[tuple[str, str], ...] = ()
    action_id: str = field(default_factory=next_action_id)
    list_end: str | None = None
    """Name of the event that closes the response list, or None for a single Response."""

    def __post_init__(self) -> None:
        kinds = FIELDS.get(self.name)
        if kinds is None:
            raise RefusedValue(self.name, "Action", repr(self.name), "is not an action intake knows how to check")
        for key, value in self.fields:
            kind = kinds.get(key)
            if kind is None:
                raise RefusedValue(self.name, key, "", f"is not a field of {self.name} intake knows how to check")
            why = kind.problem(value)
            if why:
                raise RefusedValue(self.name, key, kind.shown(value), why)

    def encode(self) -> bytes:
        return encode_frame((("Action", self.name), ("ActionID", self.action_id), *self.fields))

    def __repr__(self) -> str:  # never let a secret reach a log line
        shown = tuple((k, "***" if k in _REDACTED else v) for k, v in self.fields)
        return f"Action(name={self.name!r}, action_id={self.action_id!r}, fields={shown!r})"


@dataclass(frozen=True, slots=True)
class Response:
    """The PBX's answer to one action: the Response frame, plus the list events if any."""

    action: str
    action_id: str
    frame: Frame
    events: tuple[Frame, ...] = ()

    @property
    def message(self) -> str:
        return self.frame.get("Message", "")


def _action(name: str, /, list_end: str | None = None, **fields: object) -> Action:
    """Build an Action, dropping fields left as None (AMI treats absent and empty differently).
    A list value repeats its key once per item (Originate's ``Variable``)."""
    pairs = [
        (key, _wire(one))
        for key, value in fields.items()
        if value is not None
        for one in (value if isinstance(value, list) else (value,))
    ]
    return Action(name, tuple(pairs), list_end=list_end)


def _wire(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def login(username: str, secret: str) -> Action:
    return _action("Login", Username=username, Secret=secret, Events="on")


def logoff() -> Action:
    return _action("Logoff")


def ping() -> Action:
    return _action("Ping")


def queue_status(queue: str | None = None) -> Action:
    return _action("QueueStatus", list_end="QueueStatusComplete", Queue=queue)


def core_show_channels() -> Action:
    return _action("CoreShowChannels", list_end="CoreShowChannelsComplete")


def queue_add(
    queue: str,
    interface: str,
    member_name: str | None = None,
    penalty: int | None = None,
    paused: bool | None = None,
    reason: str | None = None,
    state_interface: str | None = None,
) -> Action:
    return _action(
        "QueueAdd",
        Queue=queue,
        Interface=interface,
        MemberName=member_name,
        Penalty=penalty,
        Paused=paused,
        Reason=reason,
        StateInterface=state_interface,
    )


def queue_remove(queue: str, interface: str) -> Action:
    return _action("QueueRemove", Queue=queue, Interface=interface)


def queue_pause(interface: str, paused: bool, queue: str | None = None, reason: str | None = None) -> Action:
    """Pause or unpause a member in ``queue``, or in every queue when ``queue`` is None."""
    return _action("QueuePause", Interface=interface, Paused=paused, Queue=queue, Reason=reason)


def queue_penalty(interface: str, penalty: int, queue: str | None = None) -> Action:
    return _action("QueuePenalty", Interface=interface, Penalty=penalty, Queue=queue)


def originate(
    channel: str,
    context: str,
    exten: str,
    priority: int = 1,
    caller_id: str | None = None,
    timeout_ms: int | None = None,
    variables: Mapping[str, str] | None = None,
    async_: bool = True,
) -> Action:
    """With ``async_`` (the default) the Response only says the call was queued; its outcome
    arrives later as an ``OriginateResponse`` event carrying the same ActionID."""
    return _action(
        "Originate",
        Channel=channel,
        Context=context,
        Exten=exten,
        Priority=priority,
        CallerID=caller_id,
        Timeout=timeout_ms,
        Variable=[f"{k}={v}" for k, v in variables.items()] if variables else None,
        Async=async_,
    )


def redirect(channel: str, context: str, exten: str, priority: int = 1) -> Action:
    return _action("Redirect", Channel=channel, Context=context, Exten=exten, Priority=priority)


def hangup(channel: str, cause: int | None = None) -> Action:
    return _action("Hangup", Channel=channel, Cause=cause)
