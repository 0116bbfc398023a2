"""The desktop hub of one node among several: a handler's messages get their ``seq`` from Redis.

Every node follows the same PBX and publishes the same pops; a desktop may be on any node, and
may come back on another one. So a message's seq is not the node's: it is given by the
handler's stream in Redis (:mod:`screenpop.handler_streams`), where the same pop published by
two nodes is one entry with one seq. A node delivers to the desktops it holds:

- its own messages, as soon as Redis has given their seq: one EVALSHA for everything published
  in one pass of the loop (the pop's one round trip), answered in order, so a handler's
  messages reach a socket in seq order. The answer also brings any entry another node added just
  before (the gap), delivered first;
- the messages other nodes added (the site leader's call-back offers; a pop this node has not
  composed yet), found by one task per node (:meth:`SharedDesktopHub.follow`) in the news of
  every stream (one key, one blocking read) and read, in one round trip, from the streams of
  the handlers with a socket here;

each once: a handler's last delivered seq on this node filters both paths.

**When Redis does not answer** within ``budget_seconds`` (0.25 s, the history lookup's deadline),
the pop must still reach the desktop: the waiting messages go out without a seq (``seq`` 0, which
a desktop does not resume from), counted and logged, and until Redis answers again every message
goes out at once, without waiting; its append is still tried. One that reaches the stream later
is not sent twice (the node remembers what it sent bare, by call and kind), and is replayed from
there to a desktop resuming elsewhere; one that never reaches it is not replayable.

**A desktop that connects** (:meth:`SharedDesktopHub.open`) holds the stream's live messages
aside while its catch-up is read from Redis (one transaction), gets the catch-up by the rule of
:mod:`screenpop.resume`, then what was held after it. If Redis cannot be read, it gets a snapshot
of what this node knows.

The handler's own state (``me``) is not in the stream: every node follows the PBX, so each
computes it and sends it to its own desktops (:class:`screenpop.delivery.DesktopHub`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from redis.exceptions import RedisError

from screenpop.delivery import DesktopHub, HubConfig, Outbox, Told
from screenpop.handler_streams import (
    STREAM_LENGTH,
    Appended,
    Appending,
    Entry,
    HandlerStreams,
    kind_of,
)
from screenpop.messages import HandlerMessage, Pop
from screenpop.resume import Sent, catch_up

log = structlog.get_logger(__name__)

APPEND_BUDGET_SECONDS = 0.25
"""How long a message waits for its seq before it goes out without one (``[desktop_streams]
seq_budget_seconds``)."""
FOLLOW_BLOCK_SECONDS = 1.0
"""How long one read of the streams waits for news: under the Redis client's socket timeout."""
PRESENCE_SECONDS = 3.0
"""A node's word that a handler has a desktop there lasts this long; it says it again every third
(``[desktop_streams] presence_seconds``)."""
# While Redis is away the tail and the presence try again on their own, at most this far apart:
# failing the task instead would leave /healthz degraded long after Redis is back (the
# supervisor's backoff and its 30 s of good running), when only the desktops' news had to wait.
RETRY_SECONDS = (0.2, 2.0)
DEFAULT_HUB = HubConfig()
BARE_MEMORY = 1024
"""Messages sent without a seq remembered per handler, until their copy in the stream shows up."""


@dataclass(slots=True)
class _Publishing:
    handler_id: str
    call_id: str
    kind: str
    message: str  # encoded with seq 0
    active: bool
    rang_at: float
    sent_bare: bool = False
    after: int = -1  # the last seq delivered here for the handler when it was sent to Redis
    told: Callable[[], None] | None = None  # publish()'s, until called (once)

    def tell(self) -> None:
        told, self.told = self.told, None
        if told is not None:
            told()


class SharedDesktopHub(DesktopHub):
    def __init__(self, streams: HandlerStreams, config: HubConfig = DEFAULT_HUB, *,
                 budget_seconds: float = APPEND_BUDGET_SECONDS, block_seconds: float = FOLLOW_BLOCK_SECONDS,
                 presence_seconds: float = PRESENCE_SECONDS) -> None:
        super().__init__(config)
        self.streams = streams
        self._budget = budget_seconds
        self._block = block_seconds
        self._presence = presence_seconds
        self._waiting: list[_Publishing] = []
        self._appending: asyncio.Task[None] | None = None
        self._redis_late = False
        self._bare: dict[str, dict[tuple[str, str], None]] = {}  # handler -> (kind, call id) sent without seq
        self._resuming: set[asyncio.Task[None]] = set()
        self._present: set[str] = set()  # handlers with a desktop on some node (follow's last word)

    # --- publishing -------------------------------------------------------------------------

    def publish(self, handler_id: str, message: HandlerMessage, *, active: bool,
                told: Told | None = None) -> HandlerMessage:
        """Queue ``message`` for its seq; it reaches the handler's sockets here once Redis gives
        it (or without one, past the budget). Returns it as given (seq 0: not known yet).
        ``told``: called once this node's copy took its place in the stream (another node's did:
        never), or went out without a seq (Redis away: every node's may)."""
        rang_at = message.queued_at + message.waited_seconds if isinstance(message, Pop) else 0.0
        item = _Publishing(handler_id, message.call_id, kind_of(message.type, active), message.encode(), active, rang_at,
                           told=None if told is None else lambda: told(message))
        self._waiting.append(item)
        if self._redis_late:
            self._send_bare(item, "Redis did not answer the last append")
        if self._appending is None or self._appending.done():
            self._appending = asyncio.get_running_loop().create_task(self._append(), name="desktop-stream-append")
        return message

    async def _append(self) -> None:
        """Append what is waiting, a batch at a time (one round trip each, in order)."""
        while self._waiting:
            batch, self._waiting = self._waiting, []
            for item in batch:
                item.after = self._after(item.handler_id)
            call = asyncio.ensure_future(self.streams.append(
                [Appending(i.handler_id, i.call_id, i.kind, i.message, i.after, i.rang_at) for i in batch]))
            done, _ = await asyncio.wait({call}, timeout=self._budget)
            if not done:
                self._late(batch, f"no answer within {self._budget:g} s")
                await asyncio.wait({call})  # the next batch goes after it: seqs stay in order
            try:
                answers = call.result()
            except Exception as exc:  # noqa: BLE001 - a boundary: whatever Redis does, the pops go out
                self._late(batch, repr(exc))
                continue
            if self._redis_late:
                log.info("desktop_streams_answering")
            self._redis_late = False
            for item, answer in zip(batch, answers, strict=True):
                self._appended(item, answer)

    def _after(self, handler_id: str) -> int:
        stream = self._streams.get(handler_id)
        return stream.seq if stream is not None and stream.outboxes and stream.synced else -1

    def _late(self, batch: list[_Publishing], why: str) -> None:
        if not self._redis_late:
            log.warning("desktop_streams_not_answering", why=why)
        self._redis_late = True
        for item in batch:
            self._send_bare(item, why)

    def _send_bare(self, item: _Publishing, why: str) -> None:
        """The message without its seq, now: a pop must not wait on Redis."""
        if item.sent_bare:
            return
        item.sent_bare = True
        item.tell()
        self.counters.unsequenced += 1
        log.warning("desktop_message_without_seq", handler_id=item.handler_id, call_id=item.call_id, kind=item.kind, why=why)
        bare = self._bare.setdefault(item.handler_id, {})
        bare[(item.kind, item.call_id)] = None
        while len(bare) > BARE_MEMORY:
            del bare[next(iter(bare))]
        self._deliver(self._stream(item.handler_id), Sent(0, item.call_id, item.active, item.message))

    def _appended(self, item: _Publishing, answer: Appended) -> None:
        for entry in answer.gap:
            self._arrived(item.handler_id, entry, in_order=True, mine=False)
        stream = self._streams.get(item.handler_id)
        if answer.seq == 0:
            self.counters.already_there += 1  # another node's copy: in the gap, or the tail brings it
        else:
            self.counters.sequenced += 1
            item.tell()
            entry = Entry(answer.seq, item.call_id, item.kind, item.message)
            whole_gap = item.after >= 0 and len(answer.gap) < self.streams.gap_limit
            if not self._arrived(item.handler_id, entry, in_order=whole_gap, mine=True):
                self._fetch(item.handler_id)  # entries before it are still to come: read them, then it
        if stream is not None and not stream.synced:
            stream.seq = max(stream.seq, answer.head)  # where this node's memory stands, should Redis go

    def _arrived(self, handler_id: str, entry: Entry, *, in_order: bool, mine: bool) -> bool:
        """An entry of the handler's stream: to the sockets here, unless they have it already.
        ``in_order``: every entry before it is here already (or does not exist). False when it
        could not be delivered yet (an entry before it may be missing)."""
        stream = self._stream(handler_id)
        if not (stream.synced and stream.outboxes):
            self._note_on_screen(stream, entry.sent())  # nobody here to send it to: memory only
            return True
        if entry.seq <= stream.seq:
            return True  # delivered already
        if not in_order and entry.seq > stream.seq + 1:
            return False
        bare = self._bare.get(handler_id)
        sent_bare = False
        if bare:
            sent_bare = bare.pop((entry.kind, entry.call_id), False) is None
            for key in [k for k in bare if k[1] == entry.call_id]:
                del bare[key]  # a newer message of the call: what was sent bare before it is settled
        if not mine:
            self.counters.from_stream += 1
        self._deliver(stream, entry.sent(), to_sockets=not sent_bare)
        return True

    def _fetch(self, handler_id: str) -> None:
        """Read the handler's stream after what was delivered here, and deliver it (an entry of
        ours came with entries before it that its answer did not carry; a desktop new here)."""
        async def fetch() -> None:
            stream = self._streams.get(handler_id)
            if stream is not None and stream.synced and stream.outboxes:
                try:
                    await self._read_behind({handler_id: stream.seq})
                except Exception as exc:  # noqa: BLE001 - the tail's next news of the handler reads it again
                    log.warning("desktop_stream_not_read", handler_id=handler_id, error=repr(exc))

        task = asyncio.get_running_loop().create_task(fetch())
        self._resuming.add(task)
        task.add_done_callback(self._resuming.discard)

    async def _read_behind(self, behind: dict[str, int]) -> None:
        for handler_id, entry in await self.streams.read(behind):
            self._arrived(handler_id, entry, in_order=True, mine=False)

    # --- desktops -------------------------------------------------------------------------------

    async def open(self, handler_id: str, last_seq: int | None, *, shows_state: bool = False) -> Outbox:
        outbox = self._new_outbox(handler_id, shows_state)
        if not self._closed:
            await self._resume(outbox, last_seq)
        return outbox

    def attach(self, handler_id: str, last_seq: int | None, *, shows_state: bool = False) -> Outbox:
        """As :meth:`open`, for a caller that cannot wait (a test, a tool): the outbox at once, its
        catch-up and then the live messages as soon as Redis has answered."""
        outbox = self._new_outbox(handler_id, shows_state)
        if not self._closed:
            task = asyncio.get_running_loop().create_task(self._resume(outbox, last_seq))
            self._resuming.add(task)
            task.add_done_callback(self._resuming.discard)
        return outbox

    async def drain(self) -> None:
        """Wait until every message published so far has its seq (or went without) and is on
        its sockets here, and every socket attached so far has its catch-up (tests, shutdown)."""
        while pending := [*self._resuming, *[t for t in (self._appending,) if t is not None and not t.done()]]:
            done, _ = await asyncio.wait(pending, timeout=self._budget)
            if not done and self._redis_late:
                return  # Redis is not answering: what was waiting went out without its seq

    def detach(self, outbox: Outbox) -> None:
        super().detach(outbox)
        stream = self._streams.get(outbox.handler_id)
        if stream is not None and not stream.outboxes:
            stream.synced = False  # no longer followed here: the next socket reads where the stream stands

    async def _resume(self, outbox: Outbox, last_seq: int | None) -> None:
        handler_id = outbox.handler_id
        stream = self._stream(handler_id)
        outbox.hold()
        stream.outboxes[outbox.id] = outbox
        try:
            resumed = await self.streams.resume(handler_id, last_seq, self._config.outbox_size)
        except Exception as exc:  # noqa: BLE001 - a boundary: the desktop is served from memory
            if outbox.id not in stream.outboxes:
                return  # gone meanwhile
            self.counters.resumed_from_memory += 1
            log.warning("desktop_resumed_from_memory", handler_id=handler_id, last_seq=last_seq, error=repr(exc))
            stream.synced = True
            texts = self._catch_up(stream, None)
            outbox.release(texts, stream.seq)
            self.shown_again(handler_id, texts)
            return
        if outbox.id not in stream.outboxes:
            return  # gone meanwhile (too slow, or the desktop left)
        first_here = not stream.synced
        if first_here:
            stream.seq, stream.synced = resumed.head, True
            stream.recent.clear()
        texts = catch_up(last_seq, resumed.head, resumed.oldest, [e.sent() for e in resumed.after],
                         [e.sent() for e in resumed.on_screen], self._config.outbox_size, complete=resumed.complete)
        outbox.release(texts, resumed.head)
        self.shown_again(handler_id, texts)
        if first_here:
            self._fetch(handler_id)  # appended since the read: its news may have gone by before the handler was followed

    # --- other nodes' messages ------------------------------------------------------------------

    def present(self, handler_id: str) -> bool:
        """Whether the handler has a desktop open on any node (as of the last second or so)."""
        return self.sockets(handler_id) > 0 or handler_id in self._present

    async def follow(self) -> None:
        """Until cancelled: deliver what other nodes append to the streams of the handlers with a
        socket here (one blocking read for all of them), and say every second which handlers have
        a desktop here, hearing which have one anywhere (:meth:`present`)."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._tail(), name="desktop-tail")
            tasks.create_task(self._announce(), name="desktop-presence")

    async def _announce(self) -> None:
        said: list[str] = []

        async def once() -> None:
            nonlocal said
            here = [h for h, s in self._streams.items() if s.outboxes]
            self._present = await self.streams.present(here, self._presence)
            said = here
            await asyncio.sleep(self._presence / 3)

        try:
            await _again_and_again("presence", once)
        finally:
            if said:  # stopping: the desktops held here go elsewhere, no longer "present" until they are
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.streams.withdraw(said), 1.0)

    async def _tail(self) -> None:
        """Read the news of every stream (one key); fetch, in one round trip, the entries another
        node added for the handlers held here that this node is behind on."""
        async def once() -> None:
            behind: dict[str, int] = {}
            for news in await self.streams.news(self._block):
                stream = self._streams.get(news.handler_id)
                if (stream is not None and stream.synced and stream.outboxes and news.seq > stream.seq
                        and news.node != self.streams.node):
                    behind[news.handler_id] = stream.seq
            if behind:
                await self._read_behind(behind)

        await _again_and_again("tail", once)


async def _again_and_again(part: str, once: Callable[[], Awaitable[None]]) -> None:
    """``once()`` until cancelled; while Redis cannot be reached, again after a growing pause
    (logged once per outage, and once when it is back)."""
    first, most = RETRY_SECONDS
    pause, failing = first, False
    while True:
        try:
            await once()
        except (RedisError, OSError, TimeoutError) as exc:
            if not failing:
                log.warning("desktop_streams_unreachable", part=part, error=repr(exc))
                failing = True
            await asyncio.sleep(pause)
            pause = min(pause * 2, most)
            continue
        if failing:
            log.info("desktop_streams_back", part=part)
            pause, failing = first, False


# Any: a redis.asyncio client or fakeredis's in-process one (the demo's)
def hub_for(redis: Any, prefix: str, *, node: str = "", budget_seconds: float = APPEND_BUDGET_SECONDS,
            stream_length: int = STREAM_LENGTH, presence_seconds: float = PRESENCE_SECONDS) -> DesktopHub:
    """The hub for a server on ``redis``: the embedded store is one node's alone, and keeps its
    streams in memory as before; a real Redis gets the shared hub (its ``follow`` task to run).
    ``budget_seconds``, ``stream_length``, ``presence_seconds``: ``[desktop_streams]``."""
    if type(redis).__module__.startswith("fakeredis"):
        return DesktopHub()
    return SharedDesktopHub(HandlerStreams(redis, prefix, node=node, maxlen=stream_length),
                            budget_seconds=budget_seconds, presence_seconds=presence_seconds)
