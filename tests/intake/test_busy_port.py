"""A port already taken is one line saying what to do, not a traceback, and nothing else starts:
``intake demo`` suggests ``--port``; ``intake serve`` names the config key and never logs in to the PBX."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.demo_process import REPO
from tests.intake.test_serve import SECRETS
from tests.waiting import patience


def run_demo_on(port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "intake.app.cli", "demo", "--port", str(port)], cwd=REPO,
                          capture_output=True, text=True, timeout=patience(30))


def test_a_busy_port_is_one_line_that_suggests_another_and_nothing_starts() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = run_demo_on(port)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"127.0.0.1:{port}" in done.stderr and "address already in use" in done.stderr
    assert f"--port {port + 1}" in done.stderr and "--port 0" in done.stderr




def test_serve_on_a_busy_port_says_which_key_to_change_and_never_reaches_the_pbx(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken, socket.create_server(("127.0.0.1", 0)) as ami:
        port, ami_port = taken.getsockname()[1], ami.getsockname()[1]
        config = tmp_path / "intake.toml"
        config.write_text((REPO / "config" / "intake.toml").read_text()
                          .replace("port = 5038", f"port = {ami_port}").replace("port = 8080", f"port = {port}"))
        done = subprocess.run([sys.executable, "-m", "intake.app.cli", "serve", "--config", str(config)], cwd=REPO,
                              capture_output=True, text=True, timeout=patience(30), env={**os.environ, **SECRETS})
        ami.setblocking(False)
        try:
            ami.accept()[0].close()
            reached = True
        except BlockingIOError:  # the process has exited: a connection it made would be queued here
            reached = False
    assert done.returncode == 1
    refusal = [line for line in done.stderr.splitlines() if not line.startswith("{")]  # the JSON log's "starting" aside
    assert refusal == [(f"intake serve: cannot listen on 127.0.0.1:{port}: address already in use: "
                        f"set [http] port (or host) in {config}, or stop what holds it")], done.stderr
    assert not reached, "intake logged in to the PBX though it could not serve"
