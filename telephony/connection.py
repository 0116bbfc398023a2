"""One AMI client's protocol state, with no I/O: bytes in, domain events, bytes and deadlines out.

In the style of h11 and wsproto. The I/O loop (:class:`~telephony.session.AmiSession`) feeds what
the socket brought (:meth:`AmiConnection.receive_data`), tells it of connect and loss, and after
each of those takes out what to write (:meth:`~AmiConnection.data_to_send`), the domain events
for the consumer (:meth:`~AmiConnection.events_received`) and when to call back
(:meth:`~AmiConnection.next_deadline`, then :meth:`~AmiConnection.handle_timers`). The clock is
injected, so a test drives a whole link - login, snapshot, pings, timeouts, loss, backoff - by
table, without a socket and without sleeping.

What a link does, all here (where it stands is :mod:`telephony.link`'s table):

- greeting: the banner within ``action_timeout``, then Login; a refusal or no answer ends the link;
- the snapshot: after every login, every FullyBooted and every :meth:`~AmiConnection.resync`,
  PbxLinkUp and the PBX's own picture (QueueStatus + CoreShowChannels) between SnapshotStarted
  and SnapshotCompleted, because Asterisk keeps nothing for a client that was away. List items go
  out as they arrive, in stream order with live events. Events read before the first PbxLinkUp of
  a link are held and released after it;
- sharing: the PBX answers one session's actions in order, so anything read before the
  QueueStatus Response - a FullyBooted, a reason to resync - is already in that snapshot: it asks
  for no other. One asked after that Response gets a snapshot of its own, once this one is done;
- a PBX still starting: Asterisk accepts logins before its modules are loaded, and QueueStatus is
  then refused. Asterisk says FullyBooted right after the Login Response when, and only when, it
  has fully booted (manager.c ``action_login``): a snapshot refused on a link that has not heard
  FullyBooted is *deferred* to the FullyBooted that follows, not a reason to drop the link (that
  only reconnects in a tight loop until the modules are in). Refused after FullyBooted, it is a
  fault, and the link is dropped;
- the ping watchdog: a Ping every ``ping_interval`` after the last Pong; none within
  ``ping_timeout`` means a half-open socket (the PBX vanished without a FIN): the link is over;
- actions: each has a deadline; past it its waiter gets ActionTimeout and a late answer is
  unsolicited. When the link ends every waiter gets ActionInterrupted now, and nothing is written
  again on the next link: whether to retry is the caller's call (a second Originate is a second
  call to a member of the public);
- reconnecting: :meth:`~AmiConnection.reconnect_delay` is the capped, jittered backoff, reset by a
  successful login.

The link ends (state CLOSED, :attr:`~AmiConnection.closed_reason` set) either because the I/O
loop says so (:meth:`~AmiConnection.connection_lost`) or because a rule above says so; then the
loop closes the socket.
"""

# Why one module of ~400 lines: one AMI link's protocol state (login, snapshots, pings, actions)
# moves together; the link table (link.py) and the frame reader (reader.py) are already apart.

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

from telephony import actions
from telephony.actions import Action, Response
from telephony.errors import ActionError, ActionFailed, ActionTimeout, NotConnected
from telephony.events import (
    DomainEvent,
    PbxLinkDown,
    PbxLinkUp,
    SnapshotCompleted,
    SnapshotStarted,
)
from telephony.frames import Frame
from telephony.link import LOGGED_IN, LinkSettings, LinkState, LinkStep, next_state
from telephony.pending import Callback, Pending, PendingActions, Waiter
from telephony.reader import EventReader, SessionCounters
from telephony.timing import Backoff, PbxClock

# A timer that fires this close before its deadline counts as due: the loop's clock is coarse.
_SLACK = 0.001


class AmiConnection:
    """The protocol state of an AMI client across its links (one at a time)."""

    def __init__(
        self,
        username: str,
        secret: str,
        settings: LinkSettings,
        *,
        backoff: Backoff,
        pbx_clock: PbxClock,
        clock: Callable[[], float] = time.monotonic,
        log: Any = None,  # a structlog BoundLogger; Any as structlog's own getters return it
    ) -> None:
        self.username = username
        self._secret = secret
        self.settings = settings
        self._backoff = backoff
        self._pbx_clock = pbx_clock
        self._clock = clock
        self._log = log if log is not None else structlog.get_logger("telephony.connection")
        self.counters = SessionCounters()
        self._reader = EventReader(settings.max_frame, pbx_clock, self.counters, self._log)
        self.state = LinkState.CLOSED
        self.closed_reason: str | None = None
        """Why the last link ended (None while one is open, or before the first)."""
        # Per link, reset by connection_made.
        self._pending = PendingActions()
        self._deadlines: dict[str, tuple[float, float, Action, Waiter]] = {}  # id -> (at, timeout, ...)
        self._out: list[bytes] = []
        self._events: list[DomainEvent] = []
        self._banner_due: float | None = None
        self._ping_due: float | None = None
        self._announced = False  # PbxLinkUp delivered on this link
        self._held: list[Frame] = []  # live events read before PbxLinkUp, delivered after it
        self._booted = False  # the PBX said FullyBooted on this link
        self._snapshot_wanted = False  # one more snapshot once the current one is done
        self._queues: Pending | None = None  # the current snapshot's QueueStatus
        self._snapshot_failures: list[tuple[ActionError, bool]] = []  # (refusal, FullyBooted heard before it)
        self._snapshot_open = 0  # its actions not answered yet

    # --- what the I/O loop reads -------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        return self.state in LOGGED_IN

    @property
    def closed(self) -> bool:
        """No link: the I/O loop closes its socket, if it still has one."""
        return self.state is LinkState.CLOSED

    @property
    def version(self) -> str | None:
        """AMI protocol version from the banner of the current (or last) link."""
        return self._reader.framer.version

    @property
    def pending_actions(self) -> int:
        return len(self._pending)

    def pbx_now(self) -> float:
        return self._pbx_clock.now()

    def data_to_send(self) -> bytes:
        """The bytes to write now, in order; each is handed out once."""
        if not self._out:
            return b""
        out, self._out = self._out, []
        return b"".join(out)

    def events_received(self) -> list[DomainEvent]:
        """The domain events for the consumer, in order; each is handed out once."""
        events, self._events = self._events, []
        return events

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timers` has something to do (on the injected clock), or None."""
        due = [at for at in (self._banner_due, self._ping_due) if at is not None]
        due.extend(deadline[0] for deadline in self._deadlines.values())
        return min(due) if due else None

    def reconnect_delay(self) -> float:
        """How long to wait before the next connect; each call counts one reconnect."""
        delay = self._backoff.next()
        self.counters.reconnects += 1
        self._log.info("ami reconnect scheduled", reason=self.closed_reason, delay_s=round(delay, 3),
                       attempt=self._backoff.attempt)
        return delay

    # --- what the I/O loop tells it ----------------------------------------------------------

    def connection_made(self) -> None:
        """A new TCP connection is up: the banner is due within ``action_timeout``."""
        self.state = next_state(self.state, LinkStep.CONNECTED)
        self.closed_reason = None
        self._reader.new_link()
        self._pending = PendingActions()
        self._deadlines = {}
        self._out = []
        self._announced = self._booted = self._snapshot_wanted = False
        self._held = []
        self._queues = None
        self._ping_due = None
        self._banner_due = self._clock() + self.settings.action_timeout

    def replaying(self) -> None:
        """Follow a stream that is already logged in and announced, with no banner and no timer:
        a recorded stream replayed through the live path (the benchmark's pipeline)."""
        self.connection_made()
        self.state, self._banner_due, self._announced = LinkState.FOLLOWING, None, True
        self._reader.new_link(expect_banner=False)

    def connection_lost(self, reason: str) -> None:
        """The socket is gone (EOF, reset, stop); a no-op if the link had already ended."""
        self._close(reason)

    def receive_data(self, data: bytes) -> None:
        """Everything one read brought: frames dispatched in order, the rest counted."""
        frames = self._reader.frames(data)
        if self.state is LinkState.GREETING and self._reader.framer.version is not None:
            self._greeted()
        for frame in frames:
            self._dispatch(frame)

    def handle_timers(self) -> None:
        """Do whatever is due by now: a missing banner ends the link, an unanswered action times
        out, a Ping is sent."""
        if self.state is LinkState.CLOSED:
            return
        now = self._clock() + _SLACK
        if self._banner_due is not None and self._banner_due <= now:
            self._close("no AMI banner from the peer")
            return
        for action_id in [key for key, deadline in self._deadlines.items() if deadline[0] <= now]:
            self._expire(action_id)
            if self.closed:  # a timeout of the link's own (a Ping, the login) ended it
                return
        if self._ping_due is not None and self._ping_due <= now:
            self._ping_due = None
            self._ask(actions.ping(), self._ponged, self.settings.ping_timeout)

    def send_action(self, action: Action, waiter: Waiter, timeout: float | None = None) -> None:
        """Write ``action``; ``waiter`` learns its answer, ActionFailed, ActionTimeout after
        ``timeout`` (default ``action_timeout``) or ActionInterrupted. Raises NotConnected without
        a link, UnsafeActionValue (nothing written, nothing pending) for a value that would split
        the message."""
        if self.state is LinkState.CLOSED:
            raise NotConnected(action.name)
        self._submit(action, waiter, self.settings.action_timeout if timeout is None else timeout)

    def forget(self, action_id: str) -> None:
        """The caller gave up (or has its answer): a late answer will be unsolicited."""
        self._pending.forget(action_id)
        self._deadlines.pop(action_id, None)

    def resync(self, reason: str) -> bool:
        """Ask for the PBX's whole picture again on this link (a reload of its queues, an answer
        that contradicts what we believe). False without a logged-in link: the next login
        resyncs anyway."""
        if not self.logged_in:
            return False
        self._want_snapshot("ami resync requested", reason=reason)
        return True

    # --- the link's life ---------------------------------------------------------------------

    def _step(self, step: LinkStep) -> None:
        self.state = next_state(self.state, step)

    def _greeted(self) -> None:
        self._step(LinkStep.BANNER)
        self._banner_due = None
        self._ask(actions.login(self.username, self._secret), self._login_answered, self.settings.action_timeout)

    def _login_answered(self, outcome: Response | ActionError) -> None:
        if self.state is not LinkState.LOGGING_IN:
            return  # the link ended first
        if isinstance(outcome, ActionFailed):
            self._log.error("ami login refused", message=outcome.message)
            self._close(f"login refused: {outcome.message}")
            return
        if isinstance(outcome, ActionError):
            self._close(f"{type(outcome).__name__}: {outcome}")
            return
        self._step(LinkStep.LOGGED_IN)
        self._backoff.reset()
        self._log.info("ami logged in", version=self.version)
        self._ping_due = self._clock() + self.settings.ping_interval
        self._start_snapshot()

    def _close(self, reason: str) -> None:
        if self.state is LinkState.CLOSED:
            return
        self._step(LinkStep.LOST)  # first: the waiters failed below see a closed link
        self.closed_reason = reason
        self._banner_due = self._ping_due = None
        self._deadlines = {}
        self._out = []
        self._pending.fail_all(reason)
        self._log.warning("ami link down", reason=reason)
        if self._announced:
            self._announced = False
            self._events.append(PbxLinkDown(at=self.pbx_now(), reason=reason))

    def _ponged(self, outcome: Response | ActionError) -> None:
        if self.state is LinkState.CLOSED:
            return
        if isinstance(outcome, ActionTimeout):
            self._close(f"no Ping answer within {self.settings.ping_timeout:g} s (half-open link)")
        elif isinstance(outcome, ActionError):
            self._close(f"{type(outcome).__name__}: {outcome}")
        else:
            self._ping_due = self._clock() + self.settings.ping_interval

    # --- the snapshot ----------------------------------------------------------------------

    def _want_snapshot(self, log_event: str, **why: str) -> None:
        if self.state is LinkState.SYNCING:
            queues = self._queues
            if self._snapshot_wanted or (queues is not None and not queues.acked):
                return  # the one under way (or the one due) covers it
            self._snapshot_wanted = True
            self._log.info(log_event, **why)
            return
        self._log.info(log_event, **why)
        self._step(LinkStep.SNAPSHOT_ASKED)
        self._start_snapshot()

    def _start_snapshot(self) -> None:
        self._snapshot_wanted = False
        events = self._events
        events.append(PbxLinkUp(at=self.pbx_now(), pbx_version=self.version or ""))
        events.append(SnapshotStarted(at=self.pbx_now()))
        if not self._announced:
            # Events read before the login's answer: the consumer must not see them before
            # PbxLinkUp. The snapshot below already reflects them.
            self._announced = True
            held, self._held = self._held, []
            for frame in held:
                self._deliver_item(frame)
        self._snapshot_failures = []
        self._snapshot_open = 2
        timeout = self.settings.action_timeout
        self._queues = self._ask(actions.queue_status(), self._snapshot_answered, timeout, self._deliver_item)
        self._ask(actions.core_show_channels(), self._snapshot_answered, timeout, self._deliver_item)

    def _snapshot_answered(self, outcome: Response | ActionError) -> None:
        if self.state is not LinkState.SYNCING:
            return  # the link ended first
        if isinstance(outcome, ActionTimeout):
            self._close("resync got no complete answer")
            return
        if isinstance(outcome, ActionError):
            # Whether the PBX had said FullyBooted when it refused: one read after the refusal
            # (before the other list's end) does not make the refusal a fault.
            self._snapshot_failures.append((outcome, self._booted))
        self._snapshot_open -= 1
        if self._snapshot_open:
            return
        failures = self._snapshot_failures
        if not failures:
            self._events.append(SnapshotCompleted(at=self.pbx_now()))
            self._step(LinkStep.SNAPSHOT_COMPLETED)
        elif all(isinstance(refusal, ActionFailed) and not booted for refusal, booted in failures):
            # The PBX is still starting (no FullyBooted at login): its FullyBooted asks again.
            # The snapshot stays open (never completed) meanwhile.
            refused = [refusal.message for refusal, _ in failures if isinstance(refusal, ActionFailed)]
            self._log.info("ami resync deferred: PBX still starting", message=refused[0])
            self._step(LinkStep.SNAPSHOT_DEFERRED)
        else:
            first = failures[0][0]
            self._close(f"{type(first).__name__}: {first}")
            return
        if self._snapshot_wanted:
            self._want_snapshot("ami resync: asked for during the last one")

    # --- actions ---------------------------------------------------------------------------

    def _submit(self, action: Action, waiter: Waiter, timeout: float,
                on_item: Callable[[Frame], None] | None = None) -> Pending:
        wire = action.encode()  # may refuse (UnsafeActionValue): then nothing is pending
        pending = self._pending.add(action, waiter, on_item)
        self._deadlines[action.action_id] = (self._clock() + timeout, timeout, action, waiter)
        self._out.append(wire)
        self._log.debug("ami action sent", action=action.name, action_id=action.action_id)
        return pending

    def _ask(self, action: Action, then: Callable[[Response | ActionError], None], timeout: float,
             on_item: Callable[[Frame], None] | None = None) -> Pending:
        """Send an action of the connection's own; ``then`` learns its outcome as it is read."""
        action_id = action.action_id

        def answered(outcome: Response | ActionError) -> None:
            self._deadlines.pop(action_id, None)
            then(outcome)

        return self._submit(action, Callback(answered), timeout, on_item)

    def _expire(self, action_id: str) -> None:
        _, timeout, action, waiter = self._deadlines.pop(action_id)
        self._pending.forget(action_id)
        if waiter.done():
            return  # answered; its caller has not forgotten it yet
        self.counters.actions_timed_out += 1
        self._log.warning("ami action timed out", action=action.name, action_id=action_id, timeout_s=timeout)
        waiter.set_exception(ActionTimeout(action.name, action_id, timeout))

    # --- incoming frames -------------------------------------------------------------------

    def _dispatch(self, frame: Frame) -> None:
        if frame.bad_lines:
            self.counters.bad_lines += frame.bad_lines
        if "ActionID" in frame and self._pending.answer(frame):
            return
        if "Event" in frame:
            self.counters.events += 1
            if frame["Event"] == "FullyBooted":
                self._fully_booted()
            elif self._announced:
                self._deliver_item(frame)
            else:
                self._held.append(frame)
        else:
            self._log.debug("ami response to no pending action", action_id=frame.get("ActionID"), response=frame.get("Response"))

    def _fully_booted(self) -> None:
        # Asterisk says FullyBooted to every new session right after the Login Response once it
        # has booted, and to every session when it finishes booting (a restart). Read before our
        # QueueStatus Response it is already covered by that snapshot.
        self._booted = True
        if self.logged_in:
            self._want_snapshot("ami FullyBooted: resync")

    def _deliver_item(self, frame: Frame) -> None:
        event = self._reader.event(frame)
        if event is not None:
            self._events.append(event)
