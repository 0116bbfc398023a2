"""Absurd values from the PBX never stop the server nor reach its figures.

A scripted AMI peer (tests/telephony/ami_peer.py) plays the PBX to a whole IntakeServer with a
real Redis; the frames carry timestamps of infinity, 1e300 and a year ahead, and durations of
NaN and 1e300. Once such frames have been read, the wallboard, ``/api/queues`` and ``/metrics``
must still answer, with finite figures on the local clock's estimate of PBX time.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

import httpx
import pytest

from intake.core.config import parse
from telephony.frames import encode_frame
from tests.serving import running_server
from tests.support.sockets import signed_in
from tests.telephony.ami_peer import AmiPeer
from tests.waiting import eventually, patience

pytestmark = pytest.mark.redis

SUPERVISOR_TOKEN = "token-of-supervisor-1"
H1 = "PJSIP/handler-1"


def config(ami_port: int) -> Any:
    return parse({
        "ami": {"host": "127.0.0.1", "port": ami_port, "username": "intake", "secret": "env:UNUSED",
                "ping_interval": 30, "reconnect_initial": 0.05, "reconnect_max": 0.2},
        "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]},
                  {"name": "101", "target_seconds": 60, "queues": ["non-emergency"]}],
        "handlers": [{"id": "h1", "name": "A", "member": H1, "queues": ["emergency"], "token": "token-of-handler-h1"}],
        "supervisors": [{"id": "sup1", "name": "S", "token": SUPERVISOR_TOKEN}],
        "routing": {"enabled": False},
    })


def caller(call_id: str, stamp: str, event: str = "QueueCallerJoin", **fields: str) -> bytes:
    base = {"Event": event, "Privilege": "agent,all", "Timestamp": stamp, "Channel": f"PJSIP/trunk-{call_id}",
            "CallerIDNum": "07700900111", "CallerIDName": "Caller", "Uniqueid": call_id, "Linkedid": call_id,
            "Queue": "emergency", "Position": "1", "Count": "1"}
    return encode_frame({**base, **fields})


def agent(call_id: str, stamp: str, event: str, **fields: str) -> bytes:
    return caller(call_id, stamp, event, Interface=H1, MemberName="A", DestChannel=f"{H1}-{call_id}", **fields)


def now(offset: float = 0.0) -> str:
    return f"{time.time() + offset:.6f}"


def finite_numbers(value: Any) -> bool:
    if isinstance(value, dict):
        return all(finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(finite_numbers(v) for v in value)
    return not isinstance(value, float) or math.isfinite(value)


async def test_absurd_timestamps_and_durations_leave_the_wallboard_api_and_metrics_answering(redis_client: Any) -> None:
    async with AmiPeer() as peer:
        bound: list[int] = []
        async with running_server(config(peer.port), {"ami.secret": "s3cret", "handlers[0].token": "token-of-handler-h1",
                                                       "supervisors[0].token": SUPERVISOR_TOKEN},
                                  redis_client, bound=bound) as server:
            peer.emit(b"".join([
                caller("9.1", "inf"),
                agent("9.1", now(), "AgentConnect", HoldTime="1e300", RingTime="2"),  # refused: the call still waits
                caller("9.2", now(366 * 86400)),
                caller("9.2", now(1), "QueueCallerAbandon", HoldTime="nan", OriginalPosition="1"),  # refused
                caller("9.3", "1e300"),
                caller("9.3", now(3), "QueueCallerAbandon", HoldTime="3", OriginalPosition="1"),
                caller("9.4", "-5"),
                agent("9.4", now(2), "AgentConnect", HoldTime="2", RingTime="1"),
                caller("9.9", now()),  # the last: once it is in, everything before it was read
            ]))
            await eventually(lambda: "9.9" in server.registry.calls, 10, "the last frame read")
            base = f"http://127.0.0.1:{bound[0]}"
            auth = {"Authorization": f"Bearer {SUPERVISOR_TOKEN}"}
            async with httpx.AsyncClient(base_url=base, headers=auth) as http:
                queues = await http.get("/api/queues")
                assert queues.status_code == 200, queues.text
                report = queues.json()
                assert finite_numbers(report) and abs(report["at"] - time.time()) < 60
                emergency = report["queues"]["emergency"]
                assert (emergency["offered"], emergency["abandoned"], emergency["answered"]) == (5, 1, 1)
                assert emergency["waiting"] == 3 and emergency["longest_wait_seconds"] < 60  # 9.1, 9.2, 9.9
                metrics = await http.get("/metrics")
                assert metrics.status_code == 200, metrics.text
                assert 'intake_ami_total{counter="bad_timestamps"} 4.0' in metrics.text
                assert 'intake_ami_total{counter="malformed_frames"} 2.0' in metrics.text
            async with await signed_in(f"ws://127.0.0.1:{bound[0]}/ws/supervisor", SUPERVISOR_TOKEN) as wallboard:
                for _ in range(2):  # the first on connecting, the next from the ticker: it still runs
                    message = json.loads(await asyncio.wait_for(wallboard.recv(), patience(10)))
                    assert message["type"] == "metrics" and finite_numbers(message)
