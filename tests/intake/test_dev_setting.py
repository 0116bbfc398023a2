"""What only the demo and a test bed may do ([dev] test_bed): static tokens, refused in an
operator's file without it, never written there as the token itself, and still signing their
holder in when held only as a SHA-256; and an open /metrics, which otherwise takes its own bearer token."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import fakeredis
import httpx
import pytest

from intake.app.server import IntakeServer
from intake.app.web import create_app
from intake.core import config
from intake.core.errors import ConfigError
from tests.intake.test_config import SHIPPED_SECRETS

REPO = Path(__file__).resolve().parents[2]
SHIPPED = (REPO / "config" / "intake.toml").read_text()
TOKEN = "a-test-bed-token-0042"
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()


SECRETS = {**os.environ, **SHIPPED_SECRETS, "INTAKE_METRICS_TOKEN": "a-metrics-token-of-32-characters"}


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "intake.app.cli", *args], input=stdin, capture_output=True,
                          text=True, cwd=REPO, env=SECRETS)  # check-config resolves every secret the file names


def without_dev(text: str) -> str:
    return text.replace("[dev]\ntest_bed = true", "")


def test_check_config_refuses_every_static_token_outside_dev_naming_each_key(tmp_path: Path) -> None:
    path = tmp_path / "intake.toml"
    path.write_text(without_dev(SHIPPED))
    result = cli("check-config", str(path))
    assert result.returncode == 2
    for key in ("handlers[0].token", "handlers[3].token", "supervisors[0].token"):
        assert f"{key}: a static token is for the demo and test beds only" in result.stderr, result.stderr
    assert "set [dev] test_bed = true" in result.stderr
    assert "http.metrics_token: required in service: /metrics would be open" in result.stderr


def test_a_service_file_with_no_static_token_and_a_metrics_token_passes(tmp_path: Path) -> None:
    lines = [line for line in without_dev(SHIPPED).splitlines() if not line.startswith("token = ")]
    service = "\n".join(lines).replace("# metrics_token = ", "metrics_token = ")
    (tmp_path / "service.toml").write_text(service)
    result = cli("check-config", str(tmp_path / "service.toml"))
    assert result.returncode == 0, result.stderr
    assert "test_bed" not in result.stdout


def test_with_dev_a_digest_is_accepted_and_the_token_itself_is_refused_naming_the_key(tmp_path: Path) -> None:
    hashed = SHIPPED.replace('token = "env:INTAKE_TOKEN_H1"', f'token_sha256 = "{DIGEST}"')
    (tmp_path / "hashed.toml").write_text(hashed)
    passed = cli("check-config", str(tmp_path / "hashed.toml"))
    assert passed.returncode == 0 and "NOTE: [dev] test_bed: static tokens may sign people in" in passed.stdout
    (tmp_path / "literal.toml").write_text(SHIPPED.replace('token = "env:INTAKE_TOKEN_H2"', f'token = "{TOKEN}"'))
    result = cli("check-config", str(tmp_path / "literal.toml"))
    assert result.returncode == 2
    assert "handlers[1].token: the token itself is written in the file: write its SHA-256 as token_sha256" in result.stderr
    assert TOKEN not in result.stderr + result.stdout


@pytest.mark.parametrize(("entry", "problem"), [
    ({"token": "env:T", "token_sha256": DIGEST}, "give token or token_sha256, not both"),
    ({"token_sha256": DIGEST.upper()}, "String should match pattern"),
    ({"token_sha256": DIGEST[:-1]}, "String should match pattern"),
])
def test_a_bad_static_token_entry_is_named(entry: dict[str, str], problem: str) -> None:
    raw = {"ami": {"secret": "env:S"}, "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]}],
           "handlers": [{"id": "h1", "name": "A", "member": "PJSIP/handler-1", "queues": ["emergency"], **entry}],
           "dev": {"test_bed": True}}
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    assert any(problem in p.message for p in caught.value.problems), caught.value.problems


def test_hash_token_prints_the_digest_of_the_token_read_from_standard_input() -> None:
    result = cli("hash-token", stdin=TOKEN + "\n")
    assert (result.returncode, result.stdout.strip()) == (0, DIGEST)


async def test_a_token_held_only_as_its_digest_signs_its_holder_in(tmp_path: Path) -> None:
    (tmp_path / "intake.toml").write_text(SHIPPED.replace('token = "env:INTAKE_TOKEN_SUP1"', f'token_sha256 = "{DIGEST}"'))
    cfg = config.load(tmp_path / "intake.toml")
    secrets = {"ami.secret": "not-used"} | {f"handlers[{i}].token": f"handler-token-{i:08d}" for i in range(4)}
    app = create_app(IntakeServer(cfg, secrets, fakeredis.FakeAsyncRedis()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake.test") as http:
        assert (await http.get("/api/queues", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200
        assert (await http.get("/api/queues", headers={"Authorization": f"Bearer {DIGEST}"})).status_code == 401


async def test_with_a_metrics_token_only_its_bearer_reads_metrics(tmp_path: Path) -> None:
    raw = config.read_toml(REPO / "config" / "intake.toml")
    cfg = config.parse({**raw, "http": {"metrics_token": "env:INTAKE_METRICS_TOKEN"}})
    secrets = {"ami.secret": "not-used", "http.metrics_token": "scraper-token-7781"}
    secrets |= {f"handlers[{i}].token": f"handler-token-{i:08d}" for i in range(4)} | {"supervisors[0].token": TOKEN}
    app = create_app(IntakeServer(cfg, secrets, fakeredis.FakeAsyncRedis()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake.test") as http:
        scraped = await http.get("/metrics", headers={"Authorization": "Bearer scraper-token-7781"})
        assert scraped.status_code == 200 and "intake_waiting" in scraped.text
        for headers in ({}, {"Authorization": "Bearer wrong-token-0000"}, {"Authorization": f"Bearer {TOKEN}"}):
            refused = await http.get("/metrics", headers=headers)  # a supervisor's token is not the scraper's
            assert (refused.status_code, refused.headers.get("www-authenticate")) == (401, "Bearer"), headers
        assert (await http.get("/api/queues", headers={"Authorization": "Bearer scraper-token-7781"})).status_code == 401
