"""A handler's stream in Redis: where every node gets a message's ``seq``, and finds the messages
other nodes added. The I/O only; what a node does with them is :mod:`screenpop.shared_delivery`.

Keys, under the key prefix, per handler:

- ``desktop:{handler}:seq``: the last seq given. Never expires (a few bytes per handler), so a
  seq is never given twice, however long the handler was away.
- ``desktop:{handler}:stream``: the messages; entry id ``<seq>-0``, fields ``m`` (the message's
  JSON with ``seq`` 0: the seq is the id), ``c`` (its call id) and ``k`` (its kind). Capped at
  ``maxlen`` entries; gone after ``idle_seconds`` without a message.
- ``desktop:{handler}:screen``: what the handler's screen holds: call id -> one line per message
  of that call, ``<seq> <kind> <message>`` (a call-back card replaces the card before it: the
  newest is what to show); a close deletes the call's field. A snapshot is read
  from it, so it outlives the stream's cap (same idle expiry).
- ``desktop:{handler}:rings``: call id -> ``<rang at> <shown|answered|closed>``, the newest ring
  of each call to the handler's phone (same idle expiry), against which a late copy is judged.
- ``desktop:news``: one small entry per message appended to any handler's stream (handler,
  seq, node), capped at about 10,000: what each node's tail reads (one key, however many
  desktops it holds), fetching a stream's entries only for a handler it holds, behind on it.
- ``desktop:present``: ``<handler> TAB <node>`` for each handler and node with a desktop there,
  scored by when it lapses (Redis's clock): who has a desktop somewhere (a site's leader offers
  call-backs only to them).

**Idempotent by the message's identity.** Every node follows the same PBX and composes the same
messages; the first to append one gives it its seq, and the other's copy is found there and not
appended (seq 0 back). A message's identity is its handler, its call and its kind, and for a pop
its ring:

- ``pop``: the same ring of the call (``rings``: when it started ringing, within
  :data:`RING_TOLERANCE_SECONDS`: each node's clock says a little differently; the next ring of
  the same call to the same phone is a new pop);
- ``answered``: that ring was answered (or closed) already;
- ``close``: the call is not on the screen (closed already, or never shown: it changes nothing);
- ``card`` (a call-back offer, re-sent whenever its task changes): the newest card of its task
  on the screen is the same card;
- ``place`` (``pop.place``: the caller's location after the pop): the call's newest message on
  the screen is the same, or the call is not on the screen (closed, or never shown: it would
  add a call with no pop). Unlike a card it adds to the call's messages, so a snapshot holds
  the pop and its place.

A late copy is recognised while the call is remembered (``rings`` expires with the stream),
unless the call has rung the phone again meanwhile (one ring is remembered: a node that lags a
whole ring behind is not following the PBX); a node that missed a ring (its link was down) does
not shift the identity of the next one. The copies of one message differ in their details (how
long the caller has waited, each by its node's clock): the first one wins.

One EVALSHA appends a whole batch, in order: one round trip for every message published in one
pass of the loop. Each answer also carries the entries after the node's last seen seq for that
handler (``after``) and before the new one (the gap), so the node delivers another node's
message that came just before its own without waiting for its tail to read it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.exceptions import NoScriptError

from screenpop.resume import Sent, with_seq

RING_TOLERANCE_SECONDS = 1.0
"""Two nodes' pops of one ring: their rings' times (each node's estimate of the PBX clock as the
ring came in) are this close. Two rings of one call to one phone are further apart: a ring
lasts its timeout and app_queue waits ``retry`` seconds before the next."""

Kind = str
"""``pop``, ``answered``, ``close``, ``place`` or ``card`` (see the module's docstring)."""

KINDS = {"pop": "pop", "pop.answered": "answered", "pop.closed": "close", "pop.place": "place"}
"""Message type -> kind; any other type is a ``card`` (or a ``close`` when it ends the call's
place on the screen)."""

_APPEND = b"""
local maxlen, ttl, limit, tolerance, node = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local news = KEYS[1]
local out = {}
for i = 0, (#KEYS - 1) / 4 - 1 do
  local seq_key, stream, screen, rings = KEYS[4 * i + 2], KEYS[4 * i + 3], KEYS[4 * i + 4], KEYS[4 * i + 5]
  local a = 6 * i + 6
  local after, call_id, kind, message, moment = tonumber(ARGV[a]), ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local handler = ARGV[a + 5]
  local shown = redis.call('HGET', screen, call_id)
  local ring = redis.call('HGET', rings, call_id)
  local rang_at, phase = 0, nil
  if ring then
    rang_at, phase = string.match(ring, '^(%S+) (%S+)$')
    rang_at = tonumber(rang_at)
  end
  local there
  if kind == 'pop' then
    there = ring ~= false and math.abs(rang_at - tonumber(moment)) < tolerance
  elseif kind == 'answered' then
    there = phase == 'answered' or phase == 'closed'
  elseif kind == 'close' then
    there = not shown
  elseif kind == 'place' then
    -- a late location adds to the call's pop on the screen: nothing to add to a call not shown
    there = not shown or string.sub(shown, -#message - 1) == ' ' .. message
  else
    there = shown ~= false and string.sub(shown, -#message - 1) == ' ' .. message
  end
  local seq, head = 0, 0
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
  if last then head = tonumber(string.match(last[1], '^%d+')) end
  if not there then
    seq = redis.call('INCR', seq_key)
    local floor = math.max(after, head)
    head = seq
    if seq <= floor then
      head = floor + 1
      seq = head
      redis.call('SET', seq_key, seq)
    end
    redis.call('XADD', stream, 'MAXLEN', maxlen, seq .. '-0', 'm', message, 'c', call_id, 'k', kind)
    redis.call('XADD', news, 'MAXLEN', '~', 10000, '*', 'h', handler, 's', seq, 'n', node)
    local line = seq .. ' ' .. kind .. ' ' .. message
    if kind == 'close' then
      redis.call('HDEL', screen, call_id)
    elseif shown and kind ~= 'card' then
      redis.call('HSET', screen, call_id, shown .. '\\n' .. line)
    else
      redis.call('HSET', screen, call_id, line)
    end
    if kind == 'pop' then
      redis.call('HSET', rings, call_id, moment .. ' shown')
    elseif ring and kind == 'answered' then
      redis.call('HSET', rings, call_id, rang_at .. ' answered')
    elseif ring and kind == 'close' then
      redis.call('HSET', rings, call_id, rang_at .. ' closed')
    end
    for _, key in ipairs({stream, screen, rings}) do
      redis.call('PEXPIRE', key, ttl)
    end
  end
  local gap = {}
  if after >= 0 then
    local upto = '+'
    if seq > 0 then upto = '(' .. seq .. '-0' end
    gap = redis.call('XRANGE', stream, '(' .. after .. '-0', upto, 'COUNT', limit)
  end
  out[i + 1] = {seq, head, gap}
end
return out
"""
_APPEND_SHA = hashlib.sha1(_APPEND).hexdigest()

_PRESENT = b"""
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[1]), ARGV[i])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""
_PRESENT_SHA = hashlib.sha1(_PRESENT).hexdigest()


def kind_of(message_type: str, active: bool) -> Kind:
    return KINDS.get(message_type) or ("card" if active else "close")


@dataclass(frozen=True, slots=True)
class Entry:
    """One message of a handler's stream as Redis keeps it (``message`` with ``seq`` 0)."""

    seq: int
    call_id: str
    kind: Kind
    message: str

    def sent(self) -> Sent:
        return Sent(self.seq, self.call_id, self.kind != "close", with_seq(self.message, self.seq))


@dataclass(frozen=True, slots=True)
class News:
    """An entry of ``desktop:news``: handler ``handler_id``'s stream got ``seq``, from ``node``."""

    handler_id: str
    seq: int
    node: str


@dataclass(frozen=True, slots=True)
class Appending:
    """A message to append: ``after`` is the last seq the node has delivered for the handler
    (-1: it delivers nothing of theirs, no gap wanted)."""

    handler_id: str
    call_id: str
    kind: Kind
    message: str
    after: int
    rang_at: float = 0.0
    """A pop's ring: when the phone started ringing (PBX clock), which tells this ring's pop from
    the next ring's of the same call."""


@dataclass(frozen=True, slots=True)
class Appended:
    seq: int
    """Its seq; 0 when the screen already had it (another node's copy came first)."""
    head: int
    """The stream's last seq after it."""
    gap: tuple[Entry, ...]
    """The entries after ``after`` and before it (up to the stream's head, when it was there)."""


@dataclass(frozen=True, slots=True)
class Resumed:
    """What a desktop resuming on this node needs from its handler's stream, read at once."""

    head: int
    oldest: int
    after: tuple[Entry, ...]
    complete: bool
    """``after`` holds every retained entry after the resume point (it was not cut at the limit)."""
    on_screen: tuple[Entry, ...]


STREAM_LENGTH = 256
"""Messages kept per handler for a desktop that resumes (``[desktop_streams] stream_length``)."""
GAP_LIMIT = 64
"""A resuming desktop that missed more than this many messages is sent a snapshot instead."""


class HandlerStreams:
    # Any: a redis.asyncio client (the embedded store has one node and keeps its streams in memory)
    def __init__(self, redis: Any, prefix: str, *, node: str = "", maxlen: int = STREAM_LENGTH, idle_seconds: float = 86400.0,
                 gap_limit: int = GAP_LIMIT) -> None:
        """``node`` names this node in the news (default: a random name per process)."""
        self._redis = redis
        self._prefix = prefix
        self._maxlen = maxlen
        self._idle_ms = int(idle_seconds * 1000)
        self.gap_limit = gap_limit
        self.node = node or uuid.uuid4().hex
        self.news_key = f"{prefix}desktop:news"
        self._news_at: str | None = None  # the last news entry read; None: not yet placed

    async def present(self, here: Sequence[str], seconds: float) -> set[str]:
        """Say which handlers have a desktop on this node (for ``seconds``), and hear which have
        one on any node: one script, on Redis's clock (``{prefix}desktop:present``)."""
        args = [int(seconds * 1000), *(f"{h}\t{self.node}" for h in here)]
        key = f"{self._prefix}desktop:present"
        try:
            found = await self._redis.evalsha(_PRESENT_SHA, 1, key, *args)
        except NoScriptError:
            found = await self._redis.eval(_PRESENT.decode(), 1, key, *args)
        return {_text(member).partition("\t")[0] for member in found}

    async def withdraw(self, here: Sequence[str]) -> None:
        """This node holds no desktop any more (it stops): take back what :meth:`present` said."""
        await self._redis.zrem(f"{self._prefix}desktop:present", *(f"{h}\t{self.node}" for h in here))

    def key(self, handler_id: str, part: str) -> str:
        return f"{self._prefix}desktop:{handler_id}:{part}"

    async def append(self, batch: Sequence[Appending]) -> list[Appended]:
        """Append ``batch`` in order, in one round trip; what each got, in the same order."""
        keys: list[str] = [self.news_key]
        args: list[str | int] = [self._maxlen, self._idle_ms, self.gap_limit, repr(RING_TOLERANCE_SECONDS), self.node]
        for item in batch:
            keys += (self.key(item.handler_id, part) for part in ("seq", "stream", "screen", "rings"))
            args += (item.after, item.call_id, item.kind, item.message, repr(item.rang_at), item.handler_id)
        try:
            reply = await self._redis.evalsha(_APPEND_SHA, len(keys), *keys, *args)
        except NoScriptError:
            reply = await self._redis.eval(_APPEND.decode(), len(keys), *keys, *args)
        return [Appended(int(seq), int(head), tuple(map(_entry, gap))) for seq, head, gap in reply]

    async def resume(self, handler_id: str, last_seq: int | None, limit: int) -> Resumed:
        """The stream's head, its oldest entry, the entries after ``last_seq`` (at most ``limit``
        + 1) and the screen, read in one transaction (one round trip)."""
        stream = self.key(handler_id, "stream")
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self.key(handler_id, "seq"))
            pipe.xrange(stream, "-", "+", count=1)
            pipe.xrange(stream, f"({last_seq or 0}-0", "+", count=limit + 1)
            pipe.hgetall(self.key(handler_id, "screen"))
            head, first, after, screen = (await pipe.execute())[:4]
        entries = tuple(map(_entry, after)) if last_seq is not None else ()
        head_seq = int(head or 0)
        return Resumed(head=head_seq, oldest=_entry(first[0]).seq if first else head_seq + 1, after=entries[:limit],
                       complete=len(entries) <= limit, on_screen=tuple(_on_screen(screen)))

    async def news(self, block_seconds: float, count: int = 1024) -> list[News]:
        """What was appended to any handler's stream since the last call (the first call starts
        from now), waiting up to ``block_seconds`` for something. Keep ``block_seconds`` under the
        client's socket timeout: the read then runs on a pooled connection like any command, and
        follows the pool wherever it points (a Sentinel failover included)."""
        if self._news_at is None:
            newest = await self._redis.xrevrange(self.news_key, "+", "-", count=1)
            self._news_at = _text(newest[0][0]) if newest else "0-0"
        reply = await self._redis.xread({self.news_key: self._news_at}, count=count, block=max(1, int(block_seconds * 1000)))
        found: list[News] = []
        for _key, entries in reply or ():
            for entry_id, fields in entries:
                values = {_text(k): _text(v) for k, v in fields.items()}
                found.append(News(values["h"], int(values["s"]), values["n"]))
            self._news_at = _text(entries[-1][0])
        return found

    async def read(self, positions: Mapping[str, int], count: int = 256) -> list[tuple[str, Entry]]:
        """The entries after each handler's position (handler id -> seq), in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for handler_id, seq in positions.items():
                pipe.xrange(self.key(handler_id, "stream"), f"({seq}-0", "+", count=count)
            replies = await pipe.execute()
        return [(handler_id, _entry(raw)) for handler_id, entries in zip(positions, replies, strict=True) for raw in entries]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# Any: a stream entry as redis-py gives it: (id, {field: value}) from a command, [id, [f, v, ...]] from Lua
def _entry(raw: Any) -> Entry:
    entry_id, fields = raw
    if not isinstance(fields, dict):
        fields = dict(zip(fields[::2], fields[1::2], strict=True))
    values = {_text(k): _text(v) for k, v in fields.items()}
    return Entry(int(_text(entry_id).partition("-")[0]), values["c"], values["k"], values["m"])


def _on_screen(screen: Mapping[bytes | str, bytes | str]) -> list[Entry]:
    entries = []
    for call_id, lines in screen.items():
        for line in _text(lines).split("\n"):
            seq, kind, message = line.split(" ", 2)
            entries.append(Entry(int(seq), _text(call_id), kind, message))
    return entries
