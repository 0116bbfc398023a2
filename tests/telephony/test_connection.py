"""The AMI connection by table: inputs (bytes from the PBX, time passing, the link lost, a resync
asked for, an action sent) in, and out what it writes, what it tells the consumer, where the link
stands and how the caller's actions end. No socket, no event loop, no sleeping: the clock is a
number the table moves. Then the recorded Asterisk streams, replayed through it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from telephony import actions
from telephony.connection import AmiConnection
from telephony.errors import LinkStepRefused
from telephony.events import CallQueued
from telephony.frames import Frame, encode_frame
from telephony.framing import FrameReader
from telephony.link import (
    TRANSITIONS,
    LinkSettings,
    LinkState,
    LinkStep,
    next_state,
)
from telephony.timing import Backoff, PbxClock
from telephony.translate import translate

from . import samples as s

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ami"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
SETTINGS = LinkSettings(ping_interval=10.0, ping_timeout=5.0, action_timeout=3.0)
C, G, L, Y, D, F = (LinkState.CLOSED, LinkState.GREETING, LinkState.LOGGING_IN, LinkState.SYNCING, LinkState.DEFERRED,
                    LinkState.FOLLOWING)


class MaxRng:
    """Jitter that always draws the ceiling: the backoff schedule exact."""

    def uniform(self, low: float, high: float) -> float:
        return high


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Waiter:
    """A caller's waiter: what the connection told it."""

    def __init__(self, name: str, outcomes: list[str]) -> None:
        self.name, self._outcomes, self._done = name, outcomes, False

    def done(self) -> bool:
        return self._done

    def set_result(self, result: actions.Response, /) -> None:
        self._done = True
        self._outcomes.append(f"{self.name}=ok")

    def set_exception(self, exception: BaseException, /) -> None:
        self._done = True
        self._outcomes.append(f"{self.name}={type(exception).__name__}")

    def exception(self) -> BaseException | None:
        return None


# --- the inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connect:
    pass


@dataclass(frozen=True)
class Peer:
    """Frames from the PBX, in one read. An ActionID ``<Name>`` stands for the ActionID of the
    last ``Name`` action the connection wrote."""

    frames: tuple[Mapping[str, str] | bytes, ...]

    def __init__(self, *frames: Mapping[str, str] | bytes) -> None:
        object.__setattr__(self, "frames", frames)


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Lost:
    reason: str = "connection closed by the PBX"


@dataclass(frozen=True)
class Resync:
    reason: str = "a reload"


@dataclass(frozen=True)
class Send:
    """A caller's action (QueueAdd), with the default timeout."""


Input = Connect | Peer | Wait | Lost | Resync | Send


@dataclass(frozen=True)
class Out:
    sent: str = ""
    """The actions written, by name, in order."""
    events: str = ""
    """The domain events for the consumer, by type, in order."""
    state: LinkState = LinkState.FOLLOWING
    answers: str = ""
    """How callers' actions ended in this step (``QueueAdd=ActionTimeout``)."""
    reason: str | None = None
    """Why the link ended, when it did."""


def answer(name: str, **fields: str) -> dict[str, str]:
    return {"Response": "Success", "ActionID": f"<{name}>", **fields}


def refusal(name: str, message: str) -> dict[str, str]:
    return {"Response": "Error", "ActionID": f"<{name}>", "Message": message}


def listing(name: str, items: list[dict[str, str]], complete: str) -> list[dict[str, str]]:
    aid = f"<{name}>"
    return [answer(name, EventList="start", Message="will follow"), *({**item, "ActionID": aid} for item in items),
            {"Event": complete, "ActionID": aid, "EventList": "Complete", "ListItems": str(len(items))}]


BOOTED = {"Event": "FullyBooted", "Privilege": "system,all", "Uptime": "10", "LastReload": "10", "Status": "Fully Booted"}
LOGIN_OK = answer("Login", Message="Authentication accepted")
UNKNOWN_QUEUE_STATUS = refusal("QueueStatus", "Invalid/unknown command: QueueStatus. Use Action: ListCommands to show available commands.")
QUEUES = Peer(*listing("QueueStatus", [s.QUEUE_PARAMS, s.QUEUE_MEMBER, s.QUEUE_ENTRY], "QueueStatusComplete"))
CHANNELS = Peer(*listing("CoreShowChannels", [s.CORE_SHOW_CHANNEL], "CoreShowChannelsComplete"))
SNAPSHOT_ASKED = Out("QueueStatus CoreShowChannels", "PbxLinkUp SnapshotStarted", Y)

GREETED: list[tuple[Input, Out]] = [
    (Connect(), Out(state=G)),
    (Peer(BANNER), Out("Login", state=L)),
]
LOGGED_IN: list[tuple[Input, Out]] = [
    *GREETED,
    (Peer(LOGIN_OK, BOOTED), SNAPSHOT_ASKED),  # the FullyBooted that greets a session: covered
    (QUEUES, Out(events="MemberSeen WaitingCallSeen", state=Y)),
    (CHANNELS, Out(events="ChannelSeen SnapshotCompleted")),
]

CASES: dict[str, list[tuple[Input, Out]]] = {
    "login, the PBX's picture, then live events": [
        *LOGGED_IN,
        (Peer(s.QUEUE_CALLER_JOIN, {"Event": "VarSet", "Variable": "X"}), Out(events="CallQueued")),
    ],
    "no banner within the action timeout ends the link": [
        (Connect(), Out(state=G)),
        (Wait(2.9), Out(state=G)),
        (Wait(0.1), Out(state=C, reason="no AMI banner from the peer")),
    ],
    "a refused login ends the link, never announced": [
        *GREETED,
        (Peer(refusal("Login", "Authentication failed")), Out(state=C, reason="login refused: Authentication failed")),
    ],
    "an unanswered login ends the link": [
        *GREETED,
        (Wait(3.0), Out(state=C)),
    ],
    "events read before the login's answer come after PbxLinkUp": [
        *GREETED,
        (Peer(s.QUEUE_CALLER_JOIN), Out(state=L)),
        (Peer(LOGIN_OK), Out("QueueStatus CoreShowChannels", "PbxLinkUp SnapshotStarted CallQueued", Y)),
    ],
    "a PBX still starting (no FullyBooted at login) defers its refused picture to its FullyBooted": [
        *GREETED,
        (Peer(LOGIN_OK), SNAPSHOT_ASKED),
        (Peer(UNKNOWN_QUEUE_STATUS), Out(state=Y)),
        (CHANNELS, Out(events="ChannelSeen", state=D)),
        (Wait(10.0), Out("Ping", state=D)),  # the link is watched meanwhile
        (Peer(answer("Ping", Ping="Pong")), Out(state=D)),
        (Peer(BOOTED), SNAPSHOT_ASKED),
        (QUEUES, Out(events="MemberSeen WaitingCallSeen", state=Y)),
        (CHANNELS, Out(events="ChannelSeen SnapshotCompleted")),
    ],
    "a FullyBooted read between the refused queues and the channels' answer: deferred, then asked at once": [
        *GREETED,
        (Peer(LOGIN_OK), SNAPSHOT_ASKED),
        (Peer(UNKNOWN_QUEUE_STATUS), Out(state=Y)),
        (Peer(BOOTED), Out(state=Y)),
        (CHANNELS, Out("QueueStatus CoreShowChannels", "ChannelSeen PbxLinkUp SnapshotStarted", Y)),
        (QUEUES, Out(events="MemberSeen WaitingCallSeen", state=Y)),
        (CHANNELS, Out(events="ChannelSeen SnapshotCompleted")),
    ],
    "a booted PBX refusing its picture loses the link, whatever the words": [
        *GREETED,
        (Peer(LOGIN_OK, BOOTED), SNAPSHOT_ASKED),
        (Peer(UNKNOWN_QUEUE_STATUS), Out(state=Y)),
        (CHANNELS, Out(events="ChannelSeen PbxLinkDown", state=C)),
    ],
    "a picture not all answered within the action timeout loses the link": [
        *GREETED,
        (Peer(LOGIN_OK, BOOTED), SNAPSHOT_ASKED),
        (QUEUES, Out(events="MemberSeen WaitingCallSeen", state=Y)),
        (Wait(3.0), Out(events="PbxLinkDown", state=C, reason="resync got no complete answer")),
    ],
    "a later FullyBooted (the PBX restarted) asks for the picture again": [
        *LOGGED_IN,
        (Peer(BOOTED), SNAPSHOT_ASKED),
    ],
    "resyncs asked before the queues' answer share the snapshot under way": [
        *LOGGED_IN,
        (Resync(), SNAPSHOT_ASKED),
        (Resync(), Out(state=Y)),
        (Peer(BOOTED), Out(state=Y)),
        (QUEUES, Out(events="MemberSeen WaitingCallSeen", state=Y)),
        (CHANNELS, Out(events="ChannelSeen SnapshotCompleted")),
    ],
    "a resync asked after the queues' answer gets a snapshot of its own, after this one": [
        *LOGGED_IN,
        (Resync(), SNAPSHOT_ASKED),
        (QUEUES, Out(events="MemberSeen WaitingCallSeen", state=Y)),
        (Resync(), Out(state=Y)),
        (Resync(), Out(state=Y)),
        (CHANNELS, Out("QueueStatus CoreShowChannels", "ChannelSeen SnapshotCompleted PbxLinkUp SnapshotStarted", Y)),
    ],
    "a Ping every interval after the last answer; none within the timeout: a half-open link": [
        *LOGGED_IN,
        (Wait(10.0), Out("Ping")),
        (Wait(1.0), Out()),
        (Peer(answer("Ping", Ping="Pong")), Out()),
        (Wait(9.9), Out()),
        (Wait(0.1), Out("Ping")),
        (Wait(5.0), Out(events="PbxLinkDown", state=C, reason="no Ping answer within 5 s (half-open link)")),
    ],
    "a caller's action: answered, refused, or timed out with the link kept": [
        *LOGGED_IN,
        (Send(), Out("QueueAdd")),
        (Peer(answer("QueueAdd", Message="Added interface to queue")), Out(answers="QueueAdd=ok")),
        (Send(), Out("QueueAdd")),
        (Peer(refusal("QueueAdd", "Unable to add interface: Already there")), Out(answers="QueueAdd=ActionFailed")),
        (Send(), Out("QueueAdd")),
        (Wait(3.0), Out(answers="QueueAdd=ActionTimeout")),
        (Peer(answer("QueueAdd")), Out()),  # too late: unsolicited, dropped
    ],
    "an action cut off by the link's loss is interrupted, and not sent again on the next link": [
        *LOGGED_IN,
        (Send(), Out("QueueAdd")),
        (Lost(), Out(events="PbxLinkDown", state=C, answers="QueueAdd=ActionInterrupted",
                     reason="connection closed by the PBX")),
        *LOGGED_IN,
    ],
    "the link lost before the login: nothing to announce": [
        *GREETED,
        (Lost("stopped"), Out(state=C, reason="stopped")),
        (Lost("twice"), Out(state=C, reason="stopped")),
    ],
}


class Link:
    """Drives one connection through a table, and says what came out of each step."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.conn = AmiConnection("intake", "s3cret", SETTINGS, backoff=Backoff(0.5, 4.0, MaxRng()),  # type: ignore[arg-type]
                                  pbx_clock=PbxClock(now=lambda: float(s.TS) + self.clock.t), clock=self.clock)
        self.ids: dict[str, str] = {}  # action name -> ActionID of the last one written
        self.outcomes: list[str] = []
        self._reader = FrameReader(expect_banner=False)

    def step(self, item: Input) -> Out:
        conn = self.conn
        if isinstance(item, Connect):
            conn.connection_made()
        elif isinstance(item, Peer):
            conn.receive_data(b"".join(self._wire(frame) for frame in item.frames))
        elif isinstance(item, Wait):
            self.clock.t += item.seconds
            conn.handle_timers()
        elif isinstance(item, Lost):
            conn.connection_lost(item.reason)
        elif isinstance(item, Resync):
            conn.resync(item.reason)
        else:
            conn.send_action(actions.queue_add("999", "PJSIP/handler-1"), Waiter("QueueAdd", self.outcomes))
        sent = self._reader.feed(conn.data_to_send())
        self.ids.update((frame["Action"], frame["ActionID"]) for frame in sent)
        answers, self.outcomes[:] = " ".join(self.outcomes), []
        return Out(" ".join(frame["Action"] for frame in sent), " ".join(type(e).__name__ for e in conn.events_received()),
                   conn.state, answers, conn.closed_reason)

    def _wire(self, frame: Mapping[str, str] | bytes) -> bytes:
        if isinstance(frame, bytes):
            return frame
        aid = frame.get("ActionID", "")
        if aid.startswith("<"):
            frame = {**frame, "ActionID": self.ids[aid.strip("<>")]}
        return encode_frame(frame)


@pytest.mark.parametrize("steps", CASES.values(), ids=CASES.keys())
def test_the_connection_by_table(steps: list[tuple[Input, Out]]) -> None:
    link = Link()
    for n, (item, expected) in enumerate(steps):
        out = link.step(item)
        if expected.reason is None:
            out = Out(out.sent, out.events, out.state, out.answers, None)
        assert out == expected, f"step {n}: {item}"
    if link.conn.closed:  # nothing outlives a link
        assert link.conn.pending_actions == 0 and link.conn.next_deadline() is None


def test_an_unanswered_login_ends_the_link_with_the_timeout_for_reason() -> None:
    link = Link()
    for item, _ in GREETED:
        link.step(item)
    out = link.step(Wait(3.0))
    assert out.reason is not None and out.reason.startswith("ActionTimeout: AMI action Login")
    assert link.conn.counters.actions_timed_out == 1


def test_a_frame_cut_inside_a_utf8_character_arrives_whole() -> None:
    link = Link()
    for item, _ in LOGGED_IN:
        link.step(item)
    wire = encode_frame(s.QUEUE_CALLER_JOIN)
    cut = wire.index("ë".encode()) + 1
    assert link.step(Peer(wire[:cut])) == Out()
    link.conn.receive_data(wire[cut:])
    (queued,) = link.conn.events_received()
    assert isinstance(queued, CallQueued) and queued.caller_name == "Zoë Ångström"


def test_the_next_deadline_is_the_earliest_of_banner_ping_and_actions() -> None:
    link = Link()
    assert link.conn.next_deadline() is None
    link.step(Connect())
    assert link.conn.next_deadline() == 1003.0  # the banner
    for item, _ in LOGGED_IN[1:]:
        link.step(item)
    assert link.conn.next_deadline() == 1010.0  # the first Ping
    link.step(Send())
    assert link.conn.next_deadline() == 1003.0  # the QueueAdd's answer
    link.step(Lost())
    assert link.conn.next_deadline() is None


def test_reconnecting_backs_off_ever_more_slowly_up_to_the_cap_and_a_login_resets_it() -> None:
    link = Link()
    delays = []
    for _ in range(5):
        for item, _ in GREETED:
            link.step(item)
        link.step(Peer(refusal("Login", "Authentication failed")))
        delays.append(link.conn.reconnect_delay())
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0]
    for item, _ in LOGGED_IN:
        link.step(item)
    link.step(Lost())
    assert link.conn.reconnect_delay() == 0.5
    assert link.conn.counters.reconnects == 6


def test_a_step_the_table_has_no_entry_for_is_refused_naming_the_state_and_the_step() -> None:
    with pytest.raises(LinkStepRefused) as refused:
        next_state(LinkState.CLOSED, LinkStep.BANNER)
    assert (refused.value.state, refused.value.step) == ("closed", "banner read")
    reachable = {LinkState.CLOSED} | set(TRANSITIONS.values())
    assert reachable == set(LinkState)


# --- the recorded Asterisk streams ---------------------------------------------------------------

RECORDINGS = sorted(FIXTURES.glob("*.ami"))


def recorded_lists(frames: list[Frame]) -> dict[str, str]:
    """The recording's own ActionIDs of its QueueStatus and CoreShowChannels, if it made them."""
    ends = {"QueueStatusComplete": "QueueStatus", "CoreShowChannelsComplete": "CoreShowChannels"}
    return {frame["ActionID"]: ends[frame["Event"]] for frame in frames if frame.get("Event") in ends}


def expected_names(frames: list[Frame], lists: dict[str, str]) -> list[str]:
    """What the consumer must see: PbxLinkUp and SnapshotStarted, then every event translated in
    stream order (list items included), SnapshotCompleted where both lists are complete."""
    names, open_lists = ["PbxLinkUp", "SnapshotStarted"], set(lists.values())
    for frame in frames:
        if "Response" in frame and "Event" not in frame or frame.get("Event") == "FullyBooted":
            continue
        if frame.get("Event") in ("QueueStatusComplete", "CoreShowChannelsComplete"):
            open_lists.discard(lists[frame["ActionID"]])
            if not open_lists:
                names.append("SnapshotCompleted")
            continue
        event = translate(frame, 0.0)
        if event is not None:
            names.append(type(event).__name__)
    return names


@pytest.mark.parametrize("chunk", [1, 7, 1500, 1 << 20])
@pytest.mark.parametrize("recording", RECORDINGS, ids=[r.stem for r in RECORDINGS])
def test_a_recorded_stream_through_the_connection_gives_the_consumer_every_event_in_order(recording: Path, chunk: int) -> None:
    data = recording.read_bytes()
    frames = FrameReader().feed(data)
    lists = recorded_lists(frames)
    link = Link()
    link.step(Connect())
    banner_end = data.index(b"\n") + 1
    login_end = data.index(b"\r\n\r\n", banner_end) + 4
    assert link.step(Peer(data[:banner_end])).sent == "Login"
    # The recording's ActionIDs become ours: rec-1 was its login, its lists (if any) answer ours.
    login = data[banner_end:login_end].replace(b"ActionID: rec-1\r\n", f"ActionID: {link.ids['Login']}\r\n".encode())
    assert link.step(Peer(login)) == Out("QueueStatus CoreShowChannels", "PbxLinkUp SnapshotStarted", LinkState.SYNCING)
    stream = data[login_end:]
    for recorded, ours in lists.items():
        stream = stream.replace(f"ActionID: {recorded}\r\n".encode(), f"ActionID: {link.ids[ours]}\r\n".encode())
    names, sent = ["PbxLinkUp", "SnapshotStarted"], []
    for start in range(0, len(stream), chunk):
        out = link.step(Peer(stream[start:start + chunk]))
        names += out.events.split()
        sent += out.sent.split()
    assert sent == []
    assert names == expected_names(frames, lists)
    assert link.conn.state is (LinkState.FOLLOWING if lists else LinkState.SYNCING)
    assert link.conn.counters.malformed_frames == 0 and link.conn.counters.oversized_frames == 0

