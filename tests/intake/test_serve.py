"""`intake serve --config` as a PBX administrator runs it, against the PBX simulator in another process.

It logs in over AMI, serves live figures, writes JSON log lines with the call id bound, and
never writes a secret or a token to its log.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.sockets import signed_in
from tests.waiting import eventually, patience

REPO = Path(__file__).resolve().parents[2]
SECRETS = {"INTAKE_AMI_SECRET": "sim-secret-4f7a9c", "INTAKE_TOKEN_H1": "tok-h1-aaaaaaaaaaaaaaaa",
           "INTAKE_TOKEN_H2": "tok-h2-bbbbbbbbbbbbbbbb", "INTAKE_TOKEN_H3": "tok-h3-cccccccccccccccc",
           "INTAKE_TOKEN_H4": "tok-h4-dddddddddddddddd", "INTAKE_TOKEN_SUP1": "tok-sup1-eeeeeeeeeeeeeeee"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def logged(text: str) -> list[dict]:
    """The log's JSON lines (a line still being written is not one yet)."""
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.startswith("{") and line.endswith("\n")]


async def test_serve_follows_the_pbx_and_logs_json_without_secrets(tmp_path: Path, redis_url: str):
    sim = subprocess.Popen([sys.executable, "-m", "telephony.simulator", "--secret", SECRETS["INTAKE_AMI_SECRET"], "--speed", "4", "--seed", "3"],
                           cwd=REPO, stdout=subprocess.PIPE, text=True)
    log_path = tmp_path / "intake.log"
    serve = None
    try:
        ami_port = json.loads(sim.stdout.readline())["port"]  # type: ignore[union-attr]
        http_port = free_port()
        shipped = (REPO / "config" / "intake.toml").read_text()
        config = tmp_path / "intake.toml"
        config.write_text(shipped.replace("port = 5038", f"port = {ami_port}").replace("port = 8080", f"port = {http_port}")
                          .replace('url = "redis://127.0.0.1:6379/0"', f'url = "{redis_url}/15"'))
        with log_path.open("w") as log:
            serve = subprocess.Popen([sys.executable, "-m", "intake.app.cli", "serve", "--config", str(config)],
                                     cwd=REPO, stderr=log, env={**os.environ, **SECRETS})
        base = f"http://127.0.0.1:{http_port}"
        deadline = time.monotonic() + patience(15)
        health: dict = {}
        while time.monotonic() < deadline:
            try:
                health = httpx.get(base + "/healthz").json()
                if health.get("ok"):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert health.get("ok"), health
        auth = {"Authorization": f"Bearer {SECRETS['INTAKE_TOKEN_SUP1']}"}
        async with await signed_in(f"ws://127.0.0.1:{http_port}/ws/supervisor", SECRETS["INTAKE_TOKEN_SUP1"]) as ws:
            first = json.loads(await ws.recv())
            assert first["type"] == "metrics" and "999" in first["lines"]
        async with await signed_in(f"ws://127.0.0.1:{http_port}/ws/desktop", SECRETS["INTAKE_TOKEN_H1"]) as ws:
            await ws.recv()

        async def offered() -> int:
            async with httpx.AsyncClient(base_url=base, headers=auth) as http:
                lines = (await http.get("/api/queues")).json()["lines"]
            return int(lines["999"]["offered"] + lines["101"]["offered"])

        assert await eventually(offered, 15, "calls offered")

        def summarised() -> bool:  # a call's one line at info, once its outcome in the queue is known
            return any(r.get("call_id") and r.get("event") == "call_summary" for r in logged(log_path.read_text()))

        assert await eventually(summarised, 30, "a call's summary in the log")
    finally:
        for proc in (serve, sim):
            if proc is not None:
                proc.terminate()
                proc.wait(10)
        sim.stdout.close()  # type: ignore[union-attr]
    text = log_path.read_text()
    records = logged(text)
    assert records, text[:2000]
    summaries = [r for r in records if r.get("event") == "call_summary"]
    assert summaries and all(r.get("call_id") and r.get("queue") and r.get("outcome") and r.get("level") == "info"
                             for r in summaries), summaries[:3]
    for secret in SECRETS.values():
        assert secret not in text
