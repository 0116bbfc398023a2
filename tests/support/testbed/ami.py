"""A raw AMI client for the test bed: asyncio streams, every received byte kept verbatim.

Deliberately not the product's AMI session (telephony's own protocol layer): it is the
independent witness that records what Asterisk really sends, for fixtures and assertions.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Frame = dict[str, str]


class AmiTimeout(TimeoutError):
    pass


@dataclass
class RawAmi:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    recorded: bytearray = field(default_factory=bytearray)
    frames: list[Frame] = field(default_factory=list)
    banner: str = ""
    _buffer: bytes = b""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _task: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, host: str, port: int) -> RawAmi:
        reader, writer = await asyncio.open_connection(host, port)
        ami = cls(reader, writer)
        ami._task = asyncio.create_task(ami._read_loop())
        return ami

    async def login(self, user: str, secret: str, timeout: float = 5) -> Frame:
        response = await self.action("Login", timeout=timeout, Username=user, Secret=secret, Events="on")
        if response.get("Response") != "Success":
            raise PermissionError(f"AMI login refused: {response}")
        return response

    async def send(self, action: str, fields: Mapping[str, str] | None = None, /, **more: str) -> str:
        """Send an action (fields as a mapping and/or keywords); returns its ActionID."""
        action_id = f"rec-{next(self._ids)}"
        pairs = {**(fields or {}), **more}
        lines = [f"Action: {action}", f"ActionID: {action_id}"] + [f"{k}: {v}" for k, v in pairs.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        return action_id

    async def action(self, action: str, fields: Mapping[str, str] | None = None, /, timeout: float = 5, **more: str) -> Frame:
        """Send an action and wait for its Response frame."""
        action_id = await self.send(action, fields, **more)
        return await self.wait_for(lambda f: f.get("ActionID") == action_id and "Response" in f, timeout)

    async def wait_for(self, match: Callable[[Frame], bool], timeout: float, start: int = 0) -> Frame:
        """The first frame (from index ``start``) that matches; raises AmiTimeout."""

        def find() -> Frame | None:
            return next((f for f in self.frames[start:] if match(f)), None)

        async with self._changed:
            try:
                return await asyncio.wait_for(self._changed.wait_for(find), timeout)  # type: ignore[arg-type]
            except TimeoutError:
                raise AmiTimeout(f"no matching AMI frame within {timeout:g} s") from None

    async def wait_event(self, name: str, timeout: float, start: int = 0, /, fields: Mapping[str, str] | None = None, **more: str) -> Frame:
        """The first event ``name`` (from frame ``start``) whose fields have the given values."""
        wanted = {**(fields or {}), **more}
        return await self.wait_for(lambda f: f.get("Event") == name and all(f.get(k) == v for k, v in wanted.items()), timeout, start)

    def events(self, *names: str) -> list[Frame]:
        return [f for f in self.frames if "Event" in f and (not names or f["Event"] in names)]

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.action("Logoff"), 2)
        except (TimeoutError, ConnectionError):  # a dead link: the 2 s wait_for itself times out
            pass
        self.writer.close()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _read_loop(self) -> None:
        while chunk := await self.reader.read(65536):
            self.recorded += chunk
            self._buffer += chunk
            if not self.banner and b"\r\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\r\n", 1)
                self.banner = line.decode()
            parsed = []
            while b"\r\n\r\n" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
                parsed.append(parse_frame(raw))
            if parsed:
                async with self._changed:
                    self.frames.extend(parsed)
                    self._changed.notify_all()


def parse_frame(raw: bytes) -> Frame:
    frame: Frame = {}
    for line in raw.decode(errors="replace").split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep and key not in frame:
            frame[key] = value
    return frame
