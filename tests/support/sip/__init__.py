"""SIP phones for tests and load against the test PBX: handler desk phones and callers."""

from tests.support.sip.callers import PidfCircle, PyVoipCaller, SippRun, sipp_dial
from tests.support.sip.endpoints import TEST_PASSWORD, SipServer
from tests.support.sip.handler_phone import HandledCall, HandlerPhone

__all__ = ["TEST_PASSWORD", "HandledCall", "HandlerPhone", "PidfCircle", "PyVoipCaller", "SipServer", "SippRun", "sipp_dial"]
