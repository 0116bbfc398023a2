"""scripts/busy_hour.py end to end, through its command line: a short hour where 999 is swamped
and 101 idle, replayed with the policy on and off; and profiles a user got wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

# Three minutes: 999 calls every ~15 s for one 999 handler who needs a minute each; three 101
# handlers with almost nothing to do. Nobody gives up, so every call is answered in both runs.
SWAMPED = """
name = "swamped 999"
seed = 7
interval_seconds = 60
ring_seconds = { distribution = "fixed", seconds = 2 }

[handlers]
only_999 = 1
only_101 = 3
both = 0

[lines.999]
arrivals_per_hour = [240, 240, 240]
talk_seconds = { distribution = "fixed", seconds = 55 }
wrapup_seconds = { distribution = "fixed", seconds = 5 }
patience_seconds = { distribution = "fixed", seconds = 3600 }

[lines.101]
arrivals_per_hour = [20, 0, 20]
talk_seconds = { distribution = "uniform", low = 30, high = 90 }
wrapup_seconds = { distribution = "fixed", seconds = 5 }
patience_seconds = { distribution = "lognormal", median = 120, sigma = 0.5 }
"""


def busy_hour(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "scripts/busy_hour.py", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def run_json(profile: Path) -> dict[str, Any]:
    done = busy_hour("--profile", str(profile), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_with_999_swamped_and_101_idle_the_policy_answers_more_999_calls_within_target(tmp_path: Path) -> None:
    profile = tmp_path / "swamped.toml"
    profile.write_text(SWAMPED)
    result = run_json(profile)
    on, off = result["policy_on"], result["policy_off"]
    drawn = result["scenario"]["calls_drawn"]
    assert drawn["999"] >= 6
    for line in ("999", "101"):
        assert on["lines"][line]["offered"] == off["lines"][line]["offered"] == drawn[line]
        # intake's figures are the PBX's own: what the simulated app_queue counted
        queue = {"999": "emergency", "101": "non-emergency"}[line]
        for run in (on, off):
            assert run["lines"][line]["answered"] == run["pbx_queues"][queue]["answered"]
            assert run["lines"][line]["abandoned"] == run["pbx_queues"][queue]["abandoned"]
    assert on["lines"]["999"]["answered_within_target"] > off["lines"]["999"]["answered_within_target"]
    assert on["lines"]["999"]["max_wait_seconds"] < off["lines"]["999"]["max_wait_seconds"]
    assert on["overflow"]["lends"] > 0 and on["overflow"]["999_answered_by_lent_101_handlers"] > 0
    # every handler lent was given back once the 999 queue had stayed clear
    assert on["overflow"]["returns"] == on["overflow"]["lends"]
    assert off["overflow"] | {"by_reason": {}} == {"lends": 0, "returns": 0, "by_reason": {}, "action_failures": 0,
                                                   "999_answered_by_lent_101_handlers": 0}
    # the same seed replays the same hour: a second invocation prints the same figures
    assert run_json(profile) == result


def test_the_table_sets_the_runs_side_by_side(tmp_path: Path) -> None:
    profile = tmp_path / "swamped.toml"
    profile.write_text(SWAMPED)
    done = busy_hour("--profile", str(profile))
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any("999 (target 12 s)" in line and "101 (target 60 s)" in line for line in lines)
    assert any(line.split() == ["policy", "on", "policy", "off"] * 2 for line in lines)
    within = next(line for line in lines if line.startswith("answered within target %"))
    assert len(within.split()[4:]) == 4  # 999 on, 999 off, 101 on, 101 off


def test_the_shipped_busy_hour_is_one_where_overflow_matters() -> None:
    done = busy_hour("--json")  # config/busy-hour.toml with config/intake.toml
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    on, off = result["policy_on"]["lines"], result["policy_off"]["lines"]
    assert on["999"]["answered_within_target_pct"] > off["999"]["answered_within_target_pct"]
    assert on["999"]["abandoned"] <= off["999"]["abandoned"]
    # the handlers lent were 101's slack: its calls are still answered within their target
    assert on["101"]["answered_within_target_pct"] >= 80


def test_a_malformed_profile_is_refused_naming_every_key_at_fault(tmp_path: Path) -> None:
    bad = (SWAMPED
           .replace('talk_seconds = { distribution = "fixed", seconds = 55 }', 'talk_seconds = { distribution = "lognormal", median = 55 }')
           .replace("only_101 = 3", "only_101 = 3\nsupervisors = 1"))
    profile = tmp_path / "bad.toml"
    profile.write_text(bad)
    done = busy_hour("--profile", str(profile))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "lines.999.talk_seconds: a lognormal distribution needs 'sigma'" in done.stderr
    assert "handlers.supervisors: unknown key" in done.stderr


def test_arrival_rates_of_different_lengths_are_refused_naming_the_line(tmp_path: Path) -> None:
    profile = tmp_path / "short.toml"
    profile.write_text(SWAMPED.replace("arrivals_per_hour = [20, 0, 20]", "arrivals_per_hour = [20, 0]"))
    done = busy_hour("--profile", str(profile))
    assert done.returncode == 2
    assert "lines.101.arrivals_per_hour: 2 intervals, but lines.999.arrivals_per_hour has 3" in done.stderr


def test_a_line_on_a_queue_the_pbx_does_not_have_is_refused(tmp_path: Path) -> None:
    config = (REPO / "config" / "intake.toml").read_text().replace('queues = ["non-emergency"]\nwrapup', 'queues = ["enquiries"]\nwrapup')
    path = tmp_path / "intake.toml"
    path.write_text(config)
    done = busy_hour("--config", str(path))
    assert done.returncode == 2
    assert "lines[1].queues[0]: queue 'enquiries' is not in the PBX configuration" in done.stderr
