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
    ami_user: str  # intake's: exactly the classes intake needs
    secret_file: Path
    root: Path
    queue_log: Path
    driver_user: str = "test-driver"  # the tests' own (hangs up calls): manager.conf [test-driver]

    @property
    def ami_secret(self) -> str:
        return os.environ.get("INTAKE_AMI_SECRET") or self.secret_file.read_text().strip()

    def read_queue_log(self) -> list[list[str]]:
        """queue_log as rows: time|callid|queue|agent|event|data... split on '|'."""
        if not self.queue_log.exists():
            return []
        return [line.split("|") for line in self.queue_log.read_text().splitlines() if line]


def site_b_env() -> dict[str, str]:
    """The environment of scripts/pbx-up for a second Asterisk on this host (a second PBX site):
    its own root (a copy of the prepared one), AMI and SIP ports, RTP range and phone ports.
    ``INTAKE_SITE_B_*`` set them (a helper's own ports); the defaults suit a machine of its own (CI)."""
    get = os.environ.get
    offset = int(get("INTAKE_PHONE_PORT_OFFSET", "0"))
    return {
        **os.environ,
        "INTAKE_CACHE": get("INTAKE_SITE_B_CACHE", str(Path(os.environ.get("INTAKE_CACHE", REPO / ".cache")) / "site-b")),
        "INTAKE_PBX_SEED": str(Path(os.environ.get("INTAKE_CACHE", REPO / ".cache")) / "asterisk-root"),
        "INTAKE_AMI_PORT": get("INTAKE_SITE_B_AMI_PORT", str(int(get("INTAKE_AMI_PORT", "5038")) + 1)),
        "INTAKE_SIP_PORT": get("INTAKE_SITE_B_SIP_PORT", str(int(get("INTAKE_SIP_PORT", "5060")) + 1)),
        "INTAKE_RTP_START": get("INTAKE_SITE_B_RTP_START", "40000"),
        "INTAKE_RTP_END": get("INTAKE_SITE_B_RTP_END", "44999"),
        "INTAKE_PHONE_PORT_OFFSET": get("INTAKE_SITE_B_PHONE_PORT_OFFSET", str(offset + 3000)),
    }


def testbed(env: dict[str, str] | None = None) -> PbxTestbed:
    """``env``: another test bed's (:func:`site_b_env`); None: this process's."""
    out = subprocess.run([SCRIPTS / "pbx-env"], check=True, capture_output=True, text=True, env=env).stdout
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return PbxTestbed(
        ami_host=env["INTAKE_AMI_HOST"],
        ami_port=int(env["INTAKE_AMI_PORT"]),
        ami_user=env["INTAKE_AMI_USER"],
        secret_file=Path(env["INTAKE_AMI_SECRET_FILE"]),
        root=Path(env["INTAKE_PBX_ROOT"]),
        queue_log=Path(env["INTAKE_QUEUE_LOG"]),
        driver_user=env["INTAKE_AMI_DRIVER_USER"],
    )


def pbx_up(*, fresh_logs: bool = False, restart: bool = False, timeout: float = 300,
           env: dict[str, str] | None = None) -> tuple[PbxTestbed, str]:
    """Run scripts/pbx-up (``env``: another test bed's, :func:`site_b_env`); raises
    :class:`PbxUpFailed` with its output (never skips)."""
    argv = [str(SCRIPTS / "pbx-up")] + (["--fresh-logs"] if fresh_logs else []) + (["--restart"] if restart else [])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise PbxUpFailed(proc.returncode, output)
    return testbed(env), output


def pbx_down(env: dict[str, str] | None = None) -> None:
    subprocess.run([str(SCRIPTS / "pbx-down")], check=False, capture_output=True, timeout=60, env=env)
