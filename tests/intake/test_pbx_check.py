"""What intake needs from the PBX, judged from what a read-only login answered (pure checks)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from intake.app.pbx_check import (
    NEEDED_ACTIONS,
    Finding,
    PbxAnswers,
    Severity,
    failed,
    findings,
)
from intake.core.config import parse
from telephony.frames import Frame

CONFIG = parse({
    "ami": {"secret": "env:X"},
    "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]},
              {"name": "101", "target_seconds": 60, "queues": ["non-emergency"]}],
})


def params(queue: str) -> Frame:
    return Frame({"Event": "QueueParams", "Queue": queue, "Strategy": "rrmemory"})


def queue_member(queue: str, location: str, membership: str = "dynamic") -> Frame:
    return Frame({"Event": "QueueMember", "Queue": queue, "Name": "h", "Location": location, "Membership": membership})


def live(event: str, privilege: str, stamped: bool = True) -> Frame:
    return Frame({"Event": event, "Privilege": f"{privilege},all", **({"Timestamp": "1700000000.000001"} if stamped else {})})


HEALTHY = PbxAnswers(
    username="intake",
    permitted=frozenset({*NEEDED_ACTIONS, "Ping", "Logoff"}),
    queue_status=(params("emergency"), queue_member("emergency", "PJSIP/handler-1"), params("non-emergency")),
    fully_booted=True,
    events=(live("QueueMemberStatus", "agent"), live("Newchannel", "call")),
)


def problems(answers: PbxAnswers) -> list[str]:
    return [str(f) for f in findings(CONFIG, answers) if f.severity is Severity.PROBLEM]


def test_a_pbx_with_everything_intake_needs_passes_with_every_check_ok():
    found = findings(CONFIG, HEALTHY)
    assert not failed(found)
    assert {f.severity for f in found} == {Severity.OK}


@pytest.mark.parametrize(("change", "says"), [
    ({"permitted": frozenset(set(NEEDED_ACTIONS) - {"QueuePause", "QueueAdd"})},
     ["may not run QueueAdd (intake puts handlers in their queues (ready, overflow)) -> add 'agent' to 'write =' of [intake] in manager.conf",
      "may not run QueuePause"]),
    ({"permitted": frozenset(set(NEEDED_ACTIONS) - {"Originate"})}, ["add 'originate' to 'write =' of [intake]"]),
    ({"fully_booted": False}, ["got no FullyBooted at login", "add 'system' to 'read =' of [intake] in manager.conf"]),
    ({"events": (live("QueueMemberStatus", "agent", stamped=False), live("Newchannel", "call"))},
     ["events without a Timestamp (QueueMemberStatus)", "set 'timestampevents = yes' in [general] of manager.conf"]),
    ({"queue_status": (params("emergency"),)},
     ["queue 'non-emergency' (line 101 in the configuration) is unknown to the PBX -> define [non-emergency] in queues.conf"]),
    ({"queue_status": (params("emergency"), params("non-emergency"), queue_member("emergency", "PJSIP/handler-2", "static"))},
     ["static member PJSIP/handler-2 in managed queue 'emergency': intake cannot log it out",
      "remove 'member => PJSIP/handler-2' from [emergency] in queues.conf"]),
])
def test_each_thing_missing_is_a_problem_naming_what_to_fix_and_where(change, says):
    found = problems(replace(HEALTHY, **change))
    text = "\n".join(found)
    assert all(s in text for s in says), text
    assert failed(findings(CONFIG, replace(HEALTHY, **change)))


def test_a_static_member_of_a_queue_intake_does_not_manage_is_none_of_its_business():
    answers = replace(HEALTHY, queue_status=(*HEALTHY.queue_status, params("switchboard"),
                                             queue_member("switchboard", "PJSIP/reception", "static")))
    assert problems(answers) == []


def test_what_a_quiet_pbx_cannot_show_is_not_verified_rather_than_missing():
    found = findings(CONFIG, replace(HEALTHY, events=(), permitted=None))
    unverified = [str(f) for f in found if f.severity is Severity.UNVERIFIED]
    assert not failed(found)
    assert any("read class 'agent'" in u for u in unverified) and any("read class 'call'" in u for u in unverified)
    assert any(u.startswith("NOT VERIFIED: timestampevents") for u in unverified)
    assert any("refused ListCommands" in u for u in unverified)
    assert str(found[0]).startswith("NOT VERIFIED")  # most important first: none is a problem here


def test_a_finding_reads_as_one_line_with_its_fix():
    assert str(Finding(Severity.PROBLEM, "x missing", "add y")) == "PROBLEM: x missing -> add y"
