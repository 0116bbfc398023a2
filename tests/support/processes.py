"""Child processes of a test (intake nodes, HAProxy): ended politely, then firmly; their logs' tails."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path


def end(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, grace: float = 10) -> None:
    """Send ``sig`` (SIGKILL: kill -9) to a process still running, and reap it; killed if it
    has not ended after ``grace`` seconds."""
    if process is not None and process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tail(path: Path, n: int = 40) -> str:
    """The last ``n`` lines of a log ("" while there is none)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""
