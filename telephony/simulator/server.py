"""The AMI side of the simulated PBX: a TCP server on loopback speaking manager.c's protocol.

Each client is a session with its own bounded queue of frames and its own sender task, so one
client that stops reading never holds up the PBX or the others: when its queue is full it is
disconnected, as Asterisk disconnects an AMI client it cannot write to.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import structlog

from telephony.frames import TERMINATOR, encode_frame, parse_frame
from telephony.simulator import actions, wire
from telephony.simulator.actions import Action, Fields, response
from telephony.simulator.pbx import Pbx

MAX_FRAME = 64 * 1024

log = structlog.get_logger(__name__)


class Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: int) -> None:
        self.reader, self.writer = reader, writer
        self.outbox: asyncio.Queue[bytes | None] = asyncio.Queue(limit)
        self.logged_in = False
        self.events_on = True
        self.closed = False
        self.peer = writer.get_extra_info("peername")
        self.sender: asyncio.Task[None] | None = None

    def offer(self, data: bytes) -> bool:
        """Queue bytes for this client; False (and the session is closed) if it fell too far behind."""
        if self.closed:
            return False
        try:
            self.outbox.put_nowait(data)
        except asyncio.QueueFull:
            log.warning("ami_client_dropped", peer=self.peer, reason="fell behind", pending=self.outbox.qsize())
            self.close(abort=True)
            return False
        return True

    def close(self, abort: bool = False) -> None:
        """Graceful: what is queued is still sent (a Logoff's Goodbye). Abort: drop it all now."""
        if self.closed:
            return
        self.closed = True
        if not abort:
            with contextlib.suppress(asyncio.QueueFull):
                self.outbox.put_nowait(None)
                return
        self.writer.transport.abort()
        if self.sender is not None:
            self.sender.cancel()

    async def send_loop(self) -> None:
        try:
            while (data := await self.outbox.get()) is not None:
                self.writer.write(data)
                await self.writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            if not self.writer.is_closing():
                self.writer.close()


class AmiServer:
    def __init__(self, pbx: Pbx, username: str, secret: str, host: str = "127.0.0.1", port: int = 0,
                 client_queue_limit: int = 2000, client_send_buffer: int | None = None,
                 ami_version: str = "11.0.0") -> None:
        self.pbx = pbx
        self._username, self._secret = username, secret
        self._host, self._want_port = host, port
        self._limit = client_queue_limit
        self._sndbuf = client_send_buffer
        self._banner = f"Asterisk Call Manager/{ami_version}\r\n".encode()
        self._server: asyncio.Server | None = None
        self.sessions: set[Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        pbx.subscribe(self.broadcast)

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._want_port, limit=MAX_FRAME)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            s.close(abort=True)
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def stop_gracefully(self, timeout: float = 5.0) -> None:
        """Stop listening, send every client what is queued for it (a shutdown's last events),
        then close; a client that does not take it within ``timeout`` is cut off."""
        if self._server is not None:
            self._server.close()
        for s in list(self.sessions):
            s.close()
        senders = [s.sender for s in self.sessions if s.sender is not None]
        if senders:
            await asyncio.wait(senders, timeout=timeout)
        await self.stop()

    def broadcast(self, ev: wire.AmiEvent) -> None:
        data = ev.encode()
        for s in list(self.sessions):
            if s.logged_in and s.events_on:
                s.offer(data)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._sndbuf:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self._sndbuf)
            writer.transport.set_write_buffer_limits(high=self._sndbuf)
        session = Session(reader, writer, self._limit)
        self.sessions.add(session)
        sender = session.sender = asyncio.create_task(session.send_loop())
        self._tasks.add(sender)
        sender.add_done_callback(self._tasks.discard)
        session.offer(self._banner)
        try:
            while not session.closed:
                block = await reader.readuntil(TERMINATOR)
                frame = parse_frame(block[: -len(TERMINATOR)])
                if frame:
                    self._on_action(session, Action.of(frame))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            raise
        finally:
            self.sessions.discard(session)
            session.close()

    def _on_action(self, s: Session, a: Action) -> None:
        if a.name == "login":
            self._login(s, a)
        elif a.name == "logoff":
            self._send(s, [("Response", "Goodbye"), *a.id_field(), ("Message", "Thanks for all the fish.")])
            s.close()
        elif not s.logged_in:
            self._send(s, response(a, False, "Authentication Required"))
        elif a.name == "events":
            s.events_on = a["EventMask"].lower() not in {"off", "no", "false", "0"}
            self._send(s, [("Response", "Success"), *a.id_field(), ("Events", "On" if s.events_on else "Off")])
        else:
            try:
                reply = actions.handle(self.pbx, a)
            except Exception as exc:  # a bug in the simulator must not kill the client's session
                log.exception("ami_action_failed", action=a.name)
                reply = actions.Reply((response(a, False, f"Simulator error: {type(exc).__name__}"),))
            for fields in reply.frames:
                self._send(s, fields)
            if reply.after is not None:
                try:
                    reply.after()
                except Exception:
                    log.exception("ami_action_aftermath_failed", action=a.name)

    def _login(self, s: Session, a: Action) -> None:
        if a["Username"] != self._username or a["Secret"] != self._secret:
            self._send(s, response(a, False, "Authentication failed"))
            s.close()
            return
        s.logged_in = True
        s.events_on = a["Events"].lower() not in {"off", "no", "false", "0"}
        self._send(s, response(a, True, "Authentication accepted"))
        if s.events_on:
            uptime = int(self.pbx.now() - self.pbx.boot_time)
            booted = wire.AmiEvent("FullyBooted", wire.SYSTEM, self.pbx.now(),
                                   (("Uptime", str(uptime)), ("LastReload", str(uptime)), ("Status", "Fully Booted")),
                                   stamped=False)
            s.offer(booted.encode())

    def _send(self, s: Session, fields: Fields) -> None:
        s.offer(encode_frame(fields))
