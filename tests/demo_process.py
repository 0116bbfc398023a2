"""`intake demo` as a separate process, as a person starts it: its one JSON line, then serving."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def demo_process(workdir: Path, *args: str) -> Iterator[dict]:
    """Run `intake demo --port 0 --json ARGS...`; yields its JSON line (base URL, tokens)."""
    errors = workdir / "stderr.log"
    with errors.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "intake.app.cli", "demo", "--port", "0", "--json", *args],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            pytest.fail(f"intake demo printed nothing: {errors.read_text()}")
        yield json.loads(line)
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()  # type: ignore[union-attr]
