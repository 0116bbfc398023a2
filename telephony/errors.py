"""Errors of the telephony layer, one family, each carrying what a log or a caller needs.

Two branches, because the fix lies in different places: :class:`PbxProtocolError` means the PBX
(or whatever is on the socket) sent something we cannot use; :class:`ActionError` means an action
we sent was refused, unsafe or unanswered.
"""

from __future__ import annotations


class TelephonyError(Exception):
    """Base of every error raised by :mod:`telephony`."""


class PbxProtocolError(TelephonyError):
    """The remote side sent bytes that are not a usable AMI message (its fault, not ours)."""


class FrameTooLarge(PbxProtocolError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"AMI frame of {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


class MalformedFrame(PbxProtocolError):
    """A frame we know (by its Event) lacks a field we need, or a number will not parse.

    ``event`` and ``field`` name the culprit when known, so the count in the logs says which
    event of which Asterisk version to look at.
    """

    def __init__(self, reason: str, sample: bytes = b"", *, event: str | None = None, field: str | None = None) -> None:
        super().__init__(f"malformed AMI frame: {reason}")
        self.reason = reason
        self.sample = sample[:200]
        self.event = event
        self.field = field


class ActionError(TelephonyError):
    """An action we sent (or tried to send) did not succeed."""


class UnsafeActionValue(ActionError):
    def __init__(self, key: str, value: str) -> None:
        super().__init__(f"refusing to send AMI field {key!r}: CR, LF or ':' would split the message")
        self.key = key
        self.value = value


class ActionTimeout(ActionError):
    def __init__(self, action: str, action_id: str, timeout: float) -> None:
        super().__init__(f"AMI action {action} ({action_id}) got no response within {timeout:g} s")
        self.action = action
        self.action_id = action_id
        self.timeout = timeout


class ActionFailed(ActionError):
    def __init__(self, action: str, action_id: str, message: str) -> None:
        super().__init__(f"AMI action {action} ({action_id}) failed: {message}")
        self.action = action
        self.action_id = action_id
        self.message = message


class ActionInterrupted(ActionError):
    """The link dropped after the action was written and before its response: the PBX may or may
    not have carried it out. Never retried for the caller (an Originate must not run twice)."""

    def __init__(self, action: str, action_id: str, reason: str) -> None:
        super().__init__(f"AMI action {action} ({action_id}) interrupted: {reason}")
        self.action = action
        self.action_id = action_id
        self.reason = reason


class NotConnected(ActionError):
    def __init__(self, action: str) -> None:
        super().__init__(f"AMI action {action} not sent: no logged-in session to the PBX")
        self.action = action


class LoginFailed(TelephonyError):
    def __init__(self, username: str, message: str) -> None:
        super().__init__(f"AMI login as {username!r} refused: {message}")
        self.username = username
        self.message = message


class RefusedValue(UnsafeActionValue):
    """A field of an action we were about to build breaks the rule of its kind
    (:mod:`telephony.values`): refused before anything is sent. Ours to fix, or the input's we
    passed on (a caller's number, a reason typed at a desktop), never the PBX's fault.

    ``action`` and ``field`` name the culprit as AMI spells them; ``why`` is the rule it breaks.
    """

    def __init__(self, action: str, field: str, shown: str, why: str) -> None:
        ActionError.__init__(self, f"refusing to send {action}: {field} {shown} {why}")
        self.action = action
        self.field = self.key = field
        self.value = shown  # as an error may quote it: cut short, a secret masked
        self.why = why


class LinkStepRefused(TelephonyError):
    """The AMI connection was asked to take a step its table has no entry for in its state: a bug
    of ours (the I/O loop drove it out of order), never the PBX's doing."""

    def __init__(self, state: str, step: str) -> None:
        super().__init__(f"AMI link in state {state!r} cannot take the step {step!r}")
        self.state = state
        self.step = step
