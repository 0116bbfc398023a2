"""Test members of the public: they dial 999 or 101 at the PBX and hang up on cue.

Two kinds, because neither tool does everything:
- :func:`sipp_dial` runs Debian's SIPp (``sipp``): bursts of many concurrent calls from distinct
  ``caller-N`` endpoints, and the only way to abandon a call before anyone answered (CANCEL).
- :class:`PyVoipCaller` is one pyVoIP phone: a single call that the PBX answers (999), then a
  BYE after ``hangup_after`` seconds. pyVoIP cannot CANCEL.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Self

import structlog

from tests.support.sip import _pyvoip as pv
from tests.support.sip.endpoints import (
    SHARED_CALLER_USER,
    TEST_PASSWORD,
    SipServer,
    phone_ports,
)

log = structlog.get_logger(__name__)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scenario_path(name: str) -> Path:
    """A SIPp scenario shipped in tests/support/sip/sipp/ (``caller_hangup`` or ``caller_cancel``)."""
    return Path(str(resources.files("tests.support.sip") / "sipp" / f"{name}.xml"))


@dataclass(frozen=True)
class PidfCircle:
    """A caller's location as their INVITE's PIDF-LO gives it: a GML circle in WGS84."""

    lat: float
    lon: float
    radius_m: float
    confidence: int


@dataclass
class SippRun:
    """A running ``sipp`` process; :meth:`wait` returns its exit status (0: every call succeeded).

    Its screen output goes to a file (a pipe nobody reads would fill and stall SIPp); the
    folder is removed by :meth:`stop`, which every owner must call (also after :meth:`wait`).
    """

    process: subprocess.Popen[bytes]
    workdir: Path

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def output(self) -> str:
        """The end of SIPp's screen and error log: what to show when a call failed."""
        texts = [p.read_text(errors="replace")[-3000:] for p in sorted(self.workdir.glob("*.out"))]
        texts += [p.read_text(errors="replace")[-2000:] for p in sorted(self.workdir.glob("*errors.log"))]
        return "\n".join(texts)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def sipp_dial(
    number: str,
    *,
    hangup_after: float | None = None,
    cancel_after: float | None = None,
    callers: list[str] | None = None,
    calls: int = 1,
    rate_per_s: float = 10.0,
    server: SipServer | None = None,
    located: PidfCircle | None = None,
) -> SippRun:
    """Place ``calls`` calls to ``number`` (cycling through ``callers``) and return at once.

    Exactly one of ``hangup_after`` (seconds after the call is answered: BYE) or ``cancel_after``
    (seconds after the INVITE is accepted, while still unanswered: CANCEL) must be given.
    ``located``: every INVITE carries that location as a PIDF-LO (caller_located.xml; hang-up only).
    """
    if (hangup_after is None) == (cancel_after is None):
        raise ValueError("give exactly one of hangup_after or cancel_after")
    if located is not None and hangup_after is None:
        raise ValueError("a located caller waits to be answered: give hangup_after")
    if shutil.which("sipp") is None:
        raise FileNotFoundError("sipp is not installed (Debian package sip-tester)")
    server = server or SipServer.from_env()
    callers = callers or ["caller-1"]
    workdir = Path(tempfile.mkdtemp(prefix="intake-sipp-"))
    users = workdir / "callers.csv"
    where = "" if located is None else f";{located.lat!r};{located.lon!r};{located.radius_m:g};{located.confidence}"
    users.write_text("SEQUENTIAL\n" + "".join(f"{c}{where}\n" for c in callers))
    scenario = "caller_hangup" if hangup_after is not None else "caller_cancel"
    if located is not None:
        scenario = "caller_located"
    pause_ms = int(1000 * (hangup_after if hangup_after is not None else cancel_after or 0))
    argv = [
        "sipp", f"{server.host}:{server.port}",
        "-sf", str(scenario_path(scenario)),
        "-s", number,
        "-inf", str(users), "-au", SHARED_CALLER_USER, "-ap", TEST_PASSWORD,
        "-i", "127.0.0.1", "-p", str(_free_udp_port()), "-mp", str(_free_udp_port()),
        "-m", str(calls), "-l", str(calls), "-r", f"{rate_per_s:g}",
        "-d", str(pause_ms),
        "-nostdin", "-trace_err", "-timeout", f"{int(pause_ms / 1000) + 120}s",
    ]  # fmt: skip
    log.info("sipp.start", number=number, scenario=scenario, calls=calls, pause_ms=pause_ms)
    with open(workdir / "sipp.out", "wb") as screen:
        process = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=screen, stderr=subprocess.STDOUT)
    return SippRun(process, workdir)


class PyVoipCaller:
    """One registered test caller (``caller-N``) on pyVoIP; :meth:`stop` ends its threads."""

    def __init__(self, name: str = "caller-1", *, server: SipServer | None = None) -> None:
        self.name = name
        server = server or SipServer.from_env()
        sip_port, rtp_low, rtp_high = phone_ports(name)
        self._phone = pv.VoIPPhone(
            server.host, server.port, name, TEST_PASSWORD, myIP="127.0.0.1",
            sipPort=sip_port, rtpPortLow=rtp_low, rtpPortHigh=rtp_high,
        )  # fmt: skip
        self._threads: list[threading.Thread] = []

    def start(self) -> PyVoipCaller:
        self._phone.start()
        return self

    def stop(self) -> None:
        self._phone.stop()
        for t in self._threads:
            t.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def dial(self, number: str, *, hangup_after: float) -> threading.Thread:
        """Call ``number``; once answered, hang up ``hangup_after`` s later. Returns the thread
        running the call (join it); raises nothing here, failures are logged."""
        call = self._phone.call(number)
        thread = threading.Thread(target=self._run, args=(call, hangup_after), name=f"{self.name} {number}")
        thread.start()
        self._threads.append(thread)
        return thread

    def _run(self, call: pv.VoIPCall, hangup_after: float) -> None:
        deadline = time.monotonic() + 30
        while call.state == pv.CallState.DIALING and time.monotonic() < deadline:
            time.sleep(0.02)
        if call.state != pv.CallState.ANSWERED:
            log.warning("caller.not_answered", caller=self.name, state=call.state.value)
            return
        end = time.monotonic() + hangup_after
        while call.state == pv.CallState.ANSWERED and time.monotonic() < end:
            time.sleep(0.02)
        if call.state == pv.CallState.ANSWERED:
            call.hangup()
        log.info("caller.hung_up", caller=self.name)


