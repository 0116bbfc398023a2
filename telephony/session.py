"""The asyncio AMI session: one TCP link to Asterisk at a time, kept alive by reconnecting.

A thin loop around :class:`~telephony.connection.AmiConnection`, which holds every rule of the
protocol (login, snapshots, the ping watchdog, action timeouts, backoff) and does no I/O. This
module connects, feeds what each read brings, writes what the connection has to send, hands its
domain events to ``on_event``, arms one timer for its next deadline, and reconnects after the
delay it says. A consumer's exception costs neither the link nor the rest of the burst.

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
from dataclasses import replace

import structlog

from telephony import actions
from telephony.actions import Action, Response
from telephony.connection import AmiConnection
from telephony.errors import ActionError, NotConnected
from telephony.events import DomainEvent
from telephony.link import LinkSettings
from telephony.reader import SessionCounters
from telephony.timing import DEFAULT_MAX_SKEW, Backoff, PbxClock

__all__ = ["AmiSession", "SessionCounters"]

READ_SIZE = 64 * 1024


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
        self._on_event = on_event
        self._action_timeout = action_timeout
        self._log = structlog.get_logger("telephony.session").bind(pbx=f"{host}:{port}", ami_user=username)
        self._connection = AmiConnection(
            username, secret, LinkSettings(ping_interval, ping_timeout, action_timeout, max_frame),
            backoff=Backoff(backoff_initial, backoff_max, rng), pbx_clock=PbxClock(now=local_clock, max_skew=max_clock_skew),
            clock=time.monotonic, log=self._log)
        self._callback_errors = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._writer: asyncio.StreamWriter | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._delivering = False

    # --- public ------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Logged in right now (actions can be sent)."""
        return self._connection.logged_in

    @property
    def version(self) -> str | None:
        """AMI protocol version from the banner of the current (or last) connection."""
        return self._connection.version

    @property
    def counters(self) -> SessionCounters:
        """A copy: the session's own keeps counting."""
        return replace(self._connection.counters, callback_errors=self._callback_errors)

    @property
    def pending_actions(self) -> int:
        """Actions written on this connection and not yet answered, failed or given up."""
        return self._connection.pending_actions

    def pbx_now(self) -> float:
        return self._connection.pbx_now()

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
        if self.connected:
            with contextlib.suppress(ActionError):  # we are leaving either way
                await self._request(actions.logoff(), min(1.0, self._action_timeout))
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    def resync(self, reason: str) -> bool:
        """Ask the PBX for its whole picture again on this connection (a Reload of its queues, an
        action answer that contradicts what we believe). Requests made before the snapshot under
        way has its queues' answer share it. False when there is no logged-in link: the next
        login resyncs."""
        asked = self._connection.resync(reason)
        self._flush()
        return asked

    async def send(self, action: Action, timeout: float | None = None) -> Response:
        """Send one action and wait for its answer (its whole list, for list actions).

        Raises NotConnected without a logged-in session, ActionFailed on ``Response: Error``,
        ActionTimeout after ``timeout`` (default ``action_timeout``), ActionInterrupted if the
        link drops first.
        """
        if not self.connected:
            raise NotConnected(action.name)
        return await self._request(action, timeout)

    async def _request(self, action: Action, timeout: float | None = None) -> Response:
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        try:
            self._connection.send_action(action, future, timeout)
            self._flush()
            return await future
        finally:
            # Answered entries are gone already; one abandoned by its caller (cancelled) goes
            # now: a late answer is then unsolicited, the book bounded.
            self._connection.forget(action.action_id)

    # --- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            await self._connect_once()
            if self._stopping:
                return
            await asyncio.sleep(self._connection.reconnect_delay())

    async def _connect_once(self) -> None:
        """One connection from TCP connect to teardown."""
        reason = "stopped"
        try:
            # asyncio.timeout, not wait_for: wait_for on 3.11 can drop a connection that completes
            # as it is cancelled, leaking the socket.
            async with asyncio.timeout(self._action_timeout):
                reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self._connection.connection_made()
            self._flush()
            reason = await self._read(reader)
        except (OSError, TimeoutError) as error:
            reason = f"{type(error).__name__}: {error}"
        except Exception as error:  # noqa: BLE001 - a boundary: the fault is logged and counted, never lost
            # A bug of ours must cost one connection, not the PBX link for good: log, reconnect.
            reason = f"internal error: {type(error).__name__}: {error}"
            self._log.exception("ami session failed")
        except asyncio.CancelledError:
            reason = "stopped"
            raise
        finally:
            writer = self._teardown("stopped" if self._stopping else reason)
            if writer is not None:
                await asyncio.shield(self._reap(writer))

    async def _read(self, reader: asyncio.StreamReader) -> str:
        connection = self._connection
        while not connection.closed:
            data = await reader.read(READ_SIZE)
            if not data:
                break
            self._on_data(data)
        # Closed by the connection's own rules (the socket was aborted), or by the PBX.
        return connection.closed_reason or "connection closed by the PBX"

    def _on_data(self, data: bytes) -> None:
        self._connection.receive_data(data)
        self._flush()

    def _teardown(self, reason: str) -> asyncio.StreamWriter | None:
        # All synchronous: a stop() that cancels us as we reap must not leak the socket nor lose
        # the PbxLinkDown.
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        writer, self._writer = self._writer, None
        if writer is not None:
            # abort, not close: a half-open peer never drains our buffer and close() would wait.
            writer.transport.abort()
        self._connection.connection_lost(reason)
        self._flush()
        return writer

    @staticmethod
    async def _reap(writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                await writer.wait_closed()

    def _flush(self) -> None:
        """Write what the connection has to send, deliver its events, arm its next deadline."""
        connection = self._connection
        data = connection.data_to_send()
        if data and self._writer is not None:
            self._writer.write(data)
        if not self._delivering:  # a consumer that calls resync() from on_event: its events follow these
            self._delivering = True
            try:
                while events := connection.events_received():
                    for event in events:
                        self._deliver(event)
            finally:
                self._delivering = False
        if connection.closed and self._writer is not None:
            self._writer.transport.abort()  # the read loop ends with the connection's reason
        self._arm(connection.next_deadline())

    def _deliver(self, event: DomainEvent) -> None:
        try:
            self._on_event(event)
        except Exception:  # noqa: BLE001 - a boundary: the fault is logged and counted, never lost
            # The consumer's bug must not cost the link, nor the rest of the burst.
            self._callback_errors += 1
            self._log.exception("on_event raised", domain_event=type(event).__name__)

    # --- the one timer ---------------------------------------------------------------------------

    def _arm(self, at: float | None) -> None:
        if at is None or (self._timer is not None and self._timer_at <= at):
            return  # nothing due, or the armed timer comes first (it re-arms for the rest)
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = asyncio.get_running_loop().call_later(max(0.0, at - time.monotonic()), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        try:
            self._connection.handle_timers()
        except Exception as error:  # noqa: BLE001 - a boundary: as a bug in the read path
            self._log.exception("ami session failed")
            self._connection.connection_lost(f"internal error: {type(error).__name__}: {error}")
        self._flush()
