"""Where the test PBX's SIP side is, and which local ports each test phone takes.

Every phone on this single loopback host needs its own SIP port and RTP range: pyVoIP binds
5060 by default (Asterisk's port) and its RTP ranges must not overlap Asterisk's 10000-19999
(config/asterisk/rtp.conf) or another phone's.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

#: The password of every test endpoint in config/asterisk/pjsip.conf. Test-only, public in git.
TEST_PASSWORD = "test-only-password"
#: The auth user every caller-N endpoint also accepts (SIPp bursts authenticate as this one).
SHARED_CALLER_USER = "callers"

_PHONE = re.compile(r"^(handler|caller)-([1-9][0-9]?)$")
# handler-N: SIP 5100+N, RTP 20000+100N..+99; caller-N: SIP 5200+N, RTP 30000+100N..+99.
_BASES = {"handler": (5100, 20000), "caller": (5200, 30000)}


@dataclass(frozen=True, slots=True)
class SipServer:
    host: str = "127.0.0.1"
    port: int = 5060

    @classmethod
    def from_env(cls) -> SipServer:
        return cls(port=int(os.environ.get("INTAKE_SIP_PORT", "5060")))


def phone_ports(name: str) -> tuple[int, int, int]:
    """(SIP port, lowest RTP port, highest RTP port) of the endpoint ``name``.

    Env ``INTAKE_PHONE_PORT_OFFSET`` (default 0) shifts them all, so two test beds on one host
    (each with its own INTAKE_AMI_PORT / INTAKE_SIP_PORT) can run phones at the same time.
    """
    match = _PHONE.match(name)
    if match is None:
        raise ValueError(f"not a test phone of pjsip.conf: {name!r} (expected handler-N or caller-N)")
    kind, number = match.group(1), int(match.group(2))
    offset = int(os.environ.get("INTAKE_PHONE_PORT_OFFSET", "0"))
    sip_base, rtp_base = _BASES[kind]
    rtp_low = rtp_base + 100 * number + offset
    return sip_base + number + offset, rtp_low, rtp_low + 99
