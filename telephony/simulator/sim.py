"""The simulated PBX as one object: state machine, AMI server, traffic, and a clock that can run fast.

This is the only module that owns time and tasks. Scripted commands (place a call, answer,
hang up) run the state machine at once and then let it distribute, so a test sees the same
events it would see from a PBX reacting to a phone.
"""

from __future__ import annotations

import asyncio
import random
import time
from types import TracebackType
from typing import Self

from telephony.geolocation import CallerLocation
from telephony.simulator.config import SimConfig
from telephony.simulator.pbx import Pbx
from telephony.simulator.queue_log import QueueLog
from telephony.simulator.server import AmiServer
from telephony.simulator.traffic import Traffic
from telephony.simulator.wire import AmiEvent


class SimClock:
    """Epoch seconds that run ``speed`` times faster than the wall clock, from the moment of start."""

    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def __call__(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0) * self.speed


class SimulatedPbx:
    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.clock = SimClock(self.config.speed)
        self.queue_log = QueueLog(self.config.queue_log_path)
        self.pbx = Pbx(self.config.queues, self.config.handlers, self.clock, self.config.context, self.queue_log,
                       self.config.dialplan_delay, self.config.members_at_start)
        self.events: list[AmiEvent] = []
        self.pbx.subscribe(self.events.append)
        self.server = AmiServer(self.pbx, self.config.username, self.config.secret, self.config.host,
                                self.config.port, self.config.client_queue_limit, self.config.client_send_buffer,
                                self.config.ami_version)
        self.traffic: Traffic | None = None
        if self.config.traffic is not None:
            handlers = {h.interface for h in self.config.handlers}
            self.traffic = Traffic(self.pbx, self.config.traffic, random.Random(self.config.seed), handlers)
        self._ticker: asyncio.Task[None] | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.server.start()
        if self.traffic is not None:
            self.traffic.start()
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        await self.server.stop()

    async def shut_down(self, restart: bool = True, timeout: float = 5.0) -> None:
        """``core restart now``: every call hung up (queue_log and events say how each ended),
        the Shutdown event sent, then the AMI server closed once clients have read it all."""
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        self.pbx.shut_down(restart)
        await self.server.stop_gracefully(timeout)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def port(self) -> int:
        return self.server.port

    def now(self) -> float:
        return self.clock()

    async def _tick(self) -> None:
        while True:
            self._step()
            await asyncio.sleep(self.config.tick)

    def _step(self) -> None:
        self.pbx.advance()
        if self.traffic is not None:
            self.traffic.advance()
            self.pbx.advance()

    async def sleep(self, sim_seconds: float) -> None:
        """Wait that long on the simulated clock."""
        await asyncio.sleep(sim_seconds / self.config.speed)

    # --- scripted commands ---------------------------------------------------------------------

    def place_call(self, queue: str, number: str, name: str = "", location: CallerLocation | None = None) -> str:
        """A caller dials ``queue``; it joins a moment later (Newchannel first). Returns the call id.
        ``location``: the caller's INVITE carried it (a PIDF-LO), as on the real PBX."""
        return self.pbx.arrive(queue, number, name, location=location)

    def answer(self, member: str) -> str:
        """``member``'s ringing phone answers; returns the call id."""
        call_id = self.pbx.answer(member)
        self._step()
        return call_id

    def reject(self, member: str) -> None:
        """``member``'s ringing phone declines: a ring-no-answer, the caller waits for the retry."""
        self.pbx.reject(member)
        self._step()

    def hangup_caller(self, call_id: str) -> None:
        self.pbx.hangup_caller(call_id)
        self._step()

    def hangup_handler(self, member: str) -> str:
        """The handler on ``member`` ends the answered call (AgentComplete Reason agent)."""
        call_id = self.pbx.hangup_member(member)
        self._step()
        return call_id

    def pause(self, member: str, reason: str = "", queue: str | None = None) -> None:
        self.pbx.members.pause(member, True, queue, reason)
        self._step()

    def unpause(self, member: str, queue: str | None = None) -> None:
        self.pbx.members.pause(member, False, queue)
        self._step()

    def add_member(self, queue: str, member: str, name: str = "", penalty: int = 0) -> None:
        self.pbx.members.add(queue, member, name, penalty)
        self._step()

    def remove_member(self, queue: str, member: str) -> None:
        self.pbx.members.remove(queue, member)

    def ringing(self, member: str) -> str | None:
        """The call id ringing ``member``'s phone now, if any."""
        for call in self.pbx.calls.values():
            if call.attempt is not None and call.attempt.member == member:
                return call.call_id
        return None

    async def wait_ringing(self, member: str, timeout: float = 2.0) -> str:
        """Wait (wall seconds) until ``member`` rings; returns the call id."""
        deadline = time.monotonic() + timeout
        while (call_id := self.ringing(member)) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{member} did not ring within {timeout} s")
            await asyncio.sleep(self.config.tick)
        return call_id
