"""``intake ... --help`` explains every option, and ``serve --help`` says where the configuration
reference is: a PBX administrator's first look at the command."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from intake.app.cli import parser

REPO = Path(__file__).resolve().parents[2]


def commands(p: argparse.ArgumentParser, prefix: str = "intake") -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(prefix, p)]
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += commands(sub, f"{prefix} {name}")
    return found


def test_every_option_and_argument_of_every_command_is_explained() -> None:
    unexplained = [f"{name} {action.dest}" for name, p in commands(parser()) for action in p._actions
                   if not isinstance(action, argparse._SubParsersAction) and not action.help]
    assert unexplained == []


def test_serve_help_says_where_the_configuration_reference_is() -> None:
    shown = subprocess.run([sys.executable, "-m", "intake.app.cli", "serve", "--help"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout
    for where in ("docs/operations.md", "config/intake.toml", "docs/connect-asterisk.md", "check-config"):
        assert where in shown, where
    for option in ("--config FILE", "--log-level", "--loop"):
        assert option in shown
    assert (REPO / "docs" / "operations.md").read_text().count("## Configuration") == 1
