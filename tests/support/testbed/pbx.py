"""Where the test PBX is and how to bring it up: a thin layer over scripts/pbx-up and pbx-env."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = REPO / "scripts"


class PbxUpFailed(RuntimeError):
    def __init__(self, status: int, output: str) -> None:
        super().__init__(f"scripts/pbx-up exited {status}:\n{output}")
        self.status = status
        self.output = output


@dataclass(frozen=True, slots=True)
class PbxTestbed:
    ami_host: str
    ami_port: int
    ami_user: str
    secret_file: Path
    root: Path
    queue_log: Path

    @property
    def ami_secret(self) -> str:
        return os.environ.get("INTAKE_AMI_SECRET") or self.secret_file.read_text().strip()

    def read_queue_log(self) -> list[list[str]]:
        """queue_log as rows: time|callid|queue|agent|event|data... split on '|'."""
        if not self.queue_log.exists():
            return []
        return [line.split("|") for line in self.queue_log.read_text().splitlines() if line]


def testbed() -> PbxTestbed:
    out = subprocess.run([SCRIPTS / "pbx-env"], check=True, capture_output=True, text=True).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return PbxTestbed(
        ami_host=env["INTAKE_AMI_HOST"],
        ami_port=int(env["INTAKE_AMI_PORT"]),
        ami_user=env["INTAKE_AMI_USER"],
        secret_file=Path(env["INTAKE_AMI_SECRET_FILE"]),
        root=Path(env["INTAKE_PBX_ROOT"]),
        queue_log=Path(env["INTAKE_QUEUE_LOG"]),
    )


def pbx_up(*, fresh_logs: bool = False, restart: bool = False, timeout: float = 300) -> tuple[PbxTestbed, str]:
    """Run scripts/pbx-up; raises :class:`PbxUpFailed` with its output (never skips)."""
    argv = [str(SCRIPTS / "pbx-up")] + (["--fresh-logs"] if fresh_logs else []) + (["--restart"] if restart else [])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise PbxUpFailed(proc.returncode, output)
    return testbed(), output


def pbx_down() -> None:
    subprocess.run([str(SCRIPTS / "pbx-down")], check=False, capture_output=True, timeout=60)
