"""pyVoIP 1.6.8, imported in the one order that works and patched for two defects that bite tests.

Import pyVoIP only through this module (``from tests.support.sip._pyvoip import VoIPPhone, ...``):

- ``pyVoIP.VoIP`` must be imported before ``pyVoIP.SIP`` (circular import otherwise).
- ``SIPClient.gen_ack`` invents a fresh To-tag for the ACK of a 200 OK instead of copying the one
  the 200 OK carries. Asterisk cannot match that ACK to the dialog, keeps retransmitting its 200 OK
  and drops the call after 32 s (Timer H). The patched version copies the To-tag.
- A CANCEL is answered 200 OK but the ringing call stays "ringing" in pyVoIP (no 487), so a
  phone could still answer a call the PBX already gave up on. We answer the INVITE 487, end the
  call and remember it (:func:`was_cancelled`) so our phones never answer it.
"""

from __future__ import annotations

import threading

import pyVoIP.VoIP as _voip

# isort: split
import pyVoIP.SIP as _sip  # after pyVoIP.VoIP, or the import is circular

VoIPPhone = _voip.VoIPPhone
VoIPCall = _voip.VoIPCall
CallState = _voip.CallState
PhoneStatus = _voip.PhoneStatus
InvalidStateError = _voip.InvalidStateError
SIPClient = _sip.SIPClient
SIPMessage = _sip.SIPMessage

_cancelled: set[str] = set()
_cancelled_lock = threading.Lock()


def _gen_ack_with_their_tag(self: _sip.SIPClient, request: _sip.SIPMessage) -> str:
    ack = _ORIGINAL_GEN_ACK(self, request)
    their_tag = request.headers["To"].get("tag", "")
    if not their_tag:
        return ack
    lines = ack.split("\r\n")
    for i, line in enumerate(lines):
        if line.startswith("To: "):
            lines[i] = f"To: {request.headers['To']['raw']};tag={their_tag}"
    return "\r\n".join(lines)


def _callback_noting_cancel(self: _voip.VoIPPhone, request: _sip.SIPMessage) -> None:
    _ORIGINAL_CALLBACK(self, request)  # for a CANCEL: answers it 200 OK, and nothing more
    if request.type != _sip.SIPMessageType.MESSAGE or request.method != "CANCEL":
        return
    call_id = request.headers["Call-ID"]
    with _cancelled_lock:
        _cancelled.add(call_id)
    call = self.calls.get(call_id)
    if call is not None and call.state == CallState.RINGING:
        # RFC 3261 9.2: the cancelled INVITE gets 487; without it the PBX's INVITE transaction
        # lingers for 32 s. The call is over for pyVoIP too, so answer() can no longer send 200.
        terminated = self.sip.gen_busy(call.request).replace("486 Busy Here", "487 Request Terminated", 1)
        self.sip.out.sendto(terminated.encode("utf8"), (self.server, self.port))
        call.state = CallState.ENDED
        self.calls.pop(call_id, None)


def was_cancelled(call: _voip.VoIPCall) -> bool:
    """True if the PBX sent CANCEL for this (incoming, unanswered) call."""
    with _cancelled_lock:
        return bool(call.call_id in _cancelled)


def forget(call: _voip.VoIPCall) -> None:
    with _cancelled_lock:
        _cancelled.discard(call.call_id)


_ORIGINAL_GEN_ACK = getattr(_sip.SIPClient.gen_ack, "__wrapped_original__", _sip.SIPClient.gen_ack)
_ORIGINAL_CALLBACK = getattr(_voip.VoIPPhone.callback, "__wrapped_original__", _voip.VoIPPhone.callback)
_gen_ack_with_their_tag.__wrapped_original__ = _ORIGINAL_GEN_ACK  # type: ignore[attr-defined]
_callback_noting_cancel.__wrapped_original__ = _ORIGINAL_CALLBACK  # type: ignore[attr-defined]
_sip.SIPClient.gen_ack = _gen_ack_with_their_tag  # type: ignore[method-assign]
_voip.VoIPPhone.callback = _callback_noting_cancel  # type: ignore[method-assign]
