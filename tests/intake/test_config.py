"""An administrator's configuration file is accepted when right and refused with every fault named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from intake.core import config
from intake.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "intake.toml"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "intake.app.cli", *args], capture_output=True, text=True, cwd=REPO, env=env)


SHIPPED_SECRETS = {"INTAKE_AMI_SECRET": "ami-secret-of-the-pbx", **{f"INTAKE_TOKEN_{h}": f"a-token-of-32-chars-for-{h:<8}"
                                                                   for h in ("H1", "H2", "H3", "H4", "SUP1")}}


def test_shipped_config_passes_check_config():
    result = run_cli("check-config", str(SHIPPED), env={"PATH": "/usr/bin:/bin", **SHIPPED_SECRETS})
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "4 handler(s)" in result.stdout and "6 secret(s) resolved" in result.stdout


def test_shipped_config_names_999_target_of_12_seconds():
    cfg = config.load(SHIPPED)
    line = cfg.line_of("emergency")
    assert line is not None and (line.name, line.target_seconds) == ("999", 12)


BROKEN = """
colour = "blue"
[ami]
secret = "hunter2-plain"
port = 99999
[[lines]]
name = "999"
target_seconds = 0
queues = ["emergency"]
[[lines]]
name = "101"
target_seconds = 30
queues = ["emergency", "non-emergency"]
[[handlers]]
id = "h1"
name = "A"
member = "PJSIP/handler-1"
queues = ["emergency", "sales"]
token = "env:T1"
[[handlers]]
id = "h1"
name = "B"
member = "PJSIP/handler-2"
queues = ["non-emergency"]
token = "env:T2"
"""


def test_check_config_names_the_file_and_every_problem_at_once(tmp_path: Path):
    path = tmp_path / "broken.toml"
    path.write_text(BROKEN)
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    err = result.stderr
    expected = [
        "colour: unknown key",
        "ami.port: Input should be less than or equal to 65535",
        "ami.secret: must be env:NAME or file:PATH",
        "lines[0].target_seconds: Input should be greater than 0",
        "lines[1].queues[0]: queue 'emergency' is already on line 999",
        "handlers[0].queues[1]: queue 'sales' is on no line",
        "handlers[1].id: duplicate handler id 'h1'",
    ]
    for fragment in expected:
        assert fragment in err, f"missing {fragment!r} in:\n{err}"
    assert err.count(str(path)) >= len(expected)
    assert "hunter2-plain" not in err


def test_not_toml_is_refused_with_the_line(tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text("[ami\nsecret = 1\n")
    with pytest.raises(ConfigError) as exc:
        config.load(path)
    assert "not valid TOML" in str(exc.value) and "line 1" in str(exc.value)


def test_missing_file_is_a_clear_error(tmp_path: Path):
    result = run_cli("check-config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2 and "cannot read file" in result.stderr


def test_unset_secret_references_are_reported_by_default(tmp_path: Path):
    for flags in ((), ("--secrets",)):  # --secrets: the default, still accepted
        result = run_cli("check-config", *flags, str(SHIPPED), env={"PATH": "/usr/bin:/bin"})
        assert result.returncode == 2
        assert "ami.secret: environment variable INTAKE_AMI_SECRET is not set" in result.stderr
        assert "6 problem(s)" in result.stderr and "handlers[3].token" in result.stderr
    alone = run_cli("check-config", "--no-secrets", str(SHIPPED), env={"PATH": "/usr/bin:/bin"})
    assert alone.returncode == 0 and "secrets NOT checked" in alone.stdout


def test_a_config_without_a_999_line_is_refused():
    with pytest.raises(ConfigError) as exc:
        config.parse({"ami": {"secret": "env:X"}, "lines": [{"name": "101", "target_seconds": 60, "queues": ["q"]}]})
    assert "no 999 line" in str(exc.value)


@pytest.mark.parametrize(("wrapup", "reason", "problem"), [
    (-1, "wrap-up", "lines[0].wrapup_seconds"),
    (7200, "wrap-up", "lines[0].wrapup_seconds"),
    ("ten", "wrap-up", "lines[0].wrapup_seconds"),
    (10, "wrap\r\nAction: Hangup", "wrapup_reason"),
    (10, "wrap\x00up", "wrapup_reason"),
    (10, "wrap;up", "wrapup_reason"),  # would corrupt the PBX's saved members
    (10, "é" * 40, "wrapup_reason"),  # 80 bytes: Asterisk keeps 79 and, cut mid-character, drops the event
])
def test_wrapup_seconds_and_reason_are_checked(wrapup, reason, problem):
    raw = {"ami": {"secret": "env:X"}, "wrapup_reason": reason,
           "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"], "wrapup_seconds": wrapup}]}
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    assert [p.path for p in caught.value.problems] == [problem]


def test_values_the_config_sends_to_the_pbx_meet_the_actions_rules():
    raw = {"ami": {"secret": "env:X", "username": "in take"}, "wrapup_reason": "wrap-up: 15 s",  # ':' is fine in a value
           "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency", "999,x"]}],
           "handlers": [{"id": "h1", "name": "A", "member": "PJSIP/h1&PJSIP/h2", "queues": ["emergency"], "token": "env:T"}],
           "routing": {"callback": {"exten": "{number}@trunk"}}}
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    said = {p.path: p.message for p in caught.value.problems}
    assert set(said) == {"ami.username", "lines[0].queues[1]", "handlers[0].member", "routing.callback.exten"}, said
    assert said["handlers[0].member"].startswith("contains '&': Dial() would ring each side of it")
    assert said["lines[0].queues[1]"].startswith("contains ','")
    assert said["routing.callback.exten"].startswith("makes extensions that cannot be sent: '+447700900000@trunk' is not an extension")


def test_shipped_config_sets_a_wrapup_per_line():
    cfg = config.load(Path(__file__).resolve().parents[2] / "config" / "intake.toml")
    assert {line.name: line.wrapup_seconds for line in cfg.lines} == {"999": 15, "101": 10}


def test_the_repeat_caller_keys_are_checked_and_the_retired_one_says_what_replaced_it():
    raw = {"ami": {"secret": "env:X"}, "repeat_caller_threshold": 3,
           "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]}],
           "routing": {"repeat_window_seconds": 0, "repeat_calls": 0}}
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    problems = {p.path: p.message for p in caught.value.problems}
    assert set(problems) == {"repeat_caller_threshold", "routing.repeat_window_seconds", "routing.repeat_calls"}
    assert "[routing] repeat_window_seconds" in problems["repeat_caller_threshold"]
    assert "greater than 0" in problems["routing.repeat_window_seconds"]
    assert "greater than or equal to 1" in problems["routing.repeat_calls"]


def test_shipped_config_flags_a_third_call_within_an_hour():
    cfg = config.load(SHIPPED)
    assert (cfg.routing.repeat_window_seconds, cfg.routing.repeat_calls) == (3600, 2)


@pytest.mark.parametrize(("top", "routing", "problems"), [
    ({}, {"pause_after_ring_no_answer": -1}, ["routing.pause_after_ring_no_answer: Input should be greater than or equal to 0"]),
    ({}, {"pause_after_ring_no_answer": 2.5}, ["routing.pause_after_ring_no_answer: Input should be a valid integer"]),
    ({}, {"ring_no_answer_reason": "rang out\r\nAction: Hangup"}, ["routing.ring_no_answer_reason: contains a control character (U+000D)"]),
    ({}, {"ring_no_answer_reason": ""}, ["routing.ring_no_answer_reason: is empty"]),
    ({}, {"ring_no_answer_reason": "wrap-up"}, ["routing.ring_no_answer_reason: same as wrapup_reason ('wrap-up')"]),
    ({"wrapup_reason": "rang out"}, {}, ["routing.ring_no_answer_reason: same as wrapup_reason ('rang out')"]),
])
def test_the_ring_out_rule_is_checked(top, routing, problems):
    raw = {"ami": {"secret": "env:X"}, **top, "routing": routing,
           "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]}]}
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    said = [f"{p.path}: {p.message}" for p in caught.value.problems]
    assert len(said) == len(problems) and all(s.startswith(p) for s, p in zip(said, problems)), said


def test_shipped_config_pauses_a_handler_after_one_ring_out():
    cfg = config.load(SHIPPED)
    assert (cfg.routing.pause_after_ring_no_answer, cfg.routing.ring_no_answer_reason) == (1, "rang out")


@pytest.mark.parametrize(("skew", "problem"), [
    (0, "greater than 0"), (-5, "greater than 0"), ("nan", "finite number"), (1e9, "less than or equal to 31622400"),
    ("five minutes", "valid number"),
])
def test_the_allowed_clock_skew_is_checked(skew, problem):
    raw = {"ami": {"secret": "env:X", "max_clock_skew_seconds": float(skew) if skew == "nan" else skew},
           "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]}]}
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    (said,) = caught.value.problems
    assert said.path == "ami.max_clock_skew_seconds" and problem in said.message, said


def test_shipped_config_believes_pbx_timestamps_within_five_minutes_of_ours():
    assert config.load(SHIPPED).ami.max_clock_skew_seconds == 300


@pytest.mark.parametrize(("written", "spooled_to"), [
    (None, "{folder}/unwritten-records.jsonl"),  # by default: nothing unwritten is lost at shutdown
    ('"spool/records.jsonl"', "{folder}/spool/records.jsonl"),
    ('"/var/lib/intake/records.jsonl"', "/var/lib/intake/records.jsonl"),
    ('""', ""),  # off: each unwritten record is only logged
])
def test_records_unwritten_at_shutdown_are_spooled_beside_the_config_unless_told_otherwise(tmp_path: Path, written, spooled_to):
    text = SHIPPED.read_text()
    if written is not None:
        text = text.replace("history_held_seconds = 60\n", f"history_held_seconds = 60\nunwritten_spool = {written}\n")
    path = tmp_path / "intake.toml"
    path.write_text(text)
    assert config.load(path).redis.unwritten_spool == spooled_to.format(folder=tmp_path)


SENTINELS = ["10.0.0.1:26379", "10.0.0.2:26379", "[fd00::3]:26379"]


@pytest.mark.parametrize(("redis", "replicas"), [
    ({}, 0),  # the embedded store
    ({"url": "redis://10.0.0.1:6379/0"}, 0),  # one Redis: acknowledged once it has the record, as before
    ({"url": "redis://10.0.0.1:6379/0", "wait_for_replicas": 1}, 1),
    ({"sentinels": SENTINELS, "service": "intake"}, 1),  # with Sentinel: a replica must hold it
    ({"sentinels": SENTINELS, "service": "intake", "wait_for_replicas": 0}, 0),
])
def test_records_wait_for_a_replica_by_default_with_sentinel_only(redis, replicas):
    raw = {"ami": {"secret": "env:X"}, "redis": redis, "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]}]}
    assert config.parse(raw).redis.replicas_to_wait == replicas


@pytest.mark.parametrize(("redis", "problem"), [
    ({"sentinels": ["10.0.0.1"], "service": "intake"}, "redis.sentinels[0]: must be host:port (a Sentinel's address and port) (got '10.0.0.1')"),
    ({"sentinels": ["10.0.0.1:0"], "service": "intake"}, "redis.sentinels[0]: must be host:port"),
    ({"sentinels": SENTINELS}, 'redis: sentinels need the service they monitor the primary by'),
    ({"sentinels": SENTINELS, "service": "intake", "url": "redis://10.0.0.1:6379"}, "redis: give either url"),
    ({"url": "redis://10.0.0.1:6379", "service": "intake"}, "redis: service, database and password go with sentinels"),
    ({"sentinels": SENTINELS, "service": "intake", "password": "hunter2"}, "redis.password: must be env:NAME or file:PATH"),
    ({"wait_for_replicas": 1}, "redis: wait_for_replicas needs a real Redis"),
    ({"sentinels": SENTINELS, "service": "intake", "wait_timeout_seconds": 30}, "redis.wait_timeout_seconds: Input should be less than or equal to 4"),
])
def test_the_redis_section_is_checked(redis, problem):
    raw = {"ami": {"secret": "env:X"}, "redis": redis, "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]}]}
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    (said,) = caught.value.problems
    assert f"{said.path}: {said.message}".startswith(problem), said
    assert "hunter2" not in said.message  # a password typed inline is never echoed


def test_the_redis_password_is_resolved_with_the_other_secrets(monkeypatch):
    raw = {"ami": {"secret": "env:X"}, "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]}],
           "redis": {"sentinels": SENTINELS, "service": "intake", "password": "env:INTAKE_TEST_REDIS_PASSWORD"}}
    monkeypatch.setenv("X", "ami-secret")
    monkeypatch.setenv("INTAKE_TEST_REDIS_PASSWORD", "s3cret")
    assert config.resolve_secrets(config.parse(raw))["redis.password"] == "s3cret"


def test_the_desktop_streams_keys_are_checked_with_their_bounds(tmp_path: Path):
    path = tmp_path / "streams.toml"
    path.write_text(SHIPPED.read_text() + "\n[desktop_streams]\nseq_budget_seconds = 5\nstream_length = 10\npresence_seconds = 0.1\n")
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    for fragment in ("desktop_streams.seq_budget_seconds: Input should be less than or equal to 2",
                     "desktop_streams.stream_length: Input should be greater than or equal to 64",
                     "desktop_streams.presence_seconds: Input should be greater than or equal to 0.5"):
        assert fragment in result.stderr, f"missing {fragment!r} in:\n{result.stderr}"
    path.write_text(SHIPPED.read_text() + "\n[desktop_streams]\nseq_budget_seconds = 0.1\nstream_length = 1024\n")
    streams = config.load(path).desktop_streams
    assert (streams.seq_budget_seconds, streams.stream_length, streams.presence_seconds) == (0.1, 1024, 3.0)
