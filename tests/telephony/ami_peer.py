"""A scripted stand-in for Asterisk's AMI port, for session tests.

An asyncio TCP server on 127.0.0.1 (port 0): sends a banner, checks Login, answers Ping,
QueueStatus, CoreShowChannels and Logoff like Asterisk 22 does, answers anything else with
Success. A test can make it emit events, refuse logins, go silent (a half-open link: the socket
stays open, nothing more is read or written), drop the connection, or answer one action its own
way through :attr:`AmiPeer.handlers`. Actions it received are parsed with our own FrameReader.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Self

from telephony.frames import Frame, encode_frame
from telephony.framing import FrameReader

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
Handler = Callable[[Frame], list[bytes] | None]


def frame_bytes(fields: Mapping[str, object]) -> bytes:
    return encode_frame(fields)


class AmiPeer:
    def __init__(self, username: str = "intake", secret: str = "s3cret", *, fully_booted: bool = True) -> None:
        self.username = username
        self.secret = secret
        self.fully_booted = fully_booted
        self.refuse_logins = False
        self.queue_status: list[dict[str, str]] = []
        self.channels: list[dict[str, str]] = []
        self.handlers: dict[str, Handler] = {}
        self.received: list[Frame] = []
        self.logins = 0
        self.login_attempts = 0
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._silent: set[asyncio.StreamWriter] = set()
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    # --- what a test does --------------------------------------------------------------------

    def emit(self, fields: Mapping[str, object] | bytes) -> None:
        """Write an event (fields, or raw bytes for a frame cut anywhere) to every connection, as
        Asterisk sends its events to every AMI session (intake's start-up check logs in beside
        the session it follows the PBX with)."""
        assert self._writer is not None, "no AMI client connected"
        data = fields if isinstance(fields, bytes) else frame_bytes(fields)
        for writer in self._writers - self._silent:
            writer.write(data)

    def go_silent(self) -> None:
        """From now on the live connection neither reads nor answers: a half-open link."""
        assert self._writer is not None, "no AMI client connected"
        self._silent.add(self._writer)

    def drop(self) -> None:
        """Close the live connection, as a PBX restart would."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def actions(self, name: str) -> list[Frame]:
        return [frame for frame in self.received if frame.get("Action") == name]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 2.0) -> None:
        async def until() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(until(), timeout)

    # --- the server side ---------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writer = writer
        self._writers.add(writer)
        framer = FrameReader(expect_banner=False)
        writer.write(BANNER)
        try:
            while data := await reader.read(65536):
                if writer in self._silent:
                    continue
                for frame in framer.feed(data):
                    self.received.append(frame)
                    for chunk in self._answer(frame) or []:
                        writer.write(chunk)
                    if frame.get("Action") == "Logoff":
                        writer.close()
                    await self._notify()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            if self._writer is writer and self._writers:
                self._writer = next(iter(self._writers))  # another session is still live
            writer.close()
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _answer(self, frame: Frame) -> list[bytes] | None:
        name = frame.get("Action", "")
        if name in self.handlers:
            return self.handlers[name](frame)
        aid = frame.get("ActionID", "")
        if name == "Login":
            return self._login(frame, aid)
        if name == "Ping":
            return [frame_bytes({"Response": "Success", "ActionID": aid, "Ping": "Pong", "Timestamp": "1700000000.000000"})]
        if name == "Logoff":
            return [frame_bytes({"Response": "Goodbye", "ActionID": aid, "Message": "Thanks for all the fish."})]
        if name == "QueueStatus":
            return self._list(aid, "Queue status will follow", self.queue_status, "QueueStatusComplete")
        if name == "CoreShowChannels":
            return self._list(aid, "Channels will follow", self.channels, "CoreShowChannelsComplete")
        return [frame_bytes({"Response": "Success", "ActionID": aid, "Message": f"{name} done"})]

    def _login(self, frame: Frame, aid: str) -> list[bytes]:
        self.login_attempts += 1
        if self.refuse_logins or frame.get("Username") != self.username or frame.get("Secret") != self.secret:
            return [frame_bytes({"Response": "Error", "ActionID": aid, "Message": "Authentication failed"})]
        self.logins += 1
        out = [frame_bytes({"Response": "Success", "ActionID": aid, "Message": "Authentication accepted"})]
        if self.fully_booted:  # Asterisk greets every new session with FullyBooted
            out.append(frame_bytes({"Event": "FullyBooted", "Privilege": "system,all", "Uptime": "10", "LastReload": "10", "Status": "Fully Booted"}))
        return out

    @staticmethod
    def _list(aid: str, message: str, items: list[dict[str, str]], complete: str) -> list[bytes]:
        out = [frame_bytes({"Response": "Success", "ActionID": aid, "EventList": "start", "Message": message})]
        out += [frame_bytes({**item, "ActionID": aid}) for item in items]
        out.append(frame_bytes({"Event": complete, "ActionID": aid, "EventList": "Complete", "ListItems": len(items)}))
        return out
