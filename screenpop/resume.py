"""What a desktop that (re)connects is sent first: the rule, with no I/O.

One rule for both hubs: the single-node hub reads it from its memory, the shared hub from the
handler's Redis stream (:mod:`screenpop.handler_streams`), whichever node the desktop reached.

- ``last_seq`` equal to the stream's head: nothing (the desktop is up to date).
- ``last_seq`` the retained stream still covers (its oldest entry is at most ``last_seq + 1``):
  the entries after it that still matter, in order: those of calls still on the handler's screen
  (pops, answers, call-back cards) and every close (the desktop may show the pop it closes; a
  close for a call it never showed is ignored). Calls that rang and closed meanwhile are skipped.
- otherwise (no ``last_seq``, one older than the stream keeps, one ahead of it after Redis lost
  it, or a replay that would not fit the socket's outbox): a ``snapshot`` of what is on the
  handler's screen now, which replaces whatever the desktop shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sent:
    """One message of a handler's stream as it went out: ``text`` is its JSON with its ``seq``
    (0: sent without one, when Redis did not answer in time)."""

    seq: int
    call_id: str
    active: bool
    """The call is still on the handler's screen after it (False for a close)."""
    text: str


def with_seq(text: str, seq: int) -> str:
    """``text``, a message encoded with ``seq`` 0, as sent with ``seq``.

    A handler message's JSON starts ``{"type":"<kind>","seq":0,`` (HandlerMessage declares
    ``type`` then ``seq``); the stream stores it so, since the seq is given by Redis."""
    head, marker, tail = text.partition('"seq":0,')
    assert marker and head.startswith('{"type":"') and head.count(",") == 1, text[:60]
    return f'{head}"seq":{seq},{tail}'


def snapshot_text(seq: int, texts: Iterable[str]) -> str:
    """The ``snapshot`` message (screenpop.messages.Snapshot) around already encoded messages."""
    return f'{{"type":"snapshot","seq":{seq},"pops":[{",".join(texts)}]}}'


def catch_up(last_seq: int | None, head: int, oldest: int, after: Sequence[Sent], on_screen: Iterable[Sent],
             limit: int, *, complete: bool = True) -> list[str]:
    """What to send a desktop resuming from ``last_seq``.

    ``head``: the stream's last seq; ``oldest``: its oldest retained seq (``head + 1`` when it
    keeps none); ``after``: the retained entries after ``last_seq``, in order (``complete``:
    all of them, not the first few); ``on_screen``: what the handler's screen holds now (every
    message of each active call); ``limit``: how many messages a replay may be (the outbox's size).
    """
    if last_seq == head:
        return []
    shown = sorted(on_screen, key=lambda s: s.seq)
    if last_seq is not None and oldest <= last_seq + 1 and last_seq < head and complete:
        active = {s.call_id for s in shown}
        missed = [s.text for s in after if s.call_id in active or not s.active]
        if len(missed) < limit:  # and the state beside them still fits
            return missed
    return [snapshot_text(head, (s.text for s in shown))]
