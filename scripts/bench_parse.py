"""Parse throughput on one synthetic Asterisk 22 queue-call stream, printed as JSON.

Compares, on the same bytes cut into the same read-sized chunks:
- ``framereader``: telephony.framing.FrameReader alone (bytes -> Frame);
- ``framereader_translate``: FrameReader + telephony.translate (bytes -> domain events);
- ``framereader_translate_wanted``: the same as the session reads (events intake does not use
  dropped unparsed on their name, and counted);
- ``readuntil``: a plain asyncio ``readuntil(b"\\r\\n\\r\\n")`` loop building a dict per frame;
- ``panoramisk``: panoramisk 1.4's AMIProtocol.data_received (its parser and dispatch).

Usage: python scripts/bench_parse.py [--calls N] [--chunk BYTES] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Collection

from telephony.framing import FrameReader
from telephony.reader import WANTED_EVENTS
from telephony.translate import translate

_CHANNEL = (
    "Channel: PJSIP/trunk-{n:08x}\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n"
    "CallerIDNum: 0770090{n:04d}\r\nCallerIDName: Zoë Ångström\r\nConnectedLineNum: <unknown>\r\n"
    "ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: from-trunk\r\n"
    "Exten: 999\r\nPriority: 3\r\nUniqueid: 1700000000.{n}\r\nLinkedid: 1700000000.{n}\r\n"
)
_DEST = (
    "DestChannel: PJSIP/handler-1-{n:08x}\r\nDestChannelState: 5\r\nDestChannelStateDesc: Ringing\r\n"
    "DestCallerIDNum: 2001\r\nDestCallerIDName: Handler One\r\nDestConnectedLineNum: 0770090{n:04d}\r\n"
    "DestConnectedLineName: Zoë Ångström\r\nDestLanguage: en\r\nDestAccountCode: \r\n"
    "DestContext: handlers\r\nDestExten: 999\r\nDestPriority: 1\r\nDestUniqueid: 1700000000.{m}\r\n"
    "DestLinkedid: 1700000000.{n}\r\n"
)
_MEMBER = (
    "Queue: 999\r\nMemberName: Handler One\r\nInterface: PJSIP/handler-1\r\n"
    "StateInterface: PJSIP/handler-1\r\nMembership: dynamic\r\nPenalty: 0\r\nCallsTaken: {n}\r\n"
    "LastCall: 1700000000\r\nLastPause: 0\r\nLoginTime: 1699990000\r\nInCall: 0\r\nStatus: 6\r\n"
    "Paused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n"
)


def _event(name: str, ts: float, body: str, **kw: object) -> str:
    return f"Event: {name}\r\nPrivilege: agent,all\r\nTimestamp: {ts:.6f}\r\n" + body.format(**kw) + "\r\n"


def one_call(n: int) -> str:
    """The frames of one answered 999 call, about as Asterisk 22 writes them."""
    ts = 1700000000.0 + n
    ch = _CHANNEL.format(n=n)
    dest = _DEST.format(n=n, m=n + 1)
    agent = "Queue: 999\r\nInterface: PJSIP/handler-1\r\nMemberName: Handler One\r\n"
    return "".join(
        [
            _event("Newchannel", ts, ch),
            _event("VarSet", ts, ch + "Variable: QUEUE_PRIO\r\nValue: 10\r\n"),
            _event("QueueCallerJoin", ts, ch + "Queue: 999\r\nPosition: 1\r\nCount: 1\r\n"),
            _event("AgentCalled", ts, ch + dest + agent),
            _event("QueueMemberStatus", ts, _MEMBER, n=n),
            _event("QueueCallerLeave", ts + 2, ch + "Queue: 999\r\nPosition: 1\r\nCount: 0\r\n"),
            _event("AgentConnect", ts + 2, ch + dest + agent + "HoldTime: 2\r\nRingTime: 2\r\n"),
            _event("AgentComplete", ts + 60, ch + dest + agent + "HoldTime: 2\r\nTalkTime: 58\r\nReason: caller\r\n"),
            _event("Hangup", ts + 60, ch + "Cause: 16\r\nCause-txt: Normal Clearing\r\n"),
        ]
    )


def stream(calls: int) -> tuple[bytes, int]:
    text = "".join(one_call(n) for n in range(calls))
    return text.encode("utf-8"), text.count("\r\n\r\n")


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def bench_framereader(parts: list[bytes], with_translate: bool, wanted: Collection[str] | None = None) -> int:
    """Frames the reader hands on; with ``wanted`` (the reader's WANTED_EVENTS) the rest are
    dropped unparsed, as in the session, and counted with the frames all the same."""
    reader = FrameReader(expect_banner=False, wanted=wanted)
    count = 0
    for part in parts:
        frames = reader.feed(part)
        if with_translate:
            for frame in frames:
                translate(frame, 0.0)
        count += len(frames)
    return count + reader.passed_over


def bench_readuntil(parts: list[bytes]) -> int:
    async def run() -> int:
        reader = asyncio.StreamReader(limit=2**20)
        for part in parts:
            reader.feed_data(part)
        reader.feed_eof()
        count = 0
        while True:
            try:
                block = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return count
            frame = {}
            for line in block[:-4].decode("utf-8", "replace").split("\r\n"):
                key, _, value = line.partition(": ")
                frame[key] = value
            count += 1

    return asyncio.run(run())


def bench_panoramisk(parts: list[bytes]) -> int:
    from panoramisk.ami_protocol import AMIProtocol  # type: ignore[import-untyped]

    class Factory:
        count = 0
        save_stream = None

        def dispatch(self, message: object) -> None:
            Factory.count += 1

    proto = AMIProtocol()
    proto.connection_made(transport=None)
    proto.factory = Factory()
    proto.encoding = "utf-8"
    proto.version = "11.0.0"
    for part in parts:
        proto.data_received(part)
    return Factory.count


def timed(fn, *args: object, repeat: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    best = float("inf")
    count = 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--chunk", type=int, default=65536)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data, frames = stream(args.calls)
    parts = chunks(data, args.chunk)
    results: dict[str, object] = {"frames": frames, "bytes": len(data), "chunk": args.chunk}
    cases = {
        "framereader": (bench_framereader, parts, False),
        "framereader_translate": (bench_framereader, parts, True),
        # As the session reads: events intake does not use are dropped on their name, unparsed.
        "framereader_translate_wanted": (bench_framereader, parts, True, WANTED_EVENTS),
        "readuntil": (bench_readuntil, parts),
        "panoramisk": (bench_panoramisk, parts),
    }
    for name, (fn, *fn_args) in cases.items():
        seconds, count = timed(fn, *fn_args, repeat=args.repeat)
        results[name] = {"events_per_s": round(count / seconds), "frames": count}
    base = results["readuntil"]["events_per_s"]  # type: ignore[index]
    pan = results["panoramisk"]["events_per_s"]  # type: ignore[index]
    for name in ("framereader", "framereader_translate", "framereader_translate_wanted"):
        rate = results[name]["events_per_s"]  # type: ignore[index]
        results[name]["vs_readuntil"] = round(rate / base, 2)  # type: ignore[index]
        results[name]["vs_panoramisk"] = round(rate / pan, 2)  # type: ignore[index]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
