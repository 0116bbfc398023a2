"""The desks' I/O, and nothing else: send the AMI actions their rules decided, run the work they
hand off in the background, and give back what came of each action as data.

The desks decide (which action, for whom, what a refusal means); this only carries out. An
action's result is one of four :class:`Sent` values, because the desks must tell apart what the
PBX did from what nobody can know: *done*; *refused* (the PBX said no, in its own words); *not
sent* (certainly not carried out: no link, or a value the builder refused); *unconfirmed* (sent,
then timed out or cut off: it may yet happen).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from telephony.actions import Action, Response
from telephony.errors import ActionError, ActionFailed, NotConnected, UnsafeActionValue


class Sender(Protocol):
    """The AMI session (or the simulator's loopback, or a test's PBX)."""

    async def send(self, action: Action, timeout: float | None = None) -> Response: ...


class Sent(Enum):
    DONE = "done"
    REFUSED = "refused"
    NOT_SENT = "not-sent"
    UNCONFIRMED = "unconfirmed"


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What came of ``action``. ``detail``: the PBX's words when refused, else what went wrong."""

    action: Action
    sent: Sent
    detail: str = ""

    @property
    def done(self) -> bool:
        return self.sent is Sent.DONE


def result_of(action: Action, exc: ActionError | None) -> ActionResult:
    if exc is None:
        return ActionResult(action, Sent.DONE)
    if isinstance(exc, ActionFailed):
        return ActionResult(action, Sent.REFUSED, exc.message)
    if isinstance(exc, NotConnected | UnsafeActionValue):
        return ActionResult(action, Sent.NOT_SENT, str(exc))
    return ActionResult(action, Sent.UNCONFIRMED, str(exc))


class Background:
    """Work a desk hands off to run beside the event path, kept to be waited for at close."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    def later(self, delay: float, due: Callable[[], None]) -> asyncio.TimerHandle:
        """``due()`` in ``delay`` seconds on the loop's monotonic clock."""
        return asyncio.get_running_loop().call_later(delay, due)

    @property
    def busy(self) -> bool:
        return bool(self._running)

    async def close(self) -> None:
        await asyncio.gather(*self._running, return_exceptions=True)


class Executor(Background):
    """Sends actions one at a time, each result as data; and runs what its desk hands off."""

    def __init__(self, sender: Sender) -> None:
        super().__init__()
        self.sender = sender

    async def send(self, action: Action) -> ActionResult:
        try:
            await self.sender.send(action)
        except ActionError as exc:
            return result_of(action, exc)
        return result_of(action, None)

    async def send_all(self, todo: list[Action]) -> list[ActionResult]:
        """In order, up to the first that is not done (the rest would build on it)."""
        results = []
        for action in todo:
            results.append(await self.send(action))
            if not results[-1].done:
                break
        return results
