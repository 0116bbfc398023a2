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
from screenpop.delivery import DesktopHub
from screenpop.messages import HandlerStatus


def state_of(seen: Handler | None, wrapup_reason: str) -> tuple[HandlerState, str]:
    """The state and reason of a handler (``seen``: the registry's, if the PBX ever reported the member)."""
    return seen.state(wrapup_reason) if seen else (HandlerState.LOGGED_OUT, "")


def status_of(configured: HandlerConfig, shows: tuple[HandlerState, str], wrapup_reason: str,
              ring_out_reason: str) -> HandlerStatus:
    """What a handler's desktop shows about its own handler, in state ``shows`` (see :func:`state_of`)."""
    state, reason = shows
    return HandlerStatus(handler_id=configured.id, name=configured.name, state=state.value, reason=reason,
                         queues=tuple(configured.queues), wrapup_reason=wrapup_reason, ring_out_reason=ring_out_reason)


class HandlerStatusPush:
    """Subscriber to the registry's notices: each changed handler's status to their desktops."""

    def __init__(self, config: IntakeConfig, handlers: Callable[[str], Handler | None], ring_out_reason: str,
                 hub: DesktopHub) -> None:
        """``handlers``: the registry's handler by member, as it is when asked."""
        self._configured = {h.id: h for h in config.handlers}
        self._ids = {h.member: h.id for h in config.handlers}
        self._handlers = handlers
        self._wrapup_reason = config.wrapup_reason
        self._ring_out_reason = ring_out_reason
        self._hub = hub
        self._sent: dict[str, tuple[HandlerState, str]] = {}  # handler id -> the (state, reason) its desktops show
        hub.states_from(self.status)

    def status(self, handler_id: str) -> HandlerStatus:
        """KeyError for a handler the configuration does not name."""
        configured = self._configured[handler_id]
        return status_of(configured, self._state_of(configured), self._wrapup_reason, self._ring_out_reason)

    # Any: a JSON view (plain values, as the wire carries them); its shape is declared and checked at the web edge, intake/app/web_models.py
    def view(self, handler_id: str) -> dict[str, Any]:
        """``GET /api/me``'s body: the status without its message type."""
        return self.status(handler_id).model_dump(mode="json", exclude={"type"})

    def handle(self, notices: Iterable[Notice]) -> None:
        changed = {self._ids[n.member] for n in notices if isinstance(n, HandlerChanged) and n.member in self._ids}
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

    def _state_of(self, configured: HandlerConfig) -> tuple[HandlerState, str]:
        return state_of(self._handlers(configured.member), self._wrapup_reason)
