"""A handler's own state on their desktop, pushed when it changes: no desktop polls for it.

``GET /api/me`` and the desktop socket's ``me`` message are one view (:func:`status_of`). The
registry says which handlers changed (``HandlerChanged``); :class:`HandlerStatusPush` turns that
into a ``me`` message for each changed handler with a desktop open, and sends it only when what the
desktop shows differs from what it was last sent (a member event that moves nothing the desktop
shows, a device state flickering under a call, sends nothing). A desktop that connects or resumes
gets the state as it is then from the hub (:meth:`screenpop.delivery.DesktopHub.states_from`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from intake.core.config import HandlerConfig, IntakeConfig
from intake.core.handlers import Handler, HandlerState
from intake.core.registry import HandlerChanged, Notice
from intake.core.seating import Seating, seating_of
from screenpop.delivery import DesktopHub
from screenpop.messages import HandlerStatus


def state_of(seen: Handler | None, wrapup_reason: str) -> tuple[HandlerState, str]:
    """The state and reason of a handler (``seen``: the registry's, if the PBX ever reported the member)."""
    return seen.state(wrapup_reason) if seen else (HandlerState.LOGGED_OUT, "")


AfterWrapUp = Callable[[str], str | None]
"""handler id -> the reason they go not ready with when their wrap-up ends (the wrap-up's timer
says: routing.handler_desk.HandlerDesk.not_ready_after_wrapup), None: ready then."""


def after_call_of(seen: Handler | None, state: HandlerState, after_wrapup: str | None) -> str | None:
    """On a call and paused in every queue (Not ready pressed during it), or in the wrap-up that
    followed: the reason they go not ready with once the call's wrap-up ends
    (routing.handler_rules.wrapup_after); else None. From the call's end until the wrap-up's
    pause the registry's due wrap-up says it (the desk's timer may not have started yet)."""
    if state is HandlerState.WRAP_UP:
        due = seen.wrapup_follows if seen is not None else None
        return due.then_paused if due is not None else after_wrapup
    return seen.paused_for() if seen is not None and state is HandlerState.ON_CALL else None


Shows = tuple[HandlerState, str, str | None, str | None]
"""What a handler's desktop shows of their state: the state, its reason, the position they are
at, and the not-ready reason asked for after this call (see :func:`after_call_of`)."""


def status_of(configured: HandlerConfig, shows: Shows, wrapup_reason: str,
              ring_out_reason: str) -> HandlerStatus:
    """What a handler's desktop shows about its own handler, in state ``shows`` (see :func:`state_of`)."""
    state, reason, position, after_call = shows
    return HandlerStatus(handler_id=configured.id, name=configured.name, state=state.value, reason=reason,
                         queues=tuple(configured.queues), wrapup_reason=wrapup_reason, ring_out_reason=ring_out_reason,
                         position=position, not_ready_after_call=None if after_call is None else (after_call or "not ready"))


class HandlerStatusPush:
    """Subscriber to the registry's notices: each changed handler's status to their desktops."""

    def __init__(self, config: IntakeConfig, handlers: Callable[[str], Handler | None], ring_out_reason: str,
                 hub: DesktopHub, *, seats: Seating | None = None, after_wrapup: AfterWrapUp = lambda _: None) -> None:
        """``handlers``: the registry's handler by member, as it is when asked; ``seats``: who
        sits where, as the registry learns it (default: the fixed phones only); ``after_wrapup``:
        see :data:`AfterWrapUp` (default: nobody)."""
        self._after_wrapup = after_wrapup
        self._configured = {h.id: h for h in config.handlers}
        self._seats = seats or seating_of(config)
        self._last_at: dict[str, str] = {}  # member -> the handler last seen at it (told when they leave it)
        self._handlers = handlers
        self._wrapup_reason = config.wrapup_reason
        self._ring_out_reason = ring_out_reason
        self._hub = hub
        self._sent: dict[str, Shows] = {}  # handler id -> what its desktops show
        hub.states_from(self.status)

    def status(self, handler_id: str) -> HandlerStatus:
        """KeyError for a handler the configuration does not name."""
        configured = self._configured[handler_id]
        return status_of(configured, self._state_of(configured), self._wrapup_reason, self._ring_out_reason)

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def view(self, handler_id: str) -> dict[str, Any]:
        """``GET /api/me``'s body: the status without its message type."""
        status = self.status(handler_id)
        return status.model_dump(mode="json", exclude={"type"} | status.left_out())

    def handle(self, notices: Iterable[Notice]) -> None:
        changed: set[str] = set()
        for n in notices:
            if isinstance(n, HandlerChanged):
                now_at, was_at = self._seats.handler_of(n.member), self._last_at.pop(n.member, None)
                if now_at is not None:
                    self._last_at[n.member] = now_at
                changed.update(h for h in (now_at, was_at) if h is not None and h in self._configured)
        for handler_id in changed:
            if not self._hub.sockets(handler_id):
                # Nobody to tell: a desktop that connects is sent the state as it is then.
                self._sent.pop(handler_id, None)
                continue
            # The rest of the status is the configuration's: only the state and reason can change,
            # and most member events change neither (the message is built only when they do).
            configured = self._configured[handler_id]
            shows = self._state_of(configured)
            if self._sent.get(handler_id) != shows:
                self._sent[handler_id] = shows
                self._hub.show_state(handler_id, status_of(configured, shows, self._wrapup_reason, self._ring_out_reason))

    def _state_of(self, configured: HandlerConfig) -> Shows:
        member = self._seats.member_of(configured.id)
        seen = self._handlers(member) if member is not None else None
        state, reason = state_of(seen, self._wrapup_reason)
        after = after_call_of(seen, state, self._after_wrapup(configured.id) if state is HandlerState.WRAP_UP else None)
        return state, reason, self._seats.position_of(member) if member is not None else None, after
