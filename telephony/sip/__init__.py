"""SIP phones for tests and load against the test PBX: handler desk phones and callers."""

from telephony.sip.callers import PyVoipCaller, SippRun, sipp_dial
from telephony.sip.endpoints import TEST_PASSWORD, SipServer
from telephony.sip.handler_phone import HandledCall, HandlerPhone

__all__ = ["HandledCall", "HandlerPhone", "PyVoipCaller", "SipServer", "SippRun", "TEST_PASSWORD", "sipp_dial"]
