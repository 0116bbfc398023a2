"""Two minutes of busy-hour traffic through the PBX simulator into a real `intake serve` and a real
redis-server, with Redis killed and paused, the PBX restarted, intake killed -9 and a desktop that
stops reading: scripts/soak.py, run as an operator would, and its invariants asserted.

Which invariants are asserted: those intake keeps today (HOLDS_NOW). The others (AWAITS_MERGE)
are judged and printed by every run, and asserted once the branch named beside each is merged:
move the name into HOLDS_NOW then (or run with INTAKE_SOAK_STRICT=1 to assert them all now).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

HOLDS_NOW = (
    "queue_log_consistent",          # the simulator's own record: every call entered, settled and ended once
    "journal_equals_queue_log",      # every call intake followed: same outcome, entry and answer time (1 s)
    "across_intake_restart",         # intake saw the outcome, not the whole life (since "durable": record at the outcome)
    "no_phantom_records",
    "no_duplicate_records",
    "recovered_after_every_fault",   # healthy again within 30 s of each fault
    "stalled_desktop_let_go",
    "intake_never_exited_by_itself",
    "rss_flat",
    "loop_lag_flat",
    "callback_task_per_abandoned_999",  # since "cbdesk": task saves through the write-behind; the client retries a dead connection
    "outcome_recorded_when_settled_unseen",  # since "inprogress": calls in progress kept in Redis, settled by the first resync
)
AWAITS_MERGE: dict[str, str] = {}
STRICT = os.environ.get("INTAKE_SOAK_STRICT") == "1"


@pytest.mark.soak
@pytest.mark.timeout(480)
def test_two_minute_soak_with_faults_keeps_the_journal_equal_to_queue_log() -> None:
    proc = subprocess.run([sys.executable, "scripts/soak.py", "--minutes", "2", "--seed", "11"], cwd=REPO,
                          capture_output=True, text=True, timeout=450, check=False, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, f"the soak could not run: {proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    result = json.loads(proc.stdout)
    invariants = result["invariants"]
    assert set(HOLDS_NOW) | set(AWAITS_MERGE) == set(invariants), "an invariant is neither asserted nor awaited"
    asserted = invariants if STRICT else HOLDS_NOW
    broken = {name: invariants[name] for name in asserted if not invariants[name]["held"]}
    assert not broken, json.dumps({"broken": broken, "faults": result["faults"], "counts": result["counts"]}, indent=1)[:20_000]
    # The run did what it says: calls of both outcomes, every fault injected, pops delivered.
    counts = result["counts"]
    assert counts["outcomes"].get("answered", 0) > 20 and counts["outcomes"].get("abandoned", 0) > 0, counts
    assert {f["kind"] for f in result["faults"]} == {"stalled_desktop", "slow_redis", "redis_kill", "pbx_restart", "intake_kill"}
    assert counts["pops_received"] > 20, counts
