"""Two PBX sites in one file: [[pbx]] sections, lines and handlers that say their site, every fault
named with its key path; the old single [ami] stays one site named "default"."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from intake.core import config
from intake.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def two_sites() -> dict[str, Any]:
    """Both sites call their 999 queue "emergency" and their phones PJSIP/handler-1: each is its own PBX."""
    return {
        "pbx": [{"name": "north", "port": 5141, "secret": "env:AMI_NORTH"},
                {"name": "south", "port": 5142, "secret": "file:/etc/intake/south.secret"}],
        "lines": [{"site": "north", "name": "999", "target_seconds": 12, "queues": ["emergency"]},
                  {"site": "north", "name": "101", "target_seconds": 60, "queues": ["non-emergency"]},
                  {"site": "south", "name": "999", "target_seconds": 10, "queues": ["emergency"]}],
        "handlers": [{"site": "north", "id": "n1", "name": "A", "member": "PJSIP/handler-1", "queues": ["emergency", "non-emergency"],
                      "token": "literal-token-north-1"},
                     {"site": "south", "id": "s1", "name": "B", "member": "PJSIP/handler-1", "queues": ["emergency"],
                      "token": "literal-token-south-1"}],
    }


def test_each_site_sees_its_own_pbx_lines_handlers_and_keys():
    cfg = config.parse(two_sites())
    assert [s.name for s in cfg.sites] == ["north", "south"]
    south = cfg.site_config("south")
    assert south.ami.port == 5142 and [s.name for s in south.sites] == ["south"]
    assert [(line.name, line.target_seconds) for line in south.lines] == [("999", 10)]
    assert [h.id for h in south.handlers] == ["s1"]
    assert south.redis.key_prefix == "intake:site:south:"
    assert cfg.site_of_handler("s1") == "south" and cfg.secret_key("south") == "pbx[1].secret"


def test_the_single_ami_section_is_one_site_named_default_with_the_keys_it_always_had():
    cfg = config.load(REPO / "config" / "intake.toml")
    assert [s.name for s in cfg.sites] == ["default"]
    default = cfg.site_config("default")
    assert default.redis.key_prefix == "intake:" and default.ami == cfg.ami
    assert default.handlers == cfg.handlers and default.lines == cfg.lines
    assert cfg.secret_key("default") == "ami.secret"


def test_one_pbx_needs_no_site_on_its_lines_and_handlers():
    raw = two_sites()
    raw["pbx"] = raw["pbx"][:1]
    raw["lines"] = [{k: v for k, v in line.items() if k != "site"} for line in raw["lines"][:2]]
    raw["handlers"] = [{k: v for k, v in h.items() if k != "site"} for h in raw["handlers"][:1]]
    cfg = config.parse(raw)
    assert [h.id for h in cfg.site_config("north").handlers] == ["n1"]


def _edit(path: str, value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(two_sites())
    *parents, last = path.split(".")
    node: Any = raw
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is _DROP:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return raw


_DROP = object()

FAULTS = [
    # (what the administrator wrote, the key path named, words of the message)
    (_edit("pbx.1.name", "north"), "pbx[1].name", "duplicate site name 'north'"),
    (_edit("pbx.1.port", 5141), "pbx[1].port", "same AMI address as pbx[0]"),
    (_edit("pbx.1.name", "South Site"), "pbx[1].name", "should match pattern"),
    (_edit("pbx.0.secret", "plain-secret"), "pbx[0].secret", "must be env:NAME or file:PATH"),
    (_edit("pbx.0.name", _DROP), "pbx[0].name", "required key is missing"),
    (_edit("pbx", []), "pbx", "at least one [[pbx]]"),
    (_edit("lines.2.site", "west"), "lines[2].site", "no [[pbx]] named 'west'"),
    (_edit("lines.2.site", _DROP), "lines[2].site", "required with several [[pbx]]"),
    (_edit("handlers.1.site", _DROP), "handlers[1].site", "required with several [[pbx]]"),
    (_edit("handlers.1.site", "east"), "handlers[1].site", "no [[pbx]] named 'east'"),
    (_edit("handlers.1.queues", ["non-emergency"]), "handlers[1].queues[0]", "queue 'non-emergency' is on no line of site south"),
    (_edit("handlers.1.id", "n1"), "handlers[1].id", "duplicate handler id 'n1'"),
    (_edit("handlers.1.site", "north"), "handlers[1].member", "duplicate member interface 'PJSIP/handler-1'"),
    (_edit("lines.2.name", "999") | {"lines": two_sites()["lines"] + [{"site": "south", "name": "999", "target_seconds": 9, "queues": ["x"]}]},
     "lines[3].name", "line 999 is defined 2 times on site south"),
    (_edit("lines.1.queues", ["emergency"]), "lines[1].queues[0]", "queue 'emergency' is already on line 999 on site north"),
    (_edit("ami", {"secret": "env:X"}), "pbx", "[ami] and [[pbx]] together"),
    (_edit("lines.2.name", "101"), "lines[2].queues[0]", "queue 'emergency' is on line 999 at another site"),
]


@pytest.mark.parametrize(("raw", "path", "words"), FAULTS, ids=[f[1] + ":" + f[2][:24] for f in FAULTS])
def test_a_fault_in_the_sites_is_named_with_its_key_path(raw: dict[str, Any], path: str, words: str):
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    assert any(p.path == path and words in p.message for p in caught.value.problems), caught.value.problems


def test_a_site_s_queue_may_share_its_name_with_the_other_site_s():
    cfg = config.parse(two_sites())
    assert all(line.queues == ["emergency"] for line in cfg.lines if line.name == "999")


def test_secrets_are_resolved_per_site_and_a_missing_one_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    raw = _edit("pbx.1.secret", f"file:{tmp_path / 'south.secret'}")
    (tmp_path / "south.secret").write_text("s3cret-south\n")
    monkeypatch.setenv("AMI_NORTH", "s3cret-north")
    secrets = config.resolve_secrets(config.parse(raw))
    assert (secrets["pbx[0].secret"], secrets["pbx[1].secret"]) == ("s3cret-north", "s3cret-south")
    monkeypatch.delenv("AMI_NORTH")
    with pytest.raises(ConfigError) as caught:
        config.resolve_secrets(config.parse(raw))
    assert [p.path for p in caught.value.problems] == ["pbx[0].secret"]


def test_check_config_names_the_sites_and_a_site_fault_with_its_key_path(tmp_path: Path):
    good = tmp_path / "two-sites.toml"
    good.write_text("""
[http]
metrics_token = "env:INTAKE_METRICS_TOKEN"
[[pbx]]
name = "north"
port = 5141
secret = "env:AMI_NORTH"
[[pbx]]
name = "south"
port = 5142
secret = "env:AMI_SOUTH"
[[lines]]
site = "north"
name = "999"
target_seconds = 12
queues = ["emergency"]
[[lines]]
site = "south"
name = "999"
target_seconds = 12
queues = ["emergency"]
""")
    run = [sys.executable, "-m", "intake.app.cli", "check-config"]
    secrets = {**os.environ, "AMI_NORTH": "s3cret-north", "AMI_SOUTH": "s3cret-south",  # check-config resolves them
               "INTAKE_METRICS_TOKEN": "a-metrics-token-of-32-characters"}
    result = subprocess.run([*run, str(good)], capture_output=True, text=True, cwd=REPO, env=secrets)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "sites north, south" in result.stdout
    bad = tmp_path / "one-site-too-few.toml"
    bad.write_text(good.read_text().replace('site = "south"', 'site = "west"'))
    result = subprocess.run([*run, str(bad)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    assert "lines[1].site: no [[pbx]] named 'west' ([[pbx]] are north, south)" in result.stderr
