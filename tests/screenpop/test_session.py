"""A desktop session over an in-memory transport: auth, delivery, hostile messages, close codes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import structlog
from structlog.testing import capture_logs

from screenpop.auth import TokenBook
from screenpop.delivery import DesktopHub, HubConfig
from screenpop.models import Outcome
from screenpop.pop import CallSnapshot, compose_pop
from screenpop.session import CloseCode, DesktopSession, SessionConfig
from screenpop.signin import Credentials
from tests.screenpop.doubles import MemoryDesktop, Outcomes

TOKENS = TokenBook({"tok-ana-7f3a": "ana", "tok-bo-91c2": "bo"})
CLOCK = 1_790_000_900.0
FAST = SessionConfig(heartbeat_seconds=60, send_timeout_seconds=60)


@dataclass
class Running:
    desktop: MemoryDesktop
    task: asyncio.Task[CloseCode]

    async def ended(self, timeout: float = 1.0) -> CloseCode:
        return await asyncio.wait_for(self.task, timeout)


@pytest.fixture
def hub() -> DesktopHub:
    return DesktopHub(HubConfig(outbox_size=8))


@pytest.fixture
def outcomes() -> Outcomes:
    return Outcomes()


@pytest.fixture
async def connect(hub: DesktopHub, outcomes: Outcomes) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    running: list[Running] = []

    async def start(token: str | None = "tok-ana-7f3a", last_seq: str | None = None,
                    config: SessionConfig = FAST, on_outcome: object = None) -> Running:
        desktop = MemoryDesktop()
        if token is not None:
            desktop.say({"type": "auth", "token": token})  # the first message signs the desktop in
        session = DesktopSession(desktop, hub, TOKENS.authenticate, on_outcome or outcomes, config, clock=lambda: CLOCK)  # type: ignore[arg-type]
        query = {} if last_seq is None else {"last_seq": last_seq}
        run = Running(desktop, asyncio.create_task(session.run(Credentials(), query)))
        running.append(run)
        await asyncio.sleep(0)  # let it attach
        return run

    yield start
    for run in running:
        run.task.cancel()
    await asyncio.gather(*(run.task for run in running), return_exceptions=True)


def _pop(call_id: str) -> object:
    return compose_pop(CallSnapshot(call_id, "999", "999-north", "+447700900123", "J SMITH", 1.0, 2.0), None)


def _outcome(**over: object) -> dict[str, object]:
    return {"type": "outcome", "call_id": "c1", "grading": "priority",
            "thrive": {"harm": "cut to hand"}, "notes": "ambulance requested"} | over


async def test_a_bad_token_is_closed_with_4401_and_never_logged(connect: Callable[..., Awaitable[Running]], hub: DesktopHub) -> None:
    with capture_logs() as logs:
        run = await connect(token="tok-guess-0000")
        assert await run.ended() == CloseCode.BAD_TOKEN
    assert run.desktop.closed is not None and run.desktop.closed[0] == 4401
    assert "tok-guess" not in repr(logs) and hub.sockets("ana") == 0


async def test_a_desktop_that_does_not_sign_in_in_time_is_a_bad_token(connect: Callable[..., Awaitable[Running]]) -> None:
    run = await connect(token=None, config=SessionConfig(auth_timeout_seconds=0.05))
    assert await run.ended() == CloseCode.BAD_TOKEN
    assert run.desktop.closed == (4401, "no session cookie and no auth message within 0.05 s")


async def test_a_malformed_last_seq_is_a_bad_request(connect: Callable[..., Awaitable[Running]]) -> None:
    assert await (await connect(last_seq="-1")).ended() == CloseCode.BAD_REQUEST


async def test_a_fresh_desktop_gets_a_snapshot_then_its_handlers_pops(connect: Callable[..., Awaitable[Running]], hub: DesktopHub) -> None:
    ana, bo = await connect(), await connect(token="tok-bo-91c2")
    assert (await ana.desktop.next())["type"] == "snapshot"
    assert (await bo.desktop.next())["type"] == "snapshot"
    hub.publish("ana", _pop("c1"), active=True)  # type: ignore[arg-type]
    assert (await ana.desktop.next())["call_id"] == "c1"
    await asyncio.sleep(0.01)
    assert bo.desktop.received() == []


async def test_an_outcome_is_filed_as_the_sessions_handler_at_the_servers_time(
    connect: Callable[..., Awaitable[Running]], outcomes: Outcomes
) -> None:
    run = await connect(last_seq="0")
    run.desktop.say(_outcome())
    assert await run.desktop.next() == {"type": "outcome.saved", "call_id": "c1"}
    ((handler_id, outcome),) = outcomes.saved
    assert (handler_id, outcome.handler_id, outcome.at, outcome.thrive.harm) == ("ana", "ana", CLOCK, "cut to hand")


@pytest.mark.parametrize(
    ("message", "code", "says"),
    [
        (json.dumps(_outcome(notes="x" * 20_000)), "too-large", "exceeds the 16384-byte limit"),
        ("{'type': 'outcome'", "not-json", "not JSON"),
        (b"\x00".decode() + "<xml/>", "not-json", "not JSON"),
        (json.dumps({"type": "delete", "call_id": "c1"}), "unknown-type", "'delete' is not one of"),
        (json.dumps(_outcome(grading=1, handler_id="bo")), "invalid", "grading: 1 is not one of"),
        (json.dumps(_outcome(notes=["a"])), "invalid", "notes: Input should be a valid string"),
        (json.dumps(_outcome(call_id="c9")), "unknown-call", "no call 'c9' is known"),
        (json.dumps(_outcome(call_id="c2")), "not-your-call", "was not answered by handler 'ana'"),
    ],
    ids=["oversized", "not-json", "garbage", "unknown-type", "wrong-types", "wrong-nesting", "unknown-call", "another-handlers-call"],
)
async def test_a_hostile_message_gets_a_clear_error_and_nothing_is_stored(
    connect: Callable[..., Awaitable[Running]], outcomes: Outcomes, message: str, code: str, says: str
) -> None:
    run = await connect(last_seq="0")
    run.desktop.say(message)
    reply = await run.desktop.next()
    assert (reply["type"], reply["code"]) == ("error", code)
    assert says in reply["message"]
    assert outcomes.saved == []
    run.desktop.say(_outcome())  # and the socket is still open
    assert (await run.desktop.next())["type"] == "outcome.saved"


async def test_a_refused_outcome_names_its_call_so_the_desktop_shows_it_at_the_form(
    connect: Callable[..., Awaitable[Running]], outcomes: Outcomes
) -> None:
    run = await connect(last_seq="0")
    run.desktop.say(json.dumps(_outcome(notes="x" * 4001)))
    reply = await run.desktop.next()
    assert (reply["type"], reply["code"], reply["call_id"]) == ("error", "invalid", "c1")
    assert "notes: longer than 4000 characters" in reply["message"]
    assert outcomes.saved == []


async def test_a_field_error_lists_every_problem(connect: Callable[..., Awaitable[Running]]) -> None:
    run = await connect(last_seq="0")
    run.desktop.say(_outcome(grading="urgent", thrive={"harm": "x" * 501}, at=0))
    reply = await run.desktop.next()
    assert sorted(reply["problems"]) == ["at: unknown field", "grading: 'urgent' is not one of 'emergency', 'priority', 'scheduled' or 'resolved'",
                                         "thrive.harm: longer than 500 characters"]


async def test_storage_failing_is_reported_and_the_socket_stays_open(connect: Callable[..., Awaitable[Running]]) -> None:
    async def broken(handler_id: str, outcome: Outcome) -> None:
        raise ConnectionError("redis is down")

    run = await connect(last_seq="0", on_outcome=broken)
    run.desktop.say(_outcome())
    assert (await run.desktop.next())["code"] == "not-saved"
    run.desktop.say({"type": "ack", "seq": 0})
    assert not run.task.done()


async def test_a_desktop_that_keeps_sending_garbage_is_closed_with_4400(connect: Callable[..., Awaitable[Running]]) -> None:
    run = await connect(last_seq="0", config=SessionConfig(max_bad_messages=3))
    for _ in range(3):
        run.desktop.say("nonsense")
    assert await run.ended() == CloseCode.BAD_REQUEST


async def test_a_stalled_desktop_is_dropped_with_4408_and_its_twin_still_receives_promptly(
    connect: Callable[..., Awaitable[Running]], hub: DesktopHub
) -> None:
    stalled, reading = await connect(last_seq="0"), await connect(last_seq="0")
    stalled.desktop.stalled = True
    for i in range(12):
        hub.publish("ana", _pop(f"c{i}"), active=True)  # type: ignore[arg-type]
        assert (await reading.desktop.next(timeout=0.2))["seq"] == i + 1
    assert await stalled.ended() == CloseCode.TOO_SLOW
    assert stalled.desktop.closed is not None and "too slow" in stalled.desktop.closed[1]
    assert hub.sockets("ana") == 1


async def test_a_send_that_never_completes_is_too_slow(connect: Callable[..., Awaitable[Running]], hub: DesktopHub) -> None:
    run = await connect(last_seq="0", config=SessionConfig(send_timeout_seconds=0.05))
    run.desktop.stalled = True
    hub.publish("ana", _pop("c1"), active=True)  # type: ignore[arg-type]
    assert await run.ended() == CloseCode.TOO_SLOW


async def test_the_heartbeat_pings_and_a_silent_desktop_is_dropped(connect: Callable[..., Awaitable[Running]]) -> None:
    run = await connect(last_seq="0", config=SessionConfig(heartbeat_seconds=0.02, silence_seconds=0.1))
    assert (await run.desktop.next()) == {"type": "ping", "at": CLOCK}
    run.desktop.say({"type": "pong"})
    assert await run.ended() == CloseCode.TOO_SLOW


async def test_a_desktop_that_leaves_is_detached_without_a_close_frame(connect: Callable[..., Awaitable[Running]], hub: DesktopHub) -> None:
    run = await connect(last_seq="0")
    run.desktop.leave()
    assert await run.ended() == CloseCode.NORMAL
    assert run.desktop.closed is None and hub.sockets("ana") == 0


async def test_shutting_the_hub_tells_desktops_to_go_away(connect: Callable[..., Awaitable[Running]], hub: DesktopHub) -> None:
    run = await connect(last_seq="0")
    hub.close()
    assert await run.ended() == CloseCode.GOING_AWAY


async def test_a_bug_in_the_session_closes_with_1011(connect: Callable[..., Awaitable[Running]]) -> None:
    run = await connect(last_seq="0")
    run.desktop.receive_text = _explode  # type: ignore[method-assign]
    run.desktop.say("{}")  # wake the old receive; the next one explodes
    with capture_logs():
        assert await run.ended() == CloseCode.INTERNAL_ERROR


async def _explode() -> str:
    raise ValueError("bug")


async def test_every_log_line_of_a_session_carries_the_handler_and_the_outcome_its_call(
    connect: Callable[..., Awaitable[Running]]
) -> None:
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        run = await connect(last_seq="0")
        run.desktop.say(_outcome())
        await run.desktop.next()
    connected = next(e for e in logs if e["event"] == "desktop connected")
    saved = next(e for e in logs if e["event"] == "outcome saved")
    assert connected["handler_id"] == "ana"
    assert (saved["handler_id"], saved["call_id"]) == ("ana", "c1")
    assert "tok-ana-7f3a" not in repr(logs)
