"""``python -m telephony.simulator``: one JSON line, then a PBX a client can log in to."""

from __future__ import annotations

import asyncio
import json
import sys

from tests.simulator.ami_client import AmiTestClient


async def test_standalone_prints_port_and_credentials_then_serves() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "telephony.simulator", "--port", "0", "--speed", "20", "--secret", "s3cret",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 10))
        assert (info["host"], info["username"], info["secret"]) == ("127.0.0.1", "intake", "s3cret")
        client = await AmiTestClient.logged_in(info["port"], secret="s3cret")
        await client.wait_event("QueueCallerJoin", timeout=5)  # traffic is on by default
        await client.close()
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 5) == 0
