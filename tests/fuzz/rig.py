"""The whole server path without sockets: bytes -> the AMI session's reader -> dispatch ->
translate -> registry -> notices -> every consumer of the server (pops, desks, journal, figures).

An :class:`~intake.app.server.IntakeServer` on the embedded store, whose AMI session is fed bytes
directly (``_on_data``, what its read loop calls with each read). The actions the server sends go
to a :class:`Responder` that answers them as the PBX simulator does, from the simulator's own
state, so a resync snapshot is the PBX's truth and a QueuePause pauses the simulated member. The
engine's timers (settle, policy, wallboard) are run by the test at its own moments.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import fakeredis
from prometheus_client import generate_latest

from intake.app.server import IntakeServer
from intake.core.calls import CallState
from intake.core.config import parse
from intake.core.engine import Notices
from intake.core.registry import Finished
from telephony.frames import TERMINATOR, encode_frame, parse_frame
from telephony.link import LinkState
from telephony.simulator import actions as sim_actions
from telephony.simulator.config import DEMO_HANDLERS
from telephony.simulator.pbx import Pbx

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
LISTS = ("queuestatus", "coreshowchannels")
CHANGES = ("queueadd", "queueremove", "queuepause", "queuepenalty", "originate", "redirect", "hangup")
HANDLER_IDS = tuple(h.name for h in DEMO_HANDLERS)
# The session's own actions, which the simulator's AMI server (not its action handlers) answers.
SESSION: dict[str, Callable[[str], bytes]] = {
    "login": lambda aid: encode_frame({"Response": "Success", "ActionID": aid, "Message": "Authentication accepted"})
    + encode_frame({"Event": "FullyBooted", "Privilege": "system,all", "Uptime": "10", "LastReload": "10",
                    "Status": "Fully Booted"}),
    "ping": lambda aid: encode_frame({"Response": "Success", "ActionID": aid, "Ping": "Pong"}),
}


def fuzz_config() -> tuple[Any, dict[str, str]]:
    handlers = [{"id": h.name, "name": h.name.upper(), "member": h.interface, "queues": list(h.queues),
                 "token": f"env:TOKEN_{i}"} for i, h in enumerate(DEMO_HANDLERS)]
    config = parse({
        "ami": {"secret": "env:UNUSED"},
        # Wrap-up's end is a wall-clock timer: an hour, so that it never fires during an example
        # on a slow machine (the examples are deterministic; the pause itself is still sent).
        "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"], "wrapup_seconds": 3600},
                  {"name": "101", "target_seconds": 60, "queues": ["non-emergency"], "wrapup_seconds": 3600}],
        "handlers": handlers,
        "supervisors": [{"id": "s1", "name": "S", "token": "env:TOKEN_S"}],
    })
    secrets = {"ami.secret": "x", "supervisors[0].token": "s" * 16,
               **{f"handlers[{i}].token": f"token-of-handler-{i}" for i in range(len(handlers))}}
    return config, secrets


class Responder:
    """The PBX end of the session's socket: each action written is answered, on a later pass of
    the loop, as the simulator answers it; replies to a connection that has since dropped are lost."""

    def __init__(self, pbx: Pbx, feed: Any) -> None:
        self.pbx = pbx
        self._feed = feed
        self.connection = 0
        self.in_flight = 0
        self.actions: Counter[str] = Counter()
        self.transport = self  # the session aborts writer.transport at teardown
        # Set by the test: live events (bytes) to send just before (True) or just after the next
        # snapshot list; and a chance to refuse an action that changes the PBX. Never inside a
        # list: Asterisk's session thread writes a list action's whole answer before it sends the
        # session the events queued meanwhile (manager.c: process_events between actions).
        self.during: tuple[bool, Callable[[], bytes]] | None = None
        self.refuse: Callable[[], bool] = lambda: False

    def write(self, data: bytes) -> None:
        connection = self.connection
        for block in data.split(TERMINATOR):
            if block:
                action = sim_actions.Action.of(parse_frame(block))
                self.actions[action.name] += 1
                self.in_flight += 1
                asyncio.get_running_loop().call_soon(self._answer, connection, action)

    def _answer(self, connection: int, action: sim_actions.Action) -> None:
        self.in_flight -= 1
        if connection != self.connection:
            return
        if action.name in SESSION:
            self._feed(SESSION[action.name](action["ActionID"]))
            return
        if action.name in CHANGES and self.refuse():
            self._feed(encode_frame(sim_actions.response(action, False, "Refused by the fuzz")))
            return
        during, live_after = None, b""
        if self.during is not None and action.name in LISTS:
            (before, during), self.during = self.during, None
            if before:
                self._feed(during())
        reply = sim_actions.handle(self.pbx, action)
        if during is not None and not before:
            live_after = during()
        self._feed(b"".join(encode_frame(fields) for fields in reply.frames) + live_after)
        if reply.after is not None:
            reply.after()

    def abort(self) -> None:
        self.connection += 1

    async def wait_closed(self) -> None:
        return None


class Rig:
    def __init__(self, pbx: Pbx) -> None:
        config, secrets = fuzz_config()
        self.config = config
        self.redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
        self.server = IntakeServer(config, secrets, self.redis)
        self.session = self.server.session
        self.registry = self.server.registry
        self.responder = Responder(pbx, self.feed)
        # call id -> Finished notices of calls in the figures. Not those a resync found already
        # answered (counted=False): after a lost AgentConnect a call settles as left, and the
        # next snapshot shows it talking: it is followed again, to its end, in no figure.
        self.finished: Counter[str] = Counter()
        self.outboxes = {h: self.server.hub.attach(h, 0) for h in HANDLER_IDS}
        self.messages: list[dict[str, Any]] = []
        self.server.engine.subscribe(Notices("fuzz", self, "count_finished"))

    def count_finished(self, notices: list[Any]) -> None:
        for n in notices:
            if isinstance(n, Finished) and n.call.counted:
                self.finished[n.call.call_id] += 1

    # --- the link ------------------------------------------------------------------------------

    async def connect(self) -> None:
        """A new connection: the banner, the login (answered by the responder as Asterisk does,
        FullyBooted after it), and the snapshot the session takes after every login, answered."""
        s = self.session
        s._writer = self.responder  # type: ignore[assignment]
        s._connection.connection_made()
        s._on_data(BANNER)
        for _ in range(200):
            if s._connection.state is LinkState.FOLLOWING:
                return
            await asyncio.sleep(0)
        raise AssertionError(f"no snapshot completed after the login: {s._connection.state}")

    async def drop(self) -> None:
        """The link drops: the session's teardown, as its read loop ending would run it."""
        self.session._teardown("fuzz: link dropped")

    def feed(self, data: bytes) -> None:
        self.session._on_data(data)

    # --- the ticker's work ---------------------------------------------------------------------

    async def settle(self) -> None:
        """Let everything the events started finish: actions answered, pops out, records written."""
        for _ in range(200):
            await asyncio.sleep(0)
            if self.responder.in_flight == 0 and not self.session.pending_actions and not self.busy():
                break
        await self.server.pops.drain()
        await asyncio.wait_for(self.server.writes.flush(), 5)
        self.read_desktops()

    def busy(self) -> bool:
        s = self.server
        return bool(s.pops._tasks or s._background or s.ring_outs.background.busy or s.steering.executor.busy)

    def tick(self, now: float) -> None:
        """What the server's ticker does once: settle calls past the grace, run the policy, publish."""
        self.server.execute(self.server.engine.settle(now))
        self.server.engine.evaluate()
        self.server.supervisors.publish()

    def read_desktops(self) -> None:
        for outbox in self.outboxes.values():
            while outbox.waiting:
                self.messages.append(json.loads(outbox._queue.get_nowait()))

    async def close(self) -> None:
        await self.server.close()
        await self.redis.aclose()

    # --- what must hold ------------------------------------------------------------------------

    def render(self) -> None:
        """Every view a person reads renders (the wallboard, /api/queues, /api/calls, each desktop's
        /api/me, /metrics), as strict JSON (no NaN: browsers refuse it)."""
        json.dumps(self.server.picture(), allow_nan=False)
        json.dumps(self.server.queue_report(), allow_nan=False)
        json.dumps(self.server.live_calls(), allow_nan=False)
        json.dumps([self.server.handler_me(h.id) for h in self.config.handlers], allow_nan=False)
        generate_latest(self.server.prometheus)

    def check_figures(self) -> None:
        """Per queue and per line: offered = answered + abandoned + left + in progress."""
        report = self.registry.report()
        in_progress: Counter[str] = Counter()
        for call in self.registry.calls.values():
            if call.counted and call.state in (CallState.QUEUED, CallState.RINGING, CallState.LEAVING):
                in_progress[call.queue] += 1
                in_progress["line " + call.line] += 1
        for name, q in report["queues"].items():
            assert q["offered"] == q["answered"] + q["abandoned"] + q["left_other"] + in_progress[name], (name, q, in_progress)
        for name, q in report["lines"].items():
            key = "line " + name
            assert q["offered"] == q["answered"] + q["abandoned"] + q["left_other"] + in_progress[key], (name, q, in_progress)

    async def journal(self) -> Counter[str]:
        """Call id -> records in the call journal."""
        counts: Counter[str] = Counter()
        for key in await self.redis.keys("intake:journal:*"):
            for raw in await self.redis.zrange(key, 0, -1):
                counts[json.loads(raw)["call_id"]] += 1
        return counts
