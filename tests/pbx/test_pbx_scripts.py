"""scripts/pbx-up on a running PBX is quick and keeps it up; pbx-env tells tests where it is."""

from __future__ import annotations

import socket
import stat
import subprocess
import time

import pytest

from tests.support.testbed.pbx import SCRIPTS, PbxTestbed

pytestmark = pytest.mark.pbx


def test_pbx_up_again_reloads_the_running_pbx_within_seconds(pbx: PbxTestbed) -> None:
    began = time.monotonic()
    proc = subprocess.run([SCRIPTS / "pbx-up"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert time.monotonic() - began < 5
    assert "already running" in proc.stderr
    assert "Asterisk 22" in proc.stdout
    with socket.create_connection((pbx.ami_host, pbx.ami_port), timeout=2) as s:
        assert s.recv(100).startswith(b"Asterisk Call Manager/")


def test_the_secret_is_private_and_not_in_the_repository_config(pbx: PbxTestbed) -> None:
    assert stat.S_IMODE(pbx.secret_file.stat().st_mode) == 0o600
    repo_conf = (SCRIPTS.parent / "config" / "asterisk" / "manager.conf").read_text()
    assert pbx.ami_secret not in repo_conf and "@AMI_SECRET@" in repo_conf
    installed = (pbx.root / "etc" / "asterisk" / "manager.conf").read_text()
    assert f"secret = {pbx.ami_secret}" in installed
