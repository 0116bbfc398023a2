"""What a person starting ``intake demo`` reads: each handler by name with their token, the
supervisor's token, the pages."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.demo_process import REPO
from tests.waiting import patience


@pytest.fixture(scope="module")
def banner() -> str:
    with subprocess.Popen([sys.executable, "-m", "intake.app.cli", "demo", "--port", "0"], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            lines = []
            for line in proc.stdout:  # type: ignore[union-attr]
                lines.append(line)
                if line.startswith("Press Ctrl-C"):
                    break
            return "".join(lines)
        finally:
            proc.terminate()
            proc.wait(patience(10))


def test_the_banner_names_each_handler_and_gives_each_token_plainly(banner: str) -> None:
    signins = dict(re.findall(r"^  (.+?): +token (\S+)", banner, re.MULTILINE))
    assert set(signins) == {"Alice Hughes (h1)", "Ben Okafor (h2)", "Carys Jones (h3)", "Dev Patel (h4)",
                            "Demo supervisor (sup1)"}, banner
    assert len(set(signins.values())) == 5
    assert "?token=" not in banner  # a token is never put in a URL
    base = re.search(r"Handler desktop +(http://127\.0\.0\.1:\d+)/desktop", banner)
    assert base is not None, banner
    for page in ("/wallboard", "/reports", "/docs"):
        assert f"{base[1]}{page}" in banner
