"""The audit trail's entries and its hash chain (Data Protection Act 2018, Part 3, s.62): no I/O.

An entry says who (the identity provider's subject, the configured id, the role, the position)
did what (consulted, altered, disclosed, erased, expired) to which record (the caller's number,
the record's kind and id), when, why (the call or call-back task it was for, or a reason the
person typed), and on which node.

Entries form one chain: each stored link carries its place (``seq``, from 1), the hash of the
link before it (``prev``; the first's is :data:`GENESIS`) and its own hash, SHA-256 over its
place, its ``prev`` and the entry's canonical encoding. Changing an entry changes its hash;
recomputing that hash breaks the next link's ``prev``; removing or moving a link breaks the
places. :func:`verify` walks the stored links and names the first that does not hold.

The chain is kept by :mod:`intake.app.audit_store` (one Redis list across every node, appended
by a script that checks the tail it is given is still the tail).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

GENESIS = "0" * 64
"""The ``prev`` of the chain's first link."""


class Action(Enum):
    CONSULTED = "consulted"  # personal data shown: a pop with history, a history or report viewed
    ALTERED = "altered"  # an outcome, a marker, a call-back's outcome filed
    COLLECTED = "collected"  # markers imported in bulk
    DISCLOSED = "disclosed"  # data taken out of intake: a CSV, an export of the trail
    ERASED = "erased"  # a number's records removed on a lawful request
    EXPIRED = "expired"  # records removed by the retention sweep


class RecordKind(Enum):
    HISTORY = "history"  # a number's whole contact history (a pop, a history view)
    OUTCOME = "outcome"
    MARKER = "marker"
    CALLBACK = "callback"  # a call-back task's outcome
    REPORT = "report"  # a day's report (the record is the day, line and site)
    AUDIT = "audit"  # the audit trail itself (an export of it)
    POSITION = "position"  # a handler's claim of a position (desk and phone): the record is the position id
    INCIDENTS = "incidents"  # incidents near a caller's location (a pop), or a feed of them (an import)
    CALL = "call"  # a waiting call's caller number, shown on the wallboard (the record is the call id)
    LOCATION = "location"  # a caller's location: shown on a pop (the record is its source) or asked of the location service


class Who(BaseModel):
    """The person (or the process) acting, as :class:`intake.app.auth.Principal` names them."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")
    subject: str = Field(max_length=256)
    id: str = Field(max_length=128)
    role: str = Field(max_length=32)
    position: str | None = Field(None, max_length=128)


class AuditEntry(BaseModel):
    """One thing done to personal data. ``id`` tells a re-appended entry (written again after a
    failover that may have lost it) from a new one; ``at`` is epoch seconds."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")
    id: str = Field(min_length=1, max_length=64)
    at: float
    who_subject: str = Field(max_length=256)
    who_id: str = Field(max_length=128)
    role: str = Field(max_length=32)
    position: str | None = Field(None, max_length=128)
    action: Action
    number: str | None = Field(None, max_length=64)
    kind: RecordKind
    record: str = Field("", max_length=256)
    why: str = Field(min_length=1, max_length=1000)  # a typed reason is at most 500 characters, plus its label
    node: str = Field("", max_length=128)

    @classmethod
    def of(cls, who: Who, action: Action, kind: RecordKind, *, id: str, at: float, why: str, node: str,
           number: str | None = None, record: str = "") -> AuditEntry:
        return cls(id=id, at=at, who_subject=who.subject, who_id=who.id, role=who.role, position=who.position,
                   action=action, number=number, kind=kind, record=record, why=why, node=node)


def canonical(entry: AuditEntry) -> bytes:
    """The entry's one encoding that is hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(entry.model_dump(mode="json"), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode()


def link_hash(seq: int, prev: str, entry: AuditEntry) -> str:
    return hashlib.sha256(f"{seq}\n{prev}\n".encode() + canonical(entry)).hexdigest()


@dataclass(frozen=True, slots=True)
class Tail:
    """The chain's last link: where the next one goes."""

    seq: int
    hash: str

    def encode(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def decode(cls, text: str | bytes | None) -> Tail:
        if text is None:
            return START
        raw = text.decode() if isinstance(text, bytes) else text
        seq, _, hash_ = raw.partition(":")
        return cls(int(seq), hash_)


START = Tail(0, GENESIS)
"""The tail of an empty chain."""


@dataclass(frozen=True, slots=True)
class Link:
    seq: int
    prev: str
    hash: str
    entry: AuditEntry

    def encode(self) -> str:
        return json.dumps({"seq": self.seq, "prev": self.prev, "hash": self.hash,
                           "entry": self.entry.model_dump(mode="json")}, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, allow_nan=False)


def chain(tail: Tail, entries: Iterable[AuditEntry]) -> tuple[list[Link], Tail]:
    """``entries`` as links after ``tail``, and the new tail."""
    links = []
    for entry in entries:
        seq = tail.seq + 1
        link = Link(seq, tail.hash, link_hash(seq, tail.hash, entry), entry)
        links.append(link)
        tail = Tail(seq, link.hash)
    return links, tail


class Unreadable(ValueError):
    pass


def decode(raw: str | bytes) -> Link:
    """A stored link; :class:`Unreadable` when it is not one (a hand-edited value, say)."""
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or set(data) != {"seq", "prev", "hash", "entry"}:
            raise Unreadable("not a link (seq, prev, hash, entry)")
        seq, prev, hash_ = data["seq"], data["prev"], data["hash"]
        if not isinstance(seq, int) or not isinstance(prev, str) or not isinstance(hash_, str):
            raise Unreadable("seq, prev or hash of the wrong type")
        return Link(seq, prev, hash_, AuditEntry.model_validate_json(json.dumps(data["entry"])))
    except (ValueError, ValidationError) as exc:
        if isinstance(exc, Unreadable):
            raise
        raise Unreadable(str(exc).splitlines()[0]) from None


Problem = Literal["altered", "removed", "reordered", "unreadable"]


@dataclass(frozen=True, slots=True)
class Finding:
    """The first place the chain does not hold: ``seq`` is the entry named (the one expected
    there, for a removal), ``position`` its place in the store (0-based; None: past the end)."""

    problem: Problem
    seq: int
    position: int | None
    detail: str

    def __str__(self) -> str:
        where = "at the end" if self.position is None else f"at position {self.position}"
        return f"entry {self.seq} {self.problem} ({where}): {self.detail}"


@dataclass(frozen=True, slots=True)
class Verified:
    entries: int
    tail: Tail


LOOKAHEAD = 10_000
"""How far past a gap the walk looks for the missing entry (moved: reordered) before calling it removed."""


def verify(stored: Iterable[str | bytes], tail: Tail | None) -> Verified | Finding:
    """Walk the stored links in order: every link readable, in its place, its hash its content's,
    its ``prev`` the hash before it; the last one the ``tail`` the store keeps (None: not kept)."""
    walk = ChainWalk()
    for raw in stored:
        found = walk.feed(raw)
        if found is not None:
            return found
    return walk.finish(tail)


class ChainWalk:
    """:func:`verify` one link at a time, for a chain read in pages: :meth:`feed` each stored link
    in order until it returns a finding, then :meth:`finish`."""

    def __init__(self) -> None:
        self.expected = START
        self.position = 0
        self._gap: tuple[int, int, Link] | None = None  # (missing seq, its position, the link found there)

    def feed(self, raw: str | bytes) -> Finding | None:
        position = self.position
        self.position += 1
        if self._gap is not None:
            return self._past_gap(raw)
        expected = self.expected
        try:
            link = decode(raw)
        except Unreadable as exc:
            return Finding("unreadable", expected.seq + 1, position, f"not a link: {exc}")
        if link.seq != expected.seq + 1:
            if link.hash == link_hash(expected.seq + 1, link.prev, link.entry):
                return Finding("altered", expected.seq + 1, position, f"its place was changed to {link.seq}")
            if link.seq <= expected.seq:
                return Finding("reordered", link.seq, position, f"found after entry {expected.seq}")
            self._gap = (expected.seq + 1, position, link)  # moved further on, or removed: look ahead
            return None
        if link.hash != link_hash(link.seq, link.prev, link.entry):
            return Finding("altered", link.seq, position, "its content does not match its hash")
        if link.prev != expected.hash:
            if expected.seq == 0:
                return Finding("altered", link.seq, position, "the first entry does not start the chain")
            return Finding("altered", expected.seq, position - 1,
                           f"entry {link.seq} does not follow it (its content and hash were rewritten)")
        self.expected = Tail(link.seq, link.hash)
        return None

    def _past_gap(self, raw: str | bytes) -> Finding | None:
        assert self._gap is not None
        missing, position, found = self._gap
        try:
            if decode(raw).seq == missing:
                return Finding("reordered", missing, position, f"entry {found.seq} stands in its place")
        except Unreadable:
            pass
        return self._removed() if self.position - position > LOOKAHEAD else None

    def _removed(self) -> Finding:
        assert self._gap is not None
        missing, position, found = self._gap
        gap = f"entries {missing}..{found.seq - 1}" if found.seq - 1 > missing else f"entry {missing}"
        return Finding("removed", missing, position, f"{gap} missing: entry {found.seq} follows entry {missing - 1}")

    def finish(self, tail: Tail | None) -> Verified | Finding:
        if self._gap is not None:
            return self._removed()
        expected, last = self.expected, self.position - 1
        if tail is not None and tail != expected:
            if tail.seq > expected.seq:
                return Finding("removed", expected.seq + 1, None,
                               f"the chain ends at entry {expected.seq}, its tail says {tail.seq}")
            if tail.seq == expected.seq:
                return Finding("altered", expected.seq, last, "the last entry's hash is not the tail's")
            return Finding("altered", expected.seq, last, f"the tail says {tail.seq}: the chain is longer")
        return Verified(expected.seq, expected)
