"""What intake needs from the PBX and does not find: checked over a read-only AMI login.

Two halves. :func:`findings` is pure: it takes what the PBX answered (:class:`PbxAnswers`) and the
configuration, and says, one :class:`Finding` each, what to fix and where. :func:`probe` is the
I/O: one short AMI session of its own that sends only actions that change nothing (Login,
ListCommands, QueueStatus, Logoff) and watches the events that come meanwhile.
``intake check-config --pbx`` prints the findings and fails when something needed is missing;
``intake serve`` runs the same after its first login and logs them as warnings.

What can be checked, and how (Asterisk 22, main/manager.c, apps/app_queue.c):
- write classes: ``ListCommands`` lists exactly the actions this AMI user may run;
- read class ``system``: Asterisk greets a login with FullyBooted only when the user reads it;
- read classes ``agent`` and ``call``, and ``timestampevents``: only from events that happen to
  arrive during the check (their ``Privilege``, their ``Timestamp``; the login's FullyBooted never
  carries one). A quiet PBX sends none: then they are reported as not verified, not as missing;
- static members and unknown queues: ``QueueStatus`` (QueueParams per queue, QueueMember with
  ``Membership``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import structlog

from intake.core.config import IntakeConfig
from telephony import actions
from telephony.actions import Action, Response
from telephony.errors import ActionError, ActionFailed, ActionTimeout, LoginFailed
from telephony.frames import Frame
from telephony.framing import FrameReader
from telephony.pending import PendingActions

log = structlog.get_logger("intake.pbx_check")

MANAGER_CONF = "manager.conf"

# Action -> (the write class Asterisk requires for it, what intake does with it).
NEEDED_ACTIONS: dict[str, tuple[str, str]] = {
    "QueueStatus": ("", "reads the queues' picture after every login and reload"),
    "CoreShowChannels": ("reporting", "reads the calls in progress after every login"),
    "QueueAdd": ("agent", "puts handlers in their queues (ready, overflow)"),
    "QueueRemove": ("agent", "logs handlers out"),
    "QueuePause": ("agent", "not ready, wrap-up, ring-outs"),
    "Originate": ("originate", "calls back abandoned 999 callers"),
}
# Read class -> the events of it intake lives on.
NEEDED_READ = {
    "system": "FullyBooted, Reload: resync after a PBX restart or a queue reload",
    "agent": "QueueCallerJoin, AgentCalled, AgentConnect, QueueMember*: every queue call and handler",
    "call": "Newchannel, Hangup, OriginateResponse: a call's arrival and end, call-back results",
}


class Severity(Enum):
    PROBLEM = "PROBLEM"  # intake needs it and it is not there: check-config exits non-zero
    UNVERIFIED = "NOT VERIFIED"  # nothing seen either way during the check
    OK = "OK"


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    what: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.severity.value}: {self.what}" + (f" -> {self.fix}" if self.fix else "")


@dataclass(frozen=True, slots=True)
class PbxAnswers:
    """What the PBX answered a read-only probe."""

    username: str
    permitted: frozenset[str] | None
    """Action names ListCommands listed (the ones this user may run); None if it was refused."""
    queue_status: tuple[Frame, ...]
    """QueueStatus's list items (QueueParams, QueueMember, QueueEntry)."""
    fully_booted: bool
    """The login was greeted with FullyBooted (the user reads ``system``, the PBX is up)."""
    events: tuple[Frame, ...] = ()
    """Events that arrived meanwhile (not answers to our actions)."""


def findings(config: IntakeConfig, answers: PbxAnswers) -> list[Finding]:
    """Every check, problems first; pure."""
    out = [*_write_classes(answers), *_read_classes(answers), _timestamps(answers), *_queues(config, answers)]
    order = {Severity.PROBLEM: 0, Severity.UNVERIFIED: 1, Severity.OK: 2}
    return sorted(out, key=lambda f: order[f.severity])


def failed(found: Iterable[Finding]) -> bool:
    return any(f.severity is Severity.PROBLEM for f in found)


def _write_classes(a: PbxAnswers) -> list[Finding]:
    if a.permitted is None:
        return [Finding(Severity.UNVERIFIED, "the PBX refused ListCommands: the actions this AMI user may run are unknown",
                        f"make sure 'write =' of [{a.username}] in {MANAGER_CONF} has agent, originate, reporting")]
    missing = [name for name in NEEDED_ACTIONS if name not in a.permitted]
    if not missing:
        return [Finding(Severity.OK, f"AMI user '{a.username}' may run {', '.join(NEEDED_ACTIONS)}")]
    out = []
    for name in missing:
        klass, why = NEEDED_ACTIONS[name]
        fix = (f"add '{klass}' to 'write =' of [{a.username}] in {MANAGER_CONF}" if klass
               else f"load app_queue on the PBX ({name} is one of its actions)")
        out.append(Finding(Severity.PROBLEM, f"AMI user '{a.username}' may not run {name} (intake {why})", fix))
    return out


def _read_classes(a: PbxAnswers) -> list[Finding]:
    seen = {klass.strip() for e in a.events for klass in e.get("Privilege", "").split(",")}
    if a.fully_booted:
        seen.add("system")
    out = []
    for klass, why in NEEDED_READ.items():
        if klass in seen:
            out.append(Finding(Severity.OK, f"AMI user '{a.username}' reads '{klass}' events"))
        elif klass == "system":
            out.append(Finding(Severity.PROBLEM, f"AMI user '{a.username}' got no FullyBooted at login: it does not read "
                                                 f"'system' events ({why}), or the PBX is still starting",
                               f"add 'system' to 'read =' of [{a.username}] in {MANAGER_CONF}"))
        else:
            out.append(Finding(Severity.UNVERIFIED, f"read class '{klass}' ({why}): no such event came during the check",
                               f"make sure 'read =' of [{a.username}] in {MANAGER_CONF} has '{klass}'"))
    return out


def _timestamps(a: PbxAnswers) -> Finding:
    if not a.events:
        return Finding(Severity.UNVERIFIED, "timestampevents: no PBX event came during the check to show a Timestamp",
                       f"make sure [general] in {MANAGER_CONF} has 'timestampevents = yes'")
    if all("Timestamp" in e for e in a.events):
        return Finding(Severity.OK, "events carry the PBX's Timestamp (timestampevents = yes)")
    names = sorted({e.get("Event", "?") for e in a.events if "Timestamp" not in e})
    return Finding(Severity.PROBLEM, f"events without a Timestamp ({', '.join(names)}): timestampevents is off, and "
                                     "intake would time calls by when frames reach it, not by the PBX's clock",
                   f"set 'timestampevents = yes' in [general] of {MANAGER_CONF}, then 'manager reload'")


def _queues(config: IntakeConfig, a: PbxAnswers) -> list[Finding]:
    known = {f["Queue"] for f in a.queue_status if f.get("Event") == "QueueParams" and "Queue" in f}
    managed = {q: line.name for line in config.lines for q in line.queues}
    out = []
    for queue, line in sorted(managed.items()):
        if queue not in known:
            out.append(Finding(Severity.PROBLEM, f"queue '{queue}' (line {line} in the configuration) is unknown to the PBX",
                               f"define [{queue}] in queues.conf and 'module reload app_queue.so', or fix lines.queues"))
    for f in a.queue_status:
        if f.get("Event") != "QueueMember" or f.get("Queue") not in managed:
            continue
        membership = f.get("Membership", "dynamic")
        if membership != "dynamic":
            member, queue = f.get("Location", "?"), f["Queue"]
            out.append(Finding(Severity.PROBLEM,
                               f"{membership} member {member} in managed queue '{queue}': intake cannot log it out, and "
                               f"a PBX restart or reload makes it ready there (even on a break)",
                               f"remove 'member => {member}' from [{queue}] in queues.conf (intake adds handlers itself)"))
    if not out:
        out.append(Finding(Severity.OK, f"queues {', '.join(sorted(managed))} known to the PBX, no static member in them"))
    return out


# --- the probe: one short read-only AMI session ------------------------------------------------


async def probe(host: str, port: int, username: str, secret: str, *, timeout: float = 5.0,
                event_wait: float = 2.0) -> PbxAnswers:
    """Log in, ask, watch events for ``event_wait`` seconds (or until one of each kind we look
    for came), log off. Raises OSError/TimeoutError if the PBX cannot be reached, LoginFailed if
    the login is refused, ActionError if an answer does not come."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
    framer, pending = FrameReader(), PendingActions()
    events: list[Frame] = []
    arrived = asyncio.Event()

    async def read() -> None:
        while data := await reader.read(65536):
            for frame in framer.feed(data):
                if not pending.answer(frame) and "Event" in frame:
                    events.append(frame)
                    arrived.set()
        pending.fail_all("connection closed by the PBX")

    async def ask(action: Action) -> Response:
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        pending.add(action, future)
        writer.write(action.encode())
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise ActionTimeout(action.name, action.action_id, timeout) from None

    reading = asyncio.create_task(read())
    try:
        try:
            await ask(actions.login(username, secret))
        except ActionFailed as refused:
            raise LoginFailed(username, refused.message) from None
        try:
            listed: Response | None = await ask(Action("ListCommands"))
        except ActionFailed:
            listed = None  # not every AMI peer has it (intake's PBX simulator)
        status = await ask(actions.queue_status())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(event_wait):
                while not _enough(events):
                    arrived.clear()
                    await arrived.wait()
        with contextlib.suppress(ActionError, TimeoutError):
            await ask(actions.logoff())
    finally:
        reading.cancel()
        writer.transport.abort()
        await asyncio.gather(reading, return_exceptions=True)
    live = tuple(e for e in events if e.get("Event") != "FullyBooted")
    permitted = None if listed is None else frozenset(k for k in listed.frame if k not in ("Response", "ActionID"))
    return PbxAnswers(username=username, permitted=permitted,
                      queue_status=status.events, fully_booted=any(e.get("Event") == "FullyBooted" for e in events),
                      events=live)


def _enough(events: list[Frame]) -> bool:
    """One live event of each read class we can only verify by seeing one."""
    classes = {k.strip() for e in events if e.get("Event") != "FullyBooted" for k in e.get("Privilege", "").split(",")}
    return {"agent", "call"} <= classes


def report(found: list[Finding]) -> str:
    return "\n".join(str(f) for f in found)


async def check_at_startup(config: IntakeConfig, secret: str, *, event_wait: float = 2.0) -> list[Finding]:
    """The same checks for ``intake serve``, after its first login: logged (problems as
    warnings), never stopping the server."""
    ami = config.ami
    try:
        answers = await probe(ami.host, ami.port, ami.username, secret, timeout=ami.action_timeout, event_wait=event_wait)
    except (LoginFailed, OSError, TimeoutError, ActionError) as exc:
        log.warning("pbx_check_not_done", error=str(exc))
        return []
    found = findings(config, answers)
    for f in found:
        (log.warning if f.severity is Severity.PROBLEM else log.info)("pbx_check", severity=f.severity.value, what=f.what,
                                                                      fix=f.fix)
    return found
