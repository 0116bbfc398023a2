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
)
AWAITS_MERGE = {
    # A call answered (or abandoned) while intake was dead, having entered before the kill, gets no
    # record: the restarted intake finds it talking (CoreShowChannels) and adopts it as "answered
    # before we watched", or finds it gone, and journals neither; records still in the write-behind
    # at the kill are lost too. The answer time cannot be had from AMI afterwards, so only a record
    # with the right outcome is asked for. Needs the calls in progress kept durably (the journal
    # record at the outcome, as merged from "durable", does not cover an outcome intake never saw).
    "outcome_recorded_when_settled_unseen": "none yet (calls in progress kept where a restart finds them)",
    # An abandoned 999 call's call-back task is written to Redis by a fire-and-forget task
    # (routing/callback_desk.py CallbackDesk._save) that nobody retries. It fails while Redis is
    # down, and also long after Redis is back: each pooled connection of intake's client
    # (intake/server.py make_redis) that was open when Redis died fails its next command once
    # ("Connection closed by server", no retry configured). The task is then missing from Redis
    # ("Task exception was never retrieved" in intake's log) and gone for good at intake's next
    # restart. In 30 minutes: 9 of 143 abandoned 999 calls, most at the first burst of writes
    # after a Redis restart. No branch of issue 11 owns it yet: the fix is to send the task's
    # writes through the write-behind (held and retried in order, as its history entry already
    # goes) and/or a client that retries a command once on a connection found dead.
    "callback_task_per_abandoned_999": "none yet (call-back task writes through the write-behind)",
}
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
