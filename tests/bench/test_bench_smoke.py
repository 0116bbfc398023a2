"""`scripts/bench.py --quick` runs end to end (its two-node phase included) and reports every figure; so does
`scripts/bench_staffing.py` on a small year and a few generated days in Redis. No timing assertions: the
figures of a smoke run on a busy machine mean nothing, only their presence does (and the same-figures checks)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from tests.waiting import patience

REPO = Path(__file__).resolve().parents[2]


def test_quick_bench_reports_every_figure(redis_url: str) -> None:
    done = subprocess.run([sys.executable, "scripts/bench.py", "--quick", "--redis-url", f"{redis_url}/14"], cwd=REPO,
                          capture_output=True, text=True, timeout=patience(100), env={**os.environ})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)

    def number(value: object) -> bool:
        return isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value))

    latency = result["pop_latency"]
    for side in ("ours", "floor"):
        for key in ("p50_ms", "p99_ms", "max_ms"):
            assert number(latency[side][key]), (side, key, latency[side])
        assert latency[side]["pops"] > 0
    assert number(latency["ratio_p50"]) and number(latency["ratio_p99"])
    throughput = result["throughput_events_per_s"]
    for key in ("ours_full_pipeline", "panoramisk", "readuntil", "ratio_vs_panoramisk", "ratio_vs_readuntil",
                "ours_ami_layer", "ami_layer_ratio_vs_panoramisk", "ours_cpu_ms_per_call"):
        assert number(throughput[key]), key
    capacity = result["capacity"]
    for key in ("rss_mib_no_desktops", "rss_mib_with_desktops", "kib_per_desktop", "cpu_ms_per_call"):
        assert number(capacity[key]), key
    assert capacity["desktops_connected"] == result["sizes"]["capacity"]
    trips = result["redis"]["round_trips_per_pop"]
    assert result["redis"]["pops_counted"] > 0 and number(trips["mean"])
    two = result["two_nodes"]["pop_latency"]
    for side in ("ours", "floor"):
        assert all(number(two[side][key]) for key in ("p50_ms", "p99_ms", "max_ms")), (side, two[side])
        assert two[side]["pops"] > 0
        assert sum(two[side]["desktops_per_node"].values()) == result["sizes"]["desktops"]  # spread through HAProxy
    assert number(two["ratio_p50"]) and number(two["ratio_p99"])
    failover = result["two_nodes"]["failover"]
    assert failover["desktops_on_killed_node"] > 0 and number(failover["resumption_ms"]["p99"])
    assert failover["haproxy_after"][failover["killed"]]["status"] == "DOWN"
    assert isinstance(failover["pops_lost"], int)
    leader = failover["leader"]  # the leader killed: its successor leads, and its first side effect is timed
    assert leader["measured"] and number(leader["seconds_to_next_side_effect"]) and leader["successor_leads"], leader
    assert leader["killed"] != leader["successor"] and leader["side_effects_before_kill"] > 0
    assert set(result["goals"]) == {"pop_p99_within_1.5x_floor", "throughput_1x_panoramisk", "throughput_2x_panoramisk",
                                    "throughput_0.8x_readuntil",
                                    "10k_desktops_under_1GiB", "one_redis_round_trip_per_pop",
                                    "two_node_pop_p99_within_1.5x_floor", "node_kill_every_desktop_resumes",
                                    "node_kill_pops_lost", "leader_kill_next_side_effect_within_2s"}
    assert all(isinstance(goal["met"], bool) for goal in result["goals"].values())


def test_staffing_bench_reports_every_figure_and_the_same_figures_both_ways(redis_url: str) -> None:
    url = f"{redis_url.rstrip('/')}/15"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=patience(120),
                              env={**os.environ})

    made = run("scripts/year_of_calls.py", "--redis-url", url, "--prefix", "smoke:", "--start", "2025-03-01",
               "--days", "3", "--calls", "3000", "--seed", "3")
    assert made.returncode == 0, made.stderr[-3000:]
    done = run("scripts/bench_staffing.py", "--calls", "20000", "--redis-url", url, "--prefix", "smoke:",
               "--from", "2025-03-01", "--to", "2025-03-03")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    for row in result["erlang"]:
        assert row["same"] and all(isinstance(row[k], int | float) for k in ("handlers_needed_ms", "handlers_needed_reference_ms", "ratio"))
    year = result["year"]
    assert year["staffing_same_figures"] and year["intervals"] > 0
    assert all(isinstance(year[k], int | float) for k in ("staffing_every_interval_seconds", "staffing_ratio"))
    journal = result["journal"]
    assert journal["same_json"] and journal["intervals"] > 0
    assert set(journal["wall_seconds"]) == {"every_record_reference_search", "summaries_made_and_kept", "kept_summaries"}
    assert set(journal["ratio_cpu_vs_old"]) == {"summaries_made_and_kept", "kept_summaries"}
