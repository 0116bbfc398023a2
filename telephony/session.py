"""The asyncio AMI session: one TCP link to Asterisk, kept alive, logged in and resynchronised.

Thin on purpose: bytes -> frames is :mod:`telephony.framing`, frames -> events is
:mod:`telephony.translate`, actions -> bytes is :mod:`telephony.actions`. This module only does
I/O and timing. Per connection it runs three tasks and stops them together on the first failure:

- *read*: feed the FrameReader, answer pending actions by ActionID, translate the rest for
  ``on_event``;
- *ping*: a Ping every ``ping_interval``; no answer within ``ping_timeout`` means the socket is
  half-open (the PBX vanished without a FIN): close it and reconnect;
- *resync*: after every login and every FullyBooted, emit PbxLinkUp and the PBX's own picture
  (QueueStatus + CoreShowChannels) between SnapshotStarted and SnapshotCompleted, because Asterisk
  keeps nothing for a client that was away; and again whenever :meth:`AmiSession.resync` asks
  (the consumer's picture is in doubt: a queue reload, an answer that contradicts it).

Actions are never queued across reconnects: without a session ``send`` raises NotConnected, and
an action cut off by a drop raises ActionInterrupted. Whether to retry is the caller's decision
(a second Originate is a second call to a member of the public).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog

from telephony import actions
from telephony.actions import Action, Response
from telephony.errors import (
    ActionError,
    ActionFailed,
    ActionTimeout,
    LoginFailed,
    MalformedFrame,
    NotConnected,
)
from telephony.events import (
    DomainEvent,
    PbxLinkDown,
    PbxLinkUp,
    SnapshotCompleted,
    SnapshotStarted,
)
from telephony.frames import Frame
from telephony.framing import FrameReader
from telephony.pending import Pending, PendingActions
from telephony.timing import DEFAULT_MAX_SKEW, Backoff, PbxClock, Throttle
from telephony.translate import TRANSLATORS, translate

READ_SIZE = 64 * 1024
# Asterisk's answer to an action of a module not loaded yet: "Invalid/unknown command: QueueStatus. ..."
_NOT_LOADED = "invalid/unknown command"
# Faults that can come in floods (a PBX with a broken clock stamps every frame) are logged at most
# this often; the counters say how many.
FLOOD_LOG_INTERVAL = 60.0


@dataclass(slots=True)
class SessionCounters:
    frames: int = 0
    events: int = 0
    unknown_events: int = 0
    malformed_frames: int = 0
    oversized_frames: int = 0
    reconnects: int = 0
    callback_errors: int = 0
    actions_timed_out: int = 0
    bad_lines: int = 0  # lines that were not "Key: Value" inside otherwise usable frames
    bad_timestamps: int = 0  # Timestamps not believed (not a time, or beyond the clock skew): the estimate used
    blank_frames: int = 0  # frames with nothing in them, dropped unparsed
    garbled_frames: int = 0  # frames of text without a single "Key: Value" field, dropped unparsed


WANTED_EVENTS = frozenset({*TRANSLATORS, "FullyBooted"})
"""The unsolicited events the session reads; the reader drops the others unparsed."""


class _LinkLost(Exception):
    """Internal: this connection is over; ``reason`` goes into PbxLinkDown and the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AmiSession:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        on_event: Callable[[DomainEvent], object],
        ping_interval: float = 10.0,
        ping_timeout: float = 5.0,
        action_timeout: float = 10.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        max_frame: int = 64 * 1024,
        max_clock_skew: float = DEFAULT_MAX_SKEW,
        local_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.host, self.port, self.username = host, port, username
        self._secret = secret
        self._on_event = on_event
        self._ping_interval, self._ping_timeout = ping_interval, ping_timeout
        self._action_timeout = action_timeout
        self._max_frame = max_frame
        self._backoff = Backoff(backoff_initial, backoff_max, rng)
        self._clock = PbxClock(now=local_clock, max_skew=max_clock_skew)
        self._stamp_log = Throttle(FLOOD_LOG_INTERVAL)
        self._malformed_log = Throttle(FLOOD_LOG_INTERVAL)
        self._counters = SessionCounters()
        self._log = structlog.get_logger("telephony.session").bind(pbx=f"{host}:{port}", ami_user=username)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Per-connection state, reset by _connect_once.
        self._writer: asyncio.StreamWriter | None = None
        self._framer = self._new_framer()
        self._pending = PendingActions()
        self._logged_in = False
        self._resync_wanted = asyncio.Event()
        self._banner_seen = asyncio.Event()
        self._resync_entry: Pending | None = None
        self._announced = False  # PbxLinkUp delivered on this connection
        self._held: list[Frame] = []  # live events read before PbxLinkUp, delivered after it

    # --- public ------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Logged in right now (actions can be sent)."""
        return self._logged_in

    @property
    def version(self) -> str | None:
        """AMI protocol version from the banner of the current (or last) connection."""
        return self._framer.version

    @property
    def counters(self) -> SessionCounters:
        """A copy: the session's own keeps counting."""
        return replace(self._counters)

    @property
    def pending_actions(self) -> int:
        """Actions written on this connection and not yet answered, failed or given up."""
        return len(self._pending)

    def pbx_now(self) -> float:
        return self._clock.now()

    def start(self) -> asyncio.Task[None]:
        """Follow the PBX (again, should the session's loop itself have failed); returns its task."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"ami {self.host}:{self.port}")
        return self._task

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stopping = True
        if self._logged_in:
            try:
                await self._request(actions.logoff(), min(1.0, self._action_timeout))
            except ActionError:
                pass  # we are leaving either way
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    def resync(self, reason: str) -> bool:
        """Ask the PBX for its whole picture again on this connection (a Reload of its queues, an
        action answer that contradicts what we believe). Requests made while one is due or under
        way share the next one. False when there is no logged-in link: the next login resyncs."""
        if not self._logged_in:
            return False
        if not self._resync_wanted.is_set():
            self._log.info("ami resync requested", reason=reason)
            self._resync_wanted.set()
        return True

    async def send(self, action: Action, timeout: float | None = None) -> Response:
        """Send one action and wait for its answer (its whole list, for list actions).

        Raises NotConnected without a logged-in session, ActionFailed on ``Response: Error``,
        ActionTimeout after ``timeout`` (default ``action_timeout``), ActionInterrupted if the
        link drops first.
        """
        if not self._logged_in:
            raise NotConnected(action.name)
        return await self._request(action, timeout)

    # --- connection lifecycle ------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            reason = await self._connect_once()
            if self._stopping:
                return
            delay = self._backoff.next()
            self._counters.reconnects += 1
            self._log.info("ami reconnect scheduled", reason=reason, delay_s=round(delay, 3), attempt=self._backoff.attempt)
            await asyncio.sleep(delay)

    async def _connect_once(self) -> str:
        """One connection from TCP connect to teardown; returns why it ended."""
        self._framer = self._new_framer()
        self._pending = PendingActions()
        self._resync_wanted.clear()
        self._banner_seen.clear()
        self._resync_entry = None
        self._announced = False
        self._held = []
        tasks: list[asyncio.Task[None]] = []
        reason = "stopped"
        try:
            # asyncio.timeout, not wait_for: wait_for on 3.11 can drop a connection that completes
            # as it is cancelled, leaking the socket.
            async with asyncio.timeout(self._action_timeout):
                reader, self._writer = await asyncio.open_connection(self.host, self.port)
            tasks.append(asyncio.create_task(self._read_loop(reader)))
            await self._login(tasks[0])
            self._resync_wanted.set()
            tasks.append(asyncio.create_task(self._ping_loop()))
            tasks.append(asyncio.create_task(self._resync_loop()))
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            # The reader's reason (EOF, reset) is the root cause when several ended at once.
            first = tasks[0] if tasks[0] in done else next(iter(done))
            failure = first.exception()
            raise failure if failure is not None else _LinkLost("session task ended")
        except _LinkLost as lost:
            reason = lost.reason
        except LoginFailed as refused:
            reason = f"login refused: {refused.message}"
            self._log.error("ami login refused", message=refused.message)
        except (OSError, TimeoutError, ActionError, MalformedFrame) as error:
            reason = f"{type(error).__name__}: {error}"
        except Exception as error:  # noqa: BLE001 - a boundary: the fault is logged and counted, never lost
            # A bug of ours must cost one connection, not the PBX link for good: log, reconnect.
            reason = f"internal error: {type(error).__name__}: {error}"
            self._log.exception("ami session failed")
        except asyncio.CancelledError:
            reason = "stopped"
            raise
        finally:
            await self._teardown(tasks, reason if not self._stopping else "stopped")
        return reason

    async def _login(self, read_task: asyncio.Task[None]) -> None:
        banner = asyncio.create_task(self._banner_seen.wait())
        try:
            await asyncio.wait({banner, read_task}, timeout=self._action_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            banner.cancel()
        if not self._banner_seen.is_set():
            if read_task.done() and read_task.exception() is not None:
                raise read_task.exception()  # type: ignore[misc]
            raise _LinkLost("no AMI banner from the peer")
        try:
            await self._request(actions.login(self.username, self._secret))
        except ActionFailed as refused:
            raise LoginFailed(self.username, refused.message) from None
        self._logged_in = True
        self._backoff.reset()
        self._log.info("ami logged in", version=self.version)

    async def _teardown(self, tasks: list[asyncio.Task[None]], reason: str) -> None:
        # Everything that must happen is done synchronously first: a stop() that cancels us
        # while we wait below must not leak the socket nor lose the PbxLinkDown.
        self._logged_in = False
        for task in tasks:
            task.cancel()
        writer, self._writer = self._writer, None
        if writer is not None:
            # abort, not close: a half-open peer never drains our buffer and close() would wait.
            writer.transport.abort()
        self._pending.fail_all(reason)
        self._log.warning("ami link down", reason=reason)
        if self._announced:
            self._announced = False
            self._deliver(PbxLinkDown(at=self.pbx_now(), reason=reason))
        await asyncio.shield(self._reap(tasks, writer))

    @staticmethod
    async def _reap(tasks: list[asyncio.Task[None]], writer: asyncio.StreamWriter | None) -> None:
        await asyncio.gather(*tasks, return_exceptions=True)
        if writer is not None:
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    # --- the three per-connection tasks --------------------------------------------------------

    def _new_framer(self, *, expect_banner: bool = True) -> FrameReader:
        return FrameReader(self._max_frame, expect_banner=expect_banner, wanted=WANTED_EVENTS)

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    raise _LinkLost("connection closed by the PBX")
                self._on_data(data)
        except (_LinkLost, OSError) as lost:
            # Whoever waits on an answer learns now, not at its timeout.
            self._pending.fail_all(getattr(lost, "reason", None) or f"{type(lost).__name__}: {lost}")
            raise

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self._ping_interval)
            try:
                await self._request(actions.ping(), self._ping_timeout)
            except ActionTimeout:
                raise _LinkLost(f"no Ping answer within {self._ping_timeout:g} s (half-open link)") from None

    async def _resync_loop(self) -> None:
        while True:
            await self._resync_wanted.wait()
            self._resync_wanted.clear()
            await self._resync()

    async def _resync(self) -> None:
        self._deliver(PbxLinkUp(at=self.pbx_now(), pbx_version=self.version or ""))
        self._deliver(SnapshotStarted(at=self.pbx_now()))
        if not self._announced:
            # Events that came in the same read as the login Response: the registry must not
            # see them before PbxLinkUp. The snapshot below already reflects them.
            self._announced = True
            held, self._held = self._held, []
            for frame in held:
                self._deliver_item(frame)
        queues, channels = actions.queue_status(), actions.core_show_channels()
        # List items go to on_event as they arrive, in stream order with live events: the
        # registry sees the PBX's story in the PBX's order.
        self._resync_entry = self._submit(queues, self._deliver_item)
        waits = [self._resync_entry.future, self._submit(channels, self._deliver_item).future]
        try:
            results = await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), self._action_timeout)
        except TimeoutError:
            raise _LinkLost("resync got no complete answer") from None
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures and all(isinstance(f, ActionFailed) and _NOT_LOADED in f.message.lower() for f in failures):
            # Logged in while Asterisk is still starting: AMI accepts logins before app_queue is
            # loaded (seen on every restart of the test PBX). Dropping the link here would only
            # reconnect in a tight loop until the modules are in; FullyBooted follows, and the
            # resync runs again then. The snapshot stays open (never completed) meanwhile.
            self._log.info("ami resync deferred: PBX still starting", message=failures[0].message)  # type: ignore[attr-defined]
            return
        if failures:
            raise failures[0]
        self._deliver(SnapshotCompleted(at=self.pbx_now()))

    # --- actions ---------------------------------------------------------------------------

    def _submit(self, action: Action, on_item: Callable[[Frame], None] | None = None) -> Pending:
        if self._writer is None:
            raise NotConnected(action.name)
        wire = action.encode()  # may refuse (UnsafeActionValue): then nothing is pending
        pending = self._pending.add(action, asyncio.get_running_loop().create_future(), on_item)
        self._writer.write(wire)
        self._log.debug("ami action sent", action=action.name, action_id=action.action_id)
        return pending

    async def _request(self, action: Action, timeout: float | None = None, on_item: Callable[[Frame], None] | None = None) -> Response:
        timeout = self._action_timeout if timeout is None else timeout
        try:
            pending = self._submit(action, on_item)
            return await asyncio.wait_for(pending.future, timeout)
        except TimeoutError:
            self._counters.actions_timed_out += 1
            self._log.warning("ami action timed out", action=action.name, action_id=action.action_id, timeout_s=timeout)
            raise ActionTimeout(action.name, action.action_id, timeout) from None
        finally:
            # Answered entries are gone already; one whose write raised, timed out or was abandoned
            # (its caller cancelled) goes now: a late answer is then unsolicited, the book bounded.
            self._pending.forget(action.action_id)

    # --- incoming frames -------------------------------------------------------------------

    def _on_data(self, data: bytes) -> None:
        """Everything one read brought: frames dispatched in order, the rest counted."""
        framer = self._framer
        passed_over, blank, garbled = framer.passed_over, framer.blank, framer.garbled
        for frame in framer.feed(data):
            self._dispatch(frame)
        self._counters.blank_frames += framer.blank - blank
        self._counters.garbled_frames += framer.garbled - garbled
        if framer.passed_over != passed_over:
            # Counted as the frames and events they are, and as events we do not interpret.
            dropped = framer.passed_over - passed_over
            self._counters.frames += dropped
            self._counters.events += dropped
            self._counters.unknown_events += dropped
        for error in framer.take_errors():
            self._counters.oversized_frames += 1
            self._log.warning("ami frame too large, skipped", size=error.size, limit=error.limit)
        if not self._banner_seen.is_set() and framer.version is not None:
            self._banner_seen.set()

    def _dispatch(self, frame: Frame) -> None:
        self._counters.frames += 1
        if frame.bad_lines:
            self._counters.bad_lines += frame.bad_lines
        if "ActionID" in frame and self._pending.answer(frame):
            return
        if "Event" in frame:
            self._on_pbx_event(frame)
        else:
            self._log.debug("ami response to no pending action", action_id=frame.get("ActionID"), response=frame.get("Response"))

    def _on_pbx_event(self, frame: Frame) -> None:
        self._counters.events += 1
        if frame["Event"] == "FullyBooted":
            self._on_fully_booted()
        elif self._announced:
            self._deliver_item(frame)
        else:
            self._held.append(frame)

    def _deliver_item(self, frame: Frame) -> None:
        clock = self._clock
        rejected = clock.rejected
        try:
            # Timestamped frames carry their own time, checked by the clock; only the others need the estimate.
            event = translate(frame, 0.0 if "Timestamp" in frame else clock.now(), clock)
        except MalformedFrame as bad:
            self._counters.malformed_frames += 1
            if self._malformed_log.due():  # a PBX (or peer) gone bad sends them by the thousand
                self._log.warning("ami malformed event", ami_event=bad.event, field=bad.field, reason=bad.reason,
                                  malformed_frames=self._counters.malformed_frames)
            return
        finally:
            if clock.rejected != rejected:
                self._bad_timestamp(frame)
        if event is None:
            self._counters.unknown_events += 1
            return
        self._deliver(event)

    def _bad_timestamp(self, frame: Frame) -> None:
        self._counters.bad_timestamps += 1
        if self._stamp_log.due():
            self._log.warning("ami timestamp not believed: the PBX clock estimate used", ami_event=frame.get("Event"),
                              timestamp=self._clock.last_rejected, max_skew_s=self._clock.max_skew,
                              bad_timestamps=self._counters.bad_timestamps)

    def _on_fully_booted(self) -> None:
        # Asterisk sends FullyBooted to every new session right after the login Response. A
        # FullyBooted read before our QueueStatus Response is already covered by that snapshot
        # (the PBX answers a session's actions in order): resyncing again would only repeat it.
        entry = self._resync_entry
        if not self._logged_in or self._resync_wanted.is_set() or (entry is not None and not entry.acked):
            return  # the login's own resync is still to come, or under way
        self._log.info("ami FullyBooted: resync")
        self._resync_wanted.set()

    def _deliver(self, event: DomainEvent) -> None:
        try:
            self._on_event(event)
        except Exception:  # noqa: BLE001 - a boundary: the fault is logged and counted, never lost
            # The consumer's bug must not cost the link, nor the rest of the burst.
            self._counters.callback_errors += 1
            self._log.exception("on_event raised", domain_event=type(event).__name__)
