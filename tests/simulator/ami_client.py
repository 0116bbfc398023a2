"""A raw AMI client for tests: bytes over loopback through our own frame parser and encoder."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from telephony.frames import TERMINATOR, Frame, encode_frame, parse_frame

_ids = itertools.count(1)


class AmiTestClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, banner: bytes) -> None:
        self.reader, self.writer, self.banner = reader, writer, banner
        self.events: list[Frame] = []  # every event read so far, in order
        self._returned: set[int] = set()  # events already handed out by wait_for

    @classmethod
    async def connect(cls, port: int, rcvbuf: int | None = None) -> AmiTestClient:
        if rcvbuf is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        else:
            import socket

            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            reader, writer = await asyncio.open_connection(sock=sock)
        banner = await asyncio.wait_for(reader.readline(), 2)
        return cls(reader, writer, banner)

    @classmethod
    async def logged_in(cls, port: int, username: str = "intake", secret: str = "intake-sim", **login: str) -> AmiTestClient:
        client = await cls.connect(port)
        resp = await client.action("Login", Username=username, Secret=secret, **login)
        assert resp["Response"] == "Success", resp
        return client

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass

    def send(self, action: str, **fields: str) -> str:
        action_id = fields.pop("ActionID", f"t{next(_ids)}")
        self.writer.write(encode_frame([("Action", action), ("ActionID", action_id), *fields.items()]))
        return action_id

    async def read_frame(self, timeout: float = 2.0) -> Frame:
        block = await asyncio.wait_for(self.reader.readuntil(TERMINATOR), timeout)
        frame = parse_frame(block[: -len(TERMINATOR)])
        if frame.event:
            self.events.append(frame)
        return frame

    async def action(self, action: str, **fields: str) -> Frame:
        """Send an action and return its response; events read meanwhile stay in ``events``."""
        action_id = self.send(action, **fields)
        deadline = asyncio.get_running_loop().time() + 5.0
        while True:
            frame = await self.read_frame(self._left(deadline, f"response to {action}"))
            if frame.response and frame.action_id in (action_id, None):
                return frame

    async def event_list(self, action: str, complete: str, **fields: str) -> tuple[Frame, list[Frame]]:
        """Send a list action; return its response and the list's events up to ``complete``."""
        action_id = self.send(action, **fields)
        response, items = None, []
        while True:
            frame = await self.read_frame()
            if frame.action_id != action_id:
                continue
            if frame.response:
                response = frame
            else:
                items.append(frame)
                if frame.event == complete:
                    assert response is not None
                    return response, items

    async def wait_for(self, predicate: Callable[[Frame], bool], timeout: float = 2.0) -> Frame:
        """Read until an event matches (earlier ones already read also count)."""
        for frame in self.events:
            if id(frame) not in self._returned and predicate(frame):
                self._returned.add(id(frame))
                return frame
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            # The deadline holds even while other events keep arriving (traffic never stops).
            frame = await self.read_frame(self._left(deadline, "a matching event"))
            if frame.event and predicate(frame):
                self._returned.add(id(frame))
                return frame

    @staticmethod
    def _left(deadline: float, what: str) -> float:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise TimeoutError(f"no {what} before the deadline")
        return left

    async def wait_event(self, name: str, timeout: float = 2.0, **match: str) -> Frame:
        return await self.wait_for(lambda f: f.event == name and all(f.get(k) == v for k, v in match.items()), timeout)

    def call_events(self, call_id: str) -> list[Frame]:
        """Events about one queue call: the caller channel's own, by Uniqueid."""
        return [f for f in self.events if f.get("Uniqueid") == call_id]
