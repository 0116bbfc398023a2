"""Which frame answers which action: the ActionID bookkeeping of one connection.

The rules, all here: a ``Response`` frame answers the action with its ActionID. ``Response:
Error`` fails it. A single-response action is done at its Response; a list action (its
:attr:`~telephony.actions.Action.list_end` set) collects every event carrying its ActionID until
the closing ``*Complete`` event. An event that merely carries one of our ActionIDs but is not a
list item (``OriginateResponse`` after an async Originate) is an ordinary event.

No I/O and no event loop of its own: whoever sends an action hands in a :class:`Waiter` (an
asyncio future, or the connection's own callback for the actions it sends itself) and this book
resolves it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from telephony.actions import Action, Response
from telephony.errors import ActionError, ActionFailed, ActionInterrupted
from telephony.frames import Frame


class Waiter(Protocol):
    """What learns an action's outcome: the part of :class:`asyncio.Future` this book uses."""

    def done(self) -> bool: ...

    def set_result(self, result: Response, /) -> None: ...

    def set_exception(self, exception: BaseException, /) -> None: ...

    def exception(self) -> BaseException | None: ...


class Callback:
    """A waiter that calls back with the outcome as soon as it is known (the connection's own
    actions: Login, Ping, the snapshot's lists)."""

    __slots__ = ("_call", "_done")

    def __init__(self, call: Callable[[Response | ActionError], None]) -> None:
        self._call = call
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, result: Response, /) -> None:
        self._done = True
        self._call(result)

    def set_exception(self, exception: BaseException, /) -> None:
        self._done = True
        assert isinstance(exception, ActionError)  # this book fails actions with nothing else
        self._call(exception)

    def exception(self) -> BaseException | None:
        return None


class Pending:
    """An action written and not yet fully answered."""

    __slots__ = ("acked", "action", "events", "frame", "future", "on_item")

    def __init__(self, action: Action, future: Waiter, on_item: Callable[[Frame], None] | None) -> None:
        self.action = action
        self.future = future
        self.frame: Frame | None = None
        self.events: list[Frame] = []
        self.acked = False
        """Its Response frame has arrived (a list may still be coming)."""
        self.on_item = on_item


class PendingActions:
    __slots__ = ("_by_id",)

    def __init__(self) -> None:
        self._by_id: dict[str, Pending] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, action: Action, future: Waiter, on_item: Callable[[Frame], None] | None = None) -> Pending:
        pending = Pending(action, future, on_item)
        self._by_id[action.action_id] = pending
        return pending

    def forget(self, action_id: str) -> None:
        """The caller gave up (timeout): a late answer will be treated as unsolicited."""
        self._by_id.pop(action_id, None)

    def answer(self, frame: Frame) -> bool:
        """Apply ``frame`` to the action it answers; False if it answers none of ours."""
        action_id = frame.get("ActionID")
        pending = self._by_id.get(action_id) if action_id is not None else None
        if pending is None:
            return False
        action = pending.action
        if "Response" in frame and "Event" not in frame:  # OriginateResponse has both
            pending.acked = True
            if frame["Response"] == "Error":
                self._finish(pending, ActionFailed(action.name, action.action_id, frame.get("Message", "")))
            elif action.list_end is None:
                self._finish(pending, Response(action.name, action.action_id, frame))
            else:
                pending.frame = frame
            return True
        if action.list_end is None or pending.frame is None:
            return False
        if frame.get("Event") == action.list_end:
            self._finish(pending, Response(action.name, action.action_id, pending.frame, tuple(pending.events)))
        else:
            pending.events.append(frame)
            if pending.on_item is not None:
                pending.on_item(frame)
        return True

    def fail_all(self, reason: str) -> None:
        """The link is gone: every waiter learns now, with ActionInterrupted."""
        waiting, self._by_id = self._by_id, {}
        for pending in waiting.values():
            if not pending.future.done():
                pending.future.set_exception(ActionInterrupted(pending.action.name, pending.action.action_id, reason))
                pending.future.exception()  # mark retrieved: an abandoned future must not warn at GC

    def _finish(self, pending: Pending, outcome: Response | ActionError) -> None:
        del self._by_id[pending.action.action_id]
        if pending.future.done():
            return
        if isinstance(outcome, Response):
            pending.future.set_result(outcome)
        else:
            pending.future.set_exception(outcome)
