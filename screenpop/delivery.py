"""Delivering a handler's messages to every desktop socket they have open.

Publishing never waits on a socket. Each socket has an :class:`Outbox`, a bounded queue drained
by that socket's own sender task (see :mod:`screenpop.session`); publishing only puts into the
queues. A desktop that stops reading fills its outbox and is dropped (its session closes with
"too slow"); the others never notice. Messages are encoded once per publish, not per socket.

Each handler has a stream: every published message gets the handler's next ``seq``. The hub keeps
the last ``replay_size`` messages, and apart from them every message of each call still active
(ringing or answered), so that a desktop can resume:

- ``last_seq`` still covered by the replay buffer: the messages after it that still matter, in
  order. Pops and updates of calls that are still active are replayed; so is every
  ``pop.closed`` (the desktop may be showing the pop it closes; for a call it never showed the
  close is ignored). The rest, calls that rang and closed while it was away, is skipped.
- no ``last_seq``, one the buffer no longer covers, or one ahead of the stream (the server
  restarted): a ``snapshot`` of the active pops, which replaces whatever the desktop shows.

Beside the stream, a desktop page shows the handler's own state (ready, ringing, on call...):
its socket gets it first thing on every attach, then whenever it changes
(:meth:`DesktopHub.show_state`). Only the newest state matters, so it is not in the stream: it has
no ``seq`` and is never replayed.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import structlog

from screenpop.errors import (
    DesktopTooSlow,
    ScreenPopError,
    ServerShuttingDown,
    SignedOff,
)
from screenpop.messages import HandlerMessage, Outgoing
from screenpop.resume import Sent, catch_up

log = structlog.get_logger(__name__)

Told = Callable[[HandlerMessage], None]
"""Told of a message this node delivered first (:meth:`DesktopHub.publish`); never raises."""

# A beat pings a twentieth of a second's share of the sockets (with 2,000 desktops pinged every
# 15 s, about 7): each beat's sends and the pongs after them are a short stretch of the loop's
# time, not the 3-5 ms block half-second beats made, which a pop arriving behind it waited out.
HEARTBEAT_BEAT_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class HubConfig:
    outbox_size: int = 64
    """Messages a socket may have waiting before it counts as too slow."""
    replay_size: int = 256
    """Messages per handler kept for desktops that reconnect."""


@dataclass(slots=True)
class StreamCounters:
    sequenced: int = 0
    """Messages this node appended (and so gave a seq)."""
    already_there: int = 0
    """Messages another node had appended first (one entry, one seq)."""
    unsequenced: int = 0
    """Messages sent without a seq: Redis did not answer within the budget, or failed."""
    from_stream: int = 0
    """Messages delivered here that another node appended (read by the tail, or in a gap)."""
    resumed_from_memory: int = 0
    """Desktops that connected while Redis could not be read: a snapshot of this node's memory."""


class Outbox:
    """One socket's bounded queue of encoded messages, and the reason it was ended, if it was."""

    _ids = itertools.count(1)

    def __init__(self, handler_id: str, size: int, *, shows_state: bool = False) -> None:
        self.handler_id = handler_id
        self.id = next(self._ids)
        self.shows_state = shows_state
        """A desktop page's socket, which shows the handler's own state; a reader of the pop stream
        alone (a test, a benchmark) is not sent it."""
        self._queue: asyncio.Queue[str] = asyncio.Queue(size)
        self._ended = asyncio.Event()
        self._reason: ScreenPopError | None = None
        self.last_heard = time.monotonic()
        """When the desktop last sent anything (a pong will do): the heartbeat's silence check."""
        self._held: list[tuple[int, str]] | None = None
        self._floor = 0

    def hold(self) -> None:
        """Keep the stream's messages aside until :meth:`release` (while its catch-up is read)."""
        self._held = []

    def release(self, catch_up: list[str], floor: int) -> None:
        """Queue ``catch_up`` (the stream up to ``floor``), then what was held after it."""
        held, self._held, self._floor = self._held or [], None, floor
        for text in catch_up:
            self.offer(text)
        for seq, text in held:
            self.offer_at(seq, text)

    def offer_at(self, seq: int, text: str) -> bool:
        """A message of the stream: held, skipped if its catch-up had it, else offered."""
        if self._held is not None:
            self._held.append((seq, text))
            return self._reason is None
        if 0 < seq <= self._floor:
            return True
        return self.offer(text)

    def offer(self, text: str) -> bool:
        """Queue ``text``; False, and the outbox ends as too slow, when the queue is full."""
        if self._reason is not None:
            return False
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            self.end(DesktopTooSlow(self.handler_id, f"{self._queue.maxsize} messages waiting"))
            return False
        return True

    async def next(self) -> str:
        return await self._queue.get()

    def end(self, reason: ScreenPopError) -> None:
        if self._reason is None:
            self._reason = reason
            self._ended.set()

    async def ended(self) -> None:
        """Wait until the outbox is ended, then raise why; the session's tasks stop on it."""
        await self._ended.wait()
        assert self._reason is not None
        raise self._reason

    @property
    def waiting(self) -> int:
        return self._queue.qsize()


@dataclass(slots=True)
class _Stream:
    seq: int = 0
    recent: deque[Sent] = field(default_factory=deque)
    active: dict[str, list[Sent]] = field(default_factory=dict)
    outboxes: dict[int, Outbox] = field(default_factory=dict)
    synced: bool = True
    """``seq`` is the stream's own (always, here; see screenpop.shared_delivery)."""


class DesktopHub:
    def __init__(self, config: HubConfig = HubConfig()) -> None:
        self._config = config
        self._streams: dict[str, _Stream] = {}
        self._closed = False
        self._heartbeat: asyncio.Task[None] | None = None
        self._round: list[list[tuple[_Stream, Outbox]]] = []  # the heartbeat's sockets, by slot
        self._state_of: Callable[[str], Outgoing] | None = None
        self.counters = StreamCounters()
        # Told (handler id, the catch-up's texts) of each socket sent what it had been shown before
        # (a resume's replay or a snapshot): the audit trail's "shown again" (intake.app.shown).
        # It only queues, never waits; a failure is logged, never raised into the socket's start.
        self.shown: Callable[[str, list[str]], None] = _nothing_shown

    def states_from(self, state_of: Callable[[str], Outgoing]) -> None:
        """Where a handler's own state comes from: a desktop page's socket gets it on every attach."""
        self._state_of = state_of

    def show_state(self, handler_id: str, state: Outgoing) -> None:
        """The handler's own state changed: to each of their desktop pages, in order with the stream."""
        stream = self._streams.get(handler_id)
        if stream is None or not stream.outboxes:
            return
        text = state.encode()
        for outbox in list(stream.outboxes.values()):
            if outbox.shows_state and not outbox.offer(text):
                del stream.outboxes[outbox.id]

    def publish(self, handler_id: str, message: HandlerMessage, *, active: bool,
                told: Told | None = None) -> HandlerMessage:
        """Give ``message`` the handler's next seq and queue it on each of their sockets.

        ``active`` says whether the message's call is still on the handler's screen after it
        (True for pop and pop.answered, False for pop.closed); it decides what a resuming
        desktop is sent. ``told`` is called with the message once this node is the one that
        delivered it (here at once; where every node of a cluster publishes the same message, the
        one whose copy took its place in the stream): the audit trail's one consultation.
        Returns the message as sent, with its seq.
        """
        stream = self._stream(handler_id)
        sent = message.model_copy(update={"seq": stream.seq + 1})
        self.counters.sequenced += 1
        self._deliver(stream, Sent(sent.seq, sent.call_id, active, sent.encode()))
        if told is not None:
            told(message)
        return sent

    def _deliver(self, stream: _Stream, sent: Sent, *, to_sockets: bool = True) -> None:
        """Note ``sent`` as the stream's newest and queue it on each of the handler's sockets
        (``to_sockets`` False: they have it already, sent without its seq)."""
        if sent.seq:
            stream.seq = sent.seq
            stream.recent.append(sent)
            if len(stream.recent) > self._config.replay_size:
                stream.recent.popleft()
        if not to_sockets:
            return
        self._note_on_screen(stream, sent)
        for outbox in list(stream.outboxes.values()):
            if not outbox.offer_at(sent.seq, sent.text):
                del stream.outboxes[outbox.id]

    @staticmethod
    def _note_on_screen(stream: _Stream, sent: Sent) -> None:
        if sent.active:
            stream.active.setdefault(sent.call_id, []).append(sent)
        else:
            stream.active.pop(sent.call_id, None)

    def heartbeat(self, slot: int, slots: int, ping: str, silence_seconds: float, now: float) -> None:
        """Ping the sockets in ``slot`` (of ``slots``); end those silent for over ``silence_seconds``.

        A beat covers one slot of the sockets, not all of them: with thousands of desktops, pinging
        all at once would put thousands of sends, and then thousands of pongs, on the event loop at
        the same moment, in front of whatever pop arrives then. The sockets are dealt into slots
        once a round (at slot 0, or when the round's size changes), not looked over at every beat;
        a socket that connects mid-round is first pinged in the next round.
        """
        if slot == 0 or len(self._round) != slots:
            self._round = [[] for _ in range(slots)]
            for stream in self._streams.values():
                for outbox in stream.outboxes.values():
                    self._round[outbox.id % slots].append((stream, outbox))
        beat, self._round[slot] = self._round[slot], []
        for stream, outbox in beat:
            if stream.outboxes.get(outbox.id) is not outbox:
                continue  # gone since the round was dealt
            silent = now - outbox.last_heard
            if silent > silence_seconds:
                outbox.end(DesktopTooSlow(outbox.handler_id, f"silent for {silent:.0f} s"))
                del stream.outboxes[outbox.id]
            elif not outbox.offer(ping):
                del stream.outboxes[outbox.id]

    async def keep_alive(self, every_seconds: float, silence_seconds: float, ping: Callable[[], str]) -> None:
        """Beat until cancelled: each socket is pinged once every ``every_seconds``, sockets spread
        over beats of HEARTBEAT_BEAT_SECONDS. One timer for the whole hub: an idle desktop costs the
        event loop nothing between its pings."""
        slots = max(1, round(every_seconds / HEARTBEAT_BEAT_SECONDS))
        for beat in itertools.count():
            await asyncio.sleep(every_seconds / slots)
            self.heartbeat(beat % slots, slots, ping(), silence_seconds, time.monotonic())

    def start_heartbeat(self, every_seconds: float, silence_seconds: float, ping: Callable[[], str]) -> None:
        """Start :meth:`keep_alive` on the running loop unless it runs already (the first socket starts it)."""
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.get_running_loop().create_task(self.keep_alive(every_seconds, silence_seconds, ping),
                                                                     name="desktop-heartbeat")

    def attach(self, handler_id: str, last_seq: int | None, *, shows_state: bool = False) -> Outbox:
        """A new socket for ``handler_id``: its outbox, already holding what it missed (and, for a
        desktop page's socket, the handler's state as it is now)."""
        outbox = self._new_outbox(handler_id, shows_state)
        if not self._closed:
            stream = self._stream(handler_id)
            texts = self._catch_up(stream, last_seq)
            for text in texts:
                outbox.offer(text)
            stream.outboxes[outbox.id] = outbox
            self.shown_again(handler_id, texts)
        return outbox

    def shown_again(self, handler_id: str, texts: list[str]) -> None:
        """Tell :attr:`shown` of a catch-up sent to one of the handler's sockets (never raises)."""
        if texts:
            try:
                self.shown(handler_id, texts)
            except Exception:
                log.exception("shown_again_not_told", handler_id=handler_id)

    async def open(self, handler_id: str, last_seq: int | None, *, shows_state: bool = False) -> Outbox:
        """:meth:`attach`, as a desktop's session does it (the shared hub reads Redis here)."""
        return self.attach(handler_id, last_seq, shows_state=shows_state)

    def _new_outbox(self, handler_id: str, shows_state: bool) -> Outbox:
        """An outbox with the handler's state in it first, or ended if the hub is closing."""
        outbox = Outbox(handler_id, self._config.outbox_size, shows_state=shows_state)
        if self._closed:
            outbox.end(ServerShuttingDown())
        elif shows_state and self._state_of is not None:
            outbox.offer(self._state_of(handler_id).encode())
        return outbox

    async def drain(self) -> None:
        """Wait until every message published so far is on its sockets (here at once)."""

    def detach(self, outbox: Outbox) -> None:
        stream = self._streams.get(outbox.handler_id)
        if stream is not None:
            stream.outboxes.pop(outbox.id, None)

    def sign_off(self, handler_id: str) -> int:
        """End every socket of ``handler_id`` on this node (they signed out: close code 4401, sign
        in again); returns how many."""
        stream = self._streams.get(handler_id)
        if stream is None:
            return 0
        for outbox in stream.outboxes.values():
            outbox.end(SignedOff(handler_id))  # each session detaches its own as it closes
        return len(stream.outboxes)

    def sockets(self, handler_id: str) -> int:
        stream = self._streams.get(handler_id)
        return len(stream.outboxes) if stream else 0

    def present(self, handler_id: str) -> bool:
        """Whether the handler has a desktop open (here: this process is the only node)."""
        return self.sockets(handler_id) > 0

    def last_seq(self, handler_id: str) -> int:
        stream = self._streams.get(handler_id)
        return stream.seq if stream else 0

    def stream_view(self) -> dict[str, int]:
        """The counters, for /metrics."""
        return asdict(self.counters)

    def close(self) -> None:
        """End every socket's session (close code "going away"); new sockets are refused."""
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        for stream in self._streams.values():
            for outbox in stream.outboxes.values():
                outbox.end(ServerShuttingDown())
            stream.outboxes.clear()

    def _stream(self, handler_id: str) -> _Stream:
        return self._streams.setdefault(handler_id, _Stream())

    def _catch_up(self, stream: _Stream, last_seq: int | None) -> list[str]:
        """What this node's memory says a desktop resuming from ``last_seq`` missed (screenpop.resume)."""
        oldest = stream.recent[0].seq if stream.recent else stream.seq + 1
        after = [s for s in stream.recent if last_seq is not None and s.seq > last_seq]
        return catch_up(last_seq, stream.seq, oldest, after, (s for sent in stream.active.values() for s in sent),
                        self._config.outbox_size)


def _nothing_shown(_handler_id: str, _texts: list[str]) -> None:
    pass
