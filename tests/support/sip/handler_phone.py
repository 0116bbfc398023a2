"""A handler's desk phone for tests: registers as ``handler-N`` and answers queue calls on cue.

Behaviour is chosen up front: answer each call ``answer_after`` seconds after the INVITE arrived
(``None``: never answer, let it ring out; a callable: called per call for
its delay, e.g. ``lambda: rng.uniform(1, 4)`` for random answer delays), then hang up after ``talk_for`` seconds (``None``: stay
on the call until the caller hangs up or :meth:`HandlerPhone.hang_up` is called); with
``answer_limit`` it answers only that many calls and lets later ones ring. pyVoIP runs a
phone on threads; :meth:`HandlerPhone.stop` ends them all, and the phone is a context manager.

pyVoIP sends 180 Ringing ~0.5 s after the INVITE and runs our callback only 1 s later; answer
delays below ~1 s are therefore rounded up to that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import structlog

from tests.support.sip import _pyvoip as pv
from tests.support.sip.endpoints import TEST_PASSWORD, SipServer, phone_ports

log = structlog.get_logger(__name__)


@dataclass
class HandledCall:
    """What the phone saw of one incoming call (monotonic times)."""

    call_id: str
    caller: str
    rang_at: float
    answered_at: float | None = None
    ended_at: float | None = None
    cancelled: bool = False
    _call: pv.VoIPCall | None = field(default=None, repr=False)


class HandlerPhone:
    def __init__(
        self,
        name: str,
        *,
        answer_after: float | Callable[[], float] | None = 2.0,
        talk_for: float | None = None,
        answer_limit: int | None = None,
        server: SipServer | None = None,
        password: str = TEST_PASSWORD,
    ) -> None:
        self.name = name
        self.answer_after = answer_after
        self.talk_for = talk_for
        self.answer_limit = answer_limit
        self.calls: list[HandledCall] = []
        self._server = server or SipServer.from_env()
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        sip_port, rtp_low, rtp_high = phone_ports(name)
        self._phone = pv.VoIPPhone(
            self._server.host,
            self._server.port,
            name,
            password,
            myIP="127.0.0.1",
            callCallback=self._on_call,
            sipPort=sip_port,
            rtpPortLow=rtp_low,
            rtpPortHigh=rtp_high,
        )
        self._log = log.bind(phone=name)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> HandlerPhone:
        """Register with the PBX (blocks until the REGISTER is accepted)."""
        self._phone.start()
        self._log.info("phone.registered")
        return self

    def stop(self) -> None:
        """Hang up whatever is active, unregister, and end pyVoIP's threads."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        self._phone.stop()
        self._log.info("phone.stopped")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # --- what tests wait on ---------------------------------------------------------------------

    def wait_ringing(self, timeout: float, count: int = 1) -> HandledCall:
        """The ``count``-th call to ring this phone; raises TimeoutError if it does not come."""
        return self._wait(lambda: self.calls[count - 1] if len(self.calls) >= count else None, timeout, "ringing")

    def wait_answered(self, timeout: float, *, nth: int = 1) -> HandledCall:
        """The ``nth`` call this phone answered, once it has."""
        return self._wait(lambda: next(iter([c for c in self.calls if c.answered_at][nth - 1:]), None), timeout, "answered")

    def wait_ended(self, timeout: float) -> HandledCall:
        return self._wait(lambda: next((c for c in self.calls if c.ended_at), None), timeout, "ended")

    def hang_up(self) -> None:
        """Hang up the call in progress (a BYE from the handler: AgentComplete Reason=agent)."""
        for record in self.calls:
            if record.answered_at and not record.ended_at and record._call is not None:
                self._end(record, hang_up=True)

    # --- pyVoIP callback thread ----------------------------------------------------------------

    def _on_call(self, call: pv.VoIPCall) -> None:
        record = HandledCall(
            call_id=call.call_id,
            caller=str(call.request.headers["From"].get("number") or ""),
            rang_at=time.monotonic() - 1.0,  # pyVoIP delays this callback by 1 s
            _call=call,
        )
        with self._changed:
            self.calls.append(record)
            self._changed.notify_all()
        self._log.info("phone.ringing", call_id=record.call_id, caller=record.caller)
        if self.answer_after is None or self._answered_enough():
            return
        delay = self.answer_after() if callable(self.answer_after) else self.answer_after
        if self._sleep_until(record.rang_at + delay) or pv.was_cancelled(call):
            self._note(record, cancelled=pv.was_cancelled(call))
            pv.forget(call)
            return
        try:
            call.answer()
        except pv.InvalidStateError:
            self._note(record, cancelled=True)
            return
        self._note(record, answered_at=time.monotonic())
        self._log.info("phone.answered", call_id=record.call_id)
        self._watch_call(record)

    def _answered_enough(self) -> bool:
        with self._changed:
            answered = sum(1 for c in self.calls if c.answered_at is not None)
        return self.answer_limit is not None and answered >= self.answer_limit

    def _watch_call(self, record: HandledCall) -> None:
        call = record._call
        assert call is not None and record.answered_at is not None
        deadline = None if self.talk_for is None else record.answered_at + self.talk_for
        while call.state == pv.CallState.ANSWERED and not self._stopping.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                self._end(record, hang_up=True)
                return
            time.sleep(0.05)
        self._end(record, hang_up=False)

    def _end(self, record: HandledCall, *, hang_up: bool) -> None:
        if record.ended_at is not None:
            return
        if hang_up and record._call is not None:
            try:
                record._call.hangup()
            except pv.InvalidStateError:
                pass
        self._note(record, ended_at=time.monotonic())
        self._log.info("phone.ended", call_id=record.call_id, by_handler=hang_up)

    def _note(self, record: HandledCall, **changes: object) -> None:
        with self._changed:
            for key, value in changes.items():
                setattr(record, key, value)
            self._changed.notify_all()

    def _sleep_until(self, when: float) -> bool:
        """Sleep until ``when``; True if the phone was stopped meanwhile."""
        return self._stopping.wait(max(0.0, when - time.monotonic()))

    def _wait(self, find: object, timeout: float, what: str) -> HandledCall:
        assert callable(find)
        with self._changed:
            found = self._changed.wait_for(find, timeout)
        if found is None:
            raise TimeoutError(f"{self.name}: no call {what} within {timeout:g} s")
        return found  # type: ignore[no-any-return]
