"""The soak's referee: intake's call journal against the PBX's queue_log, call by call. Pure.

queue_log is the PBX's own record in whole seconds (``time(NULL)``): a call entered at ``at`` entered
somewhere in ``[at, at + 1)``, and a holdtime is the difference of two truncated seconds, so it is
within 1 s of the true wait either way. Those are the only tolerances: a journal record agrees with
its queue_log call when it has the same call id and queue, the same outcome (CONNECT answered,
ABANDON abandoned, EXIT* left), ``at <= queued_at < at + 1`` and ``|waited_seconds - holdtime| < 1``.

Which calls intake can be held to: while intake is dead (killed, until it is healthy again) it sees
nothing of the PBX, and records it had not yet written are lost with it. So every queue_log call is
put in one class by the intake outages its life touches:

- ``followed``: its life (entry to its end: a talk ends at COMPLETE*) touches no outage, nor the ``LOSS_GRACE`` seconds
  before a kill (records still on their way to Redis). The journal must agree exactly.
- ``invisible``: it entered after a kill and ended before intake was healthy again: nothing
  over AMI ever showed it. Its absence is expected; a record of it must still agree.
- ``settled_unseen``: its outcome (answer, abandon) came while intake was dead, or in the
  ``LOSS_GRACE`` before a kill. AMI tells nobody afterwards when a call was answered (QueueStatus
  no longer lists it; CoreShowChannels gives no bridge time), so no intake can know its times:
  judged on what it can know, under an invariant of its own: a record, with the right outcome, or
  one that says the outcome is unknown (``left`` with ``outcome_seen`` false: the call was gone
  when the restarted intake looked).
- ``across_restart``: every other call that touches an outage: intake saw its outcome, though
  not its whole life (answered before a kill and talking through it; entered while intake was
  dead and found waiting at the resync). Judged as strictly as ``followed``, apart.

Phantoms (records of calls queue_log never saw enter) and duplicates fail wherever they are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from telephony.simulator.queue_log import QueueLogLine

# Records settled this long before a kill may still have been in the write-behind queue.
LOSS_GRACE = 2.0
OUTCOME_OF = {"CONNECT": "answered", "ABANDON": "abandoned", "EXITWITHTIMEOUT": "left", "EXITEMPTY": "left",
              "EXITWITHKEY": "left"}
COMPLETE = ("COMPLETEAGENT", "COMPLETECALLER")


@dataclass(frozen=True, slots=True)
class PbxCall:
    """One visit of a call to a queue, as queue_log tells it."""

    call_id: str
    queue: str
    entered_at: int
    outcome: str | None = None  # None: queue_log never said how it ended
    settled_at: int | None = None
    holdtime: int | None = None
    ended_at: int | None = None  # an answered call ends at COMPLETE*, where intake writes its record


@dataclass(frozen=True, slots=True)
class Outage:
    """intake not following the PBX: killed at ``start`` (epoch s), healthy again at ``end``."""

    start: float
    end: float


def pbx_calls(lines: Iterable[QueueLogLine]) -> tuple[dict[tuple[str, str], PbxCall], list[str]]:
    """Calls by (call id, queue), and what in queue_log itself is inconsistent."""
    calls: dict[tuple[str, str], PbxCall] = {}
    problems: list[str] = []
    for line in lines:
        key = (line.call_id, line.queue)
        if line.event == "ENTERQUEUE":
            if key in calls:
                problems.append(f"{line.call_id}: entered {line.queue} twice")
            calls[key] = PbxCall(line.call_id, line.queue, line.at)
        elif line.event in OUTCOME_OF:
            call = calls.get(key)
            if call is None:
                problems.append(f"{line.call_id}: {line.event} in {line.queue} without ENTERQUEUE")
            elif call.outcome is not None:
                problems.append(f"{line.call_id}: {line.event} after {call.outcome} in {line.queue}")
            else:
                # CONNECT: holdtime|bridged uniqueid|ringtime; ABANDON: pos|origpos|waittime; EXIT*: ...|waittime
                hold = line.data[0] if line.event == "CONNECT" else line.data[-1]
                answered = line.event == "CONNECT"
                calls[key] = PbxCall(call.call_id, call.queue, call.entered_at, OUTCOME_OF[line.event], line.at, int(hold),
                                     None if answered else line.at)
        elif line.event in COMPLETE:
            call = calls.get(key)
            if call is None or call.outcome != "answered" or call.ended_at is not None:
                problems.append(f"{line.call_id}: {line.event} in {line.queue} without one CONNECT before it")
            else:
                calls[key] = PbxCall(call.call_id, call.queue, call.entered_at, call.outcome, call.settled_at, call.holdtime, line.at)
    problems += [f"{c.call_id}: entered {c.queue} at {c.entered_at} and never ended" for c in calls.values() if c.ended_at is None]
    return calls, problems


def classify(call: PbxCall, outages: Iterable[Outage]) -> str:
    ended = call.ended_at if call.ended_at is not None else call.entered_at
    settled = call.settled_at if call.settled_at is not None else ended
    for o in outages:
        # Whole seconds: the call was alive somewhere in [entered_at, ended + 1), settled in
        # [settled, settled + 1); the outage, with its grace, is [start - grace, end].
        if call.entered_at <= o.end and ended + 1 > o.start - LOSS_GRACE:
            if call.entered_at >= o.start and ended + 1 <= o.end:
                return "invisible"
            if settled <= o.end and settled + 1 > o.start - LOSS_GRACE:
                return "settled_unseen"
            return "across_restart"
    return "followed"


def differences(call: PbxCall, record: dict[str, Any]) -> list[str]:
    """What a journal record says otherwise than queue_log (empty: they agree)."""
    out = []
    if record.get("settled") != call.outcome:
        out.append(f"outcome: queue_log {call.outcome}, journal {record.get('settled')}")
    queued_at = float(record.get("queued_at", float("nan")))
    if not call.entered_at <= queued_at < call.entered_at + 1:
        out.append(f"entered: queue_log {call.entered_at}, journal {queued_at:.3f}")
    waited = float(record.get("waited_seconds", float("nan")))
    if call.holdtime is not None and not abs(waited - call.holdtime) < 1:
        out.append(f"waited: queue_log {call.holdtime} s, journal {waited:.3f} s")
    return out


def judge(lines: Iterable[QueueLogLine], records: Iterable[dict[str, Any]], outages: Iterable[Outage],
          callbacks: set[str] | None = None, emergency_queues: frozenset[str] = frozenset({"emergency"})) -> dict[str, Any]:
    """Invariants (each with ``held`` and its mismatches), counts, and every call that differs.
    ``callbacks``: the ids of the call-back tasks in Redis (a task's id is its abandoned call's):
    every 999 call intake followed to an abandon must have one."""
    outages = list(outages)
    calls, referee = pbx_calls(lines)
    journal: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        journal[(str(r.get("call_id")), str(r.get("queue")))].append(r)
    classes: dict[str, list[PbxCall]] = defaultdict(list)
    for call in calls.values():
        classes[classify(call, outages)].append(call)
    mismatches: dict[str, list[dict[str, Any]]] = {"followed": [], "across_restart": [], "invisible": [], "settled_unseen": []}
    absent_invisible = unknown_outcomes = 0
    for cls, members in classes.items():
        for call in members:
            found = journal.get((call.call_id, call.queue), [])
            if not found:
                if cls == "invisible":
                    absent_invisible += 1
                else:
                    mismatches[cls].append({"call_id": call.call_id, "queue": call.queue, "differs": ["missing from the journal"],
                                            "queue_log": _pbx_view(call)})
                continue
            diff = differences(call, found[0])
            if cls == "settled_unseen":  # its times are nobody's to know: only the outcome is judged
                diff = [d for d in diff if d.startswith("outcome")]
                if diff and unseen_outcome(found[0]):
                    # Recorded, and said to be unknown (the call was gone at the resync): honest, not
                    # wrong. A record that claims an outcome is still held to queue_log's.
                    unknown_outcomes += 1
                    diff = []
            if diff:
                mismatches[cls].append({"call_id": call.call_id, "queue": call.queue, "differs": diff,
                                        "queue_log": _pbx_view(call), "journal": found[0]})
    phantoms = [r for key, rs in journal.items() if key not in calls for r in rs]
    duplicates = [{"call_id": k[0], "queue": k[1], "records": rs} for k, rs in journal.items() if len(rs) > 1]
    no_task = [{"call_id": c.call_id, "queue": c.queue, "abandoned_at": c.settled_at} for c in classes["followed"]
               if callbacks is not None and c.queue in emergency_queues and c.outcome == "abandoned" and c.call_id not in callbacks]
    outcomes: dict[str, int] = defaultdict(int)
    for call in calls.values():
        outcomes[call.outcome or "unsettled"] += 1
    return {
        "invariants": {
            "queue_log_consistent": {"held": not referee, "problems": referee[:50]},
            "journal_equals_queue_log": {"held": not mismatches["followed"] and not mismatches["invisible"],
                                         "calls": len(classes["followed"]) + len(classes["invisible"]) - absent_invisible,
                                         "mismatches": mismatches["followed"] + mismatches["invisible"]},
            "across_intake_restart": {"held": not mismatches["across_restart"], "calls": len(classes["across_restart"]),
                                      "mismatches": mismatches["across_restart"]},
            "outcome_recorded_when_settled_unseen": {"held": not mismatches["settled_unseen"], "calls": len(classes["settled_unseen"]),
                                                     "mismatches": mismatches["settled_unseen"]},
            "no_phantom_records": {"held": not phantoms, "records": phantoms[:50]},
            "no_duplicate_records": {"held": not duplicates, "calls": duplicates[:50]},
            "callback_task_per_abandoned_999": {"held": not no_task, "missing": no_task},
        },
        "counts": {
            "queue_log_calls": len(calls), "journal_records": sum(len(rs) for rs in journal.values()),
            "outcomes": dict(outcomes),
            "followed": len(classes["followed"]), "across_restart": len(classes["across_restart"]),
            "settled_unseen": len(classes["settled_unseen"]), "settled_unseen_outcome_unknown": unknown_outcomes,
            "invisible": len(classes["invisible"]), "invisible_absent_as_expected": absent_invisible,
        },
    }


def unseen_outcome(record: dict[str, Any]) -> bool:
    """A journal record that says intake did not see how the call ended (intake/core/in_progress.py):
    settled as left, outcome_seen false."""
    return record.get("settled") == "left" and record.get("outcome_seen") is False


def _pbx_view(call: PbxCall) -> dict[str, Any]:
    return {"entered_at": call.entered_at, "outcome": call.outcome, "settled_at": call.settled_at, "holdtime": call.holdtime,
            "ended_at": call.ended_at}
