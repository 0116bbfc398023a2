"""Errors of the screen-pop layer, one family, each carrying what a log line or a reply needs.

Three branches, because the fix lies in different places:

- :class:`DesktopError`: a client socket (a handler's desktop, a supervisor's wallboard) did
  something we refuse (bad token, a message we cannot use, reading too slowly). Its fault, not
  ours; each maps to a close code (:data:`screenpop.socket.CLOSE_CODES`) or an error reply.
- :class:`OutcomeRejected`: the application refused a well-formed outcome (no such call, another
  handler's call). Raised by the injected ``on_outcome`` callback; the socket stays open.
- :class:`HistoryError`: the history store was asked for something it cannot do.
"""

from __future__ import annotations


class ScreenPopError(Exception):
    """Base of every error raised by :mod:`screenpop`."""


# --- the desktop's fault ------------------------------------------------------------------------


class DesktopError(ScreenPopError):
    """A desktop connection misbehaved."""


class BadToken(DesktopError):
    def __init__(self, message: str = "the desktop presented no valid token") -> None:
        # Never carries the token: it would end up in a log line.
        super().__init__(message)


class TokenInUrl(BadToken):
    """The handshake carried a credential in its URL (``?token=``): refused without a look, so a
    page or tool that still does so is told at once, not after the sign-in timeout."""

    def __init__(self, parameter: str) -> None:
        super().__init__(f"a token in the URL ({parameter}=) is refused: send it as the first message, "
                         '{"type": "auth", "token": "..."}')
        self.parameter = parameter


class TooManyRefusals(DesktopError):
    """Too many refused tokens from one client address lately: try again in ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many refused sign-ins from this address: try again in {retry_after} s")
        self.retry_after = retry_after
class SignedOff(BadToken):
    """The person signed out (or their sign-in ended) while their desktop was open: it must sign in again."""

    def __init__(self, handler_id: str) -> None:
        super().__init__(f"handler {handler_id!r} signed out")
        self.handler_id = handler_id


class BadResumePoint(DesktopError):
    def __init__(self, raw: str) -> None:
        super().__init__(f"last_seq must be a whole number >= 0, got {raw[:20]!r}")
        self.raw = raw[:20]


class TooSlow(DesktopError):
    """A client fell behind: a send stalled (``peer`` says who: "desktop of handler 'ana'")."""

    def __init__(self, peer: str, reason: str) -> None:
        super().__init__(f"{peer} is too slow: {reason}")
        self.peer = peer
        self.reason = reason


class DesktopTooSlow(TooSlow):
    """The desktop fell behind: its outbox filled up, a send stalled, or it stopped answering."""

    def __init__(self, handler_id: str, reason: str) -> None:
        super().__init__(f"desktop of handler {handler_id!r}", reason)
        self.handler_id = handler_id


class InputRefused(DesktopError):
    """The peer said something to a stream that takes nothing of the kind (a wallboard sending data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadMessage(DesktopError):
    """One message from a desktop was unusable; answered with an error reply, not a close."""

    code = "invalid"

    def __init__(self, detail: str, problems: tuple[str, ...] = (), call_id: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems
        self.call_id = call_id  # the call an invalid outcome named, when it named one validly


class MessageTooLarge(BadMessage):
    code = "too-large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message of {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


class MessageNotJson(BadMessage):
    code = "not-json"


class UnknownMessageType(BadMessage):
    code = "unknown-type"


class NotText(BadMessage):
    code = "not-text"

    def __init__(self) -> None:
        super().__init__("binary frames are not accepted: send JSON as text")


class DesktopDisconnected(DesktopError):
    """The desktop went away; there is no one left to send a close frame to."""

    def __init__(self, code: int | None = None) -> None:
        super().__init__(f"desktop disconnected (close code {code})")
        self.code = code


class TooManyBadMessages(DesktopError):
    def __init__(self, handler_id: str, count: int) -> None:
        super().__init__(f"desktop of handler {handler_id!r} sent {count} unusable messages")
        self.handler_id = handler_id
        self.count = count


class ServerShuttingDown(ScreenPopError):
    """The hub is closing: every desktop is told to go away (and to reconnect elsewhere or later)."""

    def __init__(self) -> None:
        super().__init__("the server is shutting down")


# --- the application refused an outcome ---------------------------------------------------------


class OutcomeRejected(ScreenPopError):
    """Raised by ``on_outcome``; ``code`` goes to the desktop in the error reply."""

    code = "rejected"

    def __init__(self, call_id: str, message: str) -> None:
        super().__init__(message)
        self.call_id = call_id


class UnknownCall(OutcomeRejected):
    code = "unknown-call"

    def __init__(self, call_id: str) -> None:
        super().__init__(call_id, f"no call {call_id!r} is known")


class NotYourCall(OutcomeRejected):
    code = "not-your-call"

    def __init__(self, call_id: str, handler_id: str) -> None:
        super().__init__(call_id, f"call {call_id!r} was not answered by handler {handler_id!r}")
        self.handler_id = handler_id


# --- the history store --------------------------------------------------------------------------


class HistoryError(ScreenPopError):
    """The history store could not do what was asked."""


class NotANumber(HistoryError):
    def __init__(self, number: str) -> None:
        super().__init__(f"{number[:40]!r} is not a caller number history can be kept for")
        self.number = number[:40]


class NotReplicated(HistoryError):
    """A write the primary took, that no replica was seen to hold in time: not acknowledged (the
    caller tries again; writing it twice is harmless)."""

    def __init__(self, what: str, replicas: int) -> None:
        super().__init__(f"{what}: not held by {replicas} replica(s) in time; try again")
        self.what = what
        self.replicas = replicas


# --- the location service's fault ----------------------------------------------------------------


class LocationServiceFailed(ScreenPopError):
    """The location service gave no usable answer for a number: unreachable, too slow, an error
    status, or a body that is not a location. The pop goes on with the next source."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        # Never carries the number or the URL (it holds the number): the log line binds the call id.
        super().__init__(f"location service: {reason}" + (f" (HTTP {status})" if status is not None else ""))
        self.reason = reason
        self.status = status
