"""The kinds of value intake puts in an action to the PBX, each with the one rule that makes it
safe to send. Sans-I/O, no dependencies.

:class:`telephony.actions.Action` checks every field it is built with against its kind (the table
``FIELDS`` there), so a value that breaks its rule cannot leave; the configuration and the REST API
check the same rules earlier, so that a person hears why at once and in their own terms.

Why these rules (Asterisk 22, seen on the test PBX and in app_queue):

- A CR or LF would end the AMI header and start another (injection); NUL and other control
  characters are cut or garbled by the PBX's C strings and logs: refused in every text.
- ``&`` joins several phones into one ``Dial()``: a caller's "number" ``caller-7&PJSIP/x`` put in a
  dial string rings both. ``,`` separates a dialplan application's arguments and Originate's
  ``Variable`` items (Asterisk splits that header on commas).
- ``;`` and ``|`` separate the fields of app_queue's saved members (``interface;penalty;paused;
  name;state interface;reason;wrap-up``, records joined by ``|``) and ``|`` those of queue_log:
  a reason with either corrupts the PBX's restore of its members after a restart.
- ``:`` is harmless in a value (Asterisk takes a header's value after the first colon; a pause
  reason ``lunch: 30 min`` comes back intact in QueueMemberPause): allowed.
- A pause reason is kept in an 80-byte buffer: a longer one is cut to 79 bytes, and a cut through
  a UTF-8 character makes Asterisk drop the QueueMemberPause event altogether (it cannot build
  its JSON), so intake would never learn of the pause, and writes the broken byte into queue_log
  (where a reason with ``|`` also makes extra fields: both seen on the test PBX). The same 80 bytes bound an interface, a
  member name, a context and an extension. A leading space is dropped by the AMI parser, so a
  reason with one would not match itself when the PBX reports it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEPARATORS = {
    "&": "Dial() would ring each side of it",
    ",": "it separates a dialplan application's arguments and Originate's variables",
    ";": "it separates fields of the PBX's saved queue members",
    "|": "it separates fields of the PBX's saved queue members and of queue_log",
}
"""Characters with a meaning inside the PBX, and why each is refused where it is."""

PBX_FIELD_BYTES = 79
"""Interface, member name, pause reason, context, extension: 80-byte buffers in Asterisk, NUL included."""


@dataclass(frozen=True, slots=True)
class Text:
    """A text field: printable, bounded in UTF-8 bytes, free of the separators it must not carry,
    and (when ``shape`` is set) of that form, which ``form`` says in words."""

    name: str
    max_bytes: int
    refused: str = ""  # characters of SEPARATORS this kind may not contain
    shape: re.Pattern[str] | None = None
    form: str = ""
    empty: str = "is empty"  # what to say of an empty value
    secret: bool = False  # never echo the value (a login secret)

    def problem(self, value: object) -> str:
        """Why ``value`` may not be sent as this kind: "" when it may."""
        if not isinstance(value, str):
            return f"is {type(value).__name__}, not text"
        if not value:
            return self.empty
        for ch in value:
            if not ch.isprintable():  # Cc, Cf, line and paragraph separators, every space but ' '
                return f"contains a control character (U+{ord(ch):04X})"
        for ch in self.refused:
            if ch in value:
                return f"contains {ch!r}: {SEPARATORS[ch]}"
        if value != value.strip():
            return "starts or ends with a space: the PBX drops a leading one"
        if self.shape is not None and not self.shape.fullmatch(value):
            return f"is not {self.form}"
        size = len(value.encode("utf-8"))
        if size > self.max_bytes:
            return f"is {size} bytes long (UTF-8); the PBX keeps {self.max_bytes}"
        return ""

    def shown(self, value: object) -> str:
        """The value as an error may quote it: short, and never a secret."""
        if self.secret:
            return "***"
        text = repr(value)
        return text if len(text) <= 42 else text[:39] + "..."


@dataclass(frozen=True, slots=True)
class Whole:
    """A whole number within bounds, as written on the wire."""

    name: str
    low: int
    high: int

    def problem(self, value: object) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]{1,12}", value):
            return "is not a whole number"
        if not self.low <= int(value) <= self.high:
            return f"is {int(value)}, outside {self.low} to {self.high}"
        return ""

    def shown(self, value: object) -> str:
        return repr(value)[:42]


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a few words (AMI's booleans, a Login's event mask)."""

    name: str
    words: frozenset[str]

    def problem(self, value: object) -> str:
        return "" if value in self.words else f"is not one of {', '.join(sorted(self.words))}"

    def shown(self, value: object) -> str:
        return repr(value)[:42]


Kind = Text | Whole | Choice

_ASCII_WORD = r"[!-~]+"  # printable ASCII, no space

DIALABLE_NUMBER = Text("dialable number", 21, shape=re.compile(r"\+?[0-9]{3,20}"),
                       form="a dialable number (digits with an optional leading +, 3 to 20 digits)",
                       empty="is empty (the caller's number was withheld)")
"""A number the PBX may dial: a call-back's caller. Anything else (withheld, ``anonymous``, a
SIP URI, an injected dial string) cannot be called back."""

PAUSE_REASON = Text("pause reason", PBX_FIELD_BYTES, refused=";|")
"""Why a handler is paused: the one rule for the config's reasons, the desktop's and the actions'."""

INTERFACE = Text("interface", PBX_FIELD_BYTES, refused="&,;|", shape=re.compile(r"[A-Za-z0-9_]+/" + _ASCII_WORD),
                 form="Tech/resource (e.g. PJSIP/handler-1 or Local/s@context), printable ASCII, no spaces")
"""A phone as a queue member or an Originate's first leg: exactly one of them."""

CHANNEL = Text("channel", 255, refused="&,|", shape=re.compile(r"[A-Za-z0-9_]+/" + _ASCII_WORD),
               form="a channel name (Tech/resource-id, e.g. PJSIP/trunk-00000029 or Local/s@ctx-00000001;1)")
"""A live channel, named as the PBX named it (a Local channel's half ends in ``;1`` or ``;2``)."""

QUEUE = Text("queue name", PBX_FIELD_BYTES, refused="&,;|", shape=re.compile(_ASCII_WORD),
             form="printable ASCII without spaces")

MEMBER_NAME = Text("member name", PBX_FIELD_BYTES, refused=",;|")

CONTEXT = Text("dialplan context", PBX_FIELD_BYTES, shape=re.compile(r"[A-Za-z0-9_-]+"),
               form="letters, digits, '_' and '-'")

EXTEN = Text("extension", PBX_FIELD_BYTES, refused="&,;|", shape=re.compile(r"[A-Za-z0-9+*#_.-]+"),
             form="an extension (letters, digits and + * # _ . -)")

CALLER_ID = Text("caller ID", 255)

VARIABLE = Text("channel variable", 255, refused=",", shape=re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*"),
                form="NAME=value with NAME of letters, digits and '_'")

LOGIN_NAME = Text("AMI user", 255, refused="&,;|", shape=re.compile(_ASCII_WORD), form="printable ASCII without spaces")

SECRET = Text("AMI secret", 1024, secret=True)

PENALTY = Whole("penalty", 0, 1_000_000)
PRIORITY = Whole("dialplan priority", 1, 1_000_000)
TIMEOUT_MS = Whole("timeout in ms", 1, 86_400_000)
CAUSE = Whole("hangup cause", 0, 127)
FLAG = Choice("boolean", frozenset({"true", "false"}))
EVENT_MASK = Choice("event mask", frozenset({"on", "off"}))
