"""Secrets as an administrator meets them: ``check-config`` refuses a token too short to be safe,
whichever way it is given, without showing it; ``intake token new`` makes one, and doing what it
prints makes the configuration pass; the operations guide's ``export`` line names every secret
the shipped configuration needs."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tests.intake.test_config import REPO, SHIPPED, SHIPPED_SECRETS, run_cli

BASE_ENV = {"PATH": "/usr/bin:/bin"}


def test_a_short_token_from_the_environment_or_a_file_is_refused_without_being_shown(tmp_path: Path) -> None:
    short = tmp_path / "sup1.token"
    short.write_text("0123456789a\n")
    config = tmp_path / "intake.toml"
    config.write_text(SHIPPED.read_text().replace('"env:INTAKE_TOKEN_SUP1"', f'"file:{short}"'))
    result = run_cli("check-config", str(config), env=BASE_ENV | SHIPPED_SECRETS | {"INTAKE_TOKEN_H2": "pass1234"})
    assert result.returncode == 2
    assert "2 problem(s)" in result.stderr
    assert ("handlers[1].token: env:INTAKE_TOKEN_H2 holds a token of 8 characters: at least 16 "
            "(`intake token new` makes one)") in result.stderr
    assert f"supervisors[0].token: file:{short} holds a token of 11 characters" in result.stderr
    assert "pass1234" not in result.stderr + result.stdout and "0123456789a" not in result.stderr + result.stdout


def test_serve_refuses_a_short_token_before_it_starts(tmp_path: Path) -> None:
    result = run_cli("serve", "--config", str(SHIPPED), env=BASE_ENV | SHIPPED_SECRETS | {"INTAKE_TOKEN_H1": "short"})
    assert result.returncode == 2 and "handlers[0].token: env:INTAKE_TOKEN_H1 holds a token of 5 characters" in result.stderr


def test_a_new_token_goes_where_the_command_says_and_the_configuration_passes() -> None:
    shown = run_cli("token", "new", "--env", "INTAKE_TOKEN_H3", env=BASE_ENV)
    assert shown.returncode == 0, shown.stderr
    token = re.search(r"^  INTAKE_TOKEN_H3=(\S+)$", shown.stdout, re.MULTILINE)
    assert token is not None, shown.stdout
    assert len(token[1]) >= 32 and f"  {token[1]}\n" in shown.stdout
    assert '  token = "env:INTAKE_TOKEN_H3"' in shown.stdout
    assert f'  token_sha256 = "{hashlib.sha256(token[1].encode()).hexdigest()}"' in shown.stdout  # a test bed's form
    assert '"env:INTAKE_TOKEN_H3"' in SHIPPED.read_text()
    again = run_cli("token", "new", env=BASE_ENV)
    assert token[1] not in again.stdout  # a new one every time
    checked = run_cli("check-config", str(SHIPPED), env=BASE_ENV | SHIPPED_SECRETS | {"INTAKE_TOKEN_H3": token[1]})
    assert checked.returncode == 0, checked.stderr
    refused = run_cli("token", "new", "--env", "INTAKE TOKEN", env=BASE_ENV)
    assert refused.returncode == 2 and "not an environment variable's name" in refused.stderr


def test_the_guides_export_line_names_every_secret_the_shipped_configuration_needs() -> None:
    operations = (REPO / "docs" / "operations.md").read_text()
    export = re.search(r"^export (.+?)(?:#|$)", operations, re.MULTILINE)
    assert export is not None
    named = set(re.findall(r"([A-Z0-9_]+)=", export[1]))
    needed = set(re.findall(r'^[^#\n]*"env:([A-Z0-9_]+)"', SHIPPED.read_text(), re.MULTILINE))
    assert named == needed == set(SHIPPED_SECRETS)
