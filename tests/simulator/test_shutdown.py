"""A PBX shut down under live calls (``core stop now``) ends each call in queue_log and on the wire
before its AMI server goes, as the real Asterisk does; the standalone simulator does so on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from telephony.simulator import QueueLog, SimulatedPbx
from tests.simulator.ami_client import AmiTestClient
from tests.simulator.conftest import SCRIPTED


async def test_shutdown_abandons_waiting_callers_completes_talking_ones_then_says_shutdown(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sim = SimulatedPbx(SCRIPTED)
    await sim.start()
    c = await AmiTestClient.logged_in(sim.port)
    talking = sim.place_call("999", "07700900001")
    ringing = await c.wait_event("AgentCalled", Uniqueid=talking)
    sim.answer(ringing["Interface"])
    await c.wait_event("AgentConnect", Uniqueid=talking)
    sim.pause("PJSIP/handler-2", queue="999")  # nobody free: the next caller waits
    waiting = sim.place_call("999", "07700900002")
    await c.wait_event("QueueCallerJoin", Uniqueid=waiting)
    arriving = sim.place_call("999", "07700900003")  # still in the dialplan, before Queue()

    await sim.shut_down(restart=True)

    outcome = {line.call_id: line.event for line in sim.queue_log.lines if line.event in ("ABANDON", "COMPLETECALLER")}
    assert outcome == {talking: "COMPLETECALLER", waiting: "ABANDON"}
    assert not sim.queue_log.for_call(arriving)
    await c.wait_event("AgentComplete", Uniqueid=talking, Reason="caller")
    await c.wait_event("QueueCallerAbandon", Uniqueid=waiting)
    await c.wait_event("Hangup", Uniqueid=arriving)
    last = await c.wait_event("Shutdown", Restart="True")
    assert last is c.events[-1]
    assert await asyncio.wait_for(c.reader.read(), 2) == b""  # then the PBX closes the connection
    await c.close()
    await sim.stop()


async def test_standalone_sigterm_ends_every_call_in_its_queue_log_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "queue_log"
    setup = tmp_path / "setup.json"
    setup.write_text(json.dumps({
        "handlers": [{"interface": "PJSIP/handler-7", "name": "h7", "queues": ["emergency"]}],
        "traffic": {"arrivals_per_second": [["emergency", 20.0]], "patience_median": 600.0, "answer_delay": [0.1, 0.2],
                    "talk_time": [600.0, 601.0], "ring_no_answer_chance": 0.0},
    }))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "telephony.simulator", "--port", "0", "--queue-log", str(path), "--setup", str(setup),
        stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        info = json.loads(await asyncio.wait_for(proc.stdout.readline(), 10))
        client = await AmiTestClient.logged_in(info["port"], secret=info["secret"])
        connect = await client.wait_event("AgentConnect", timeout=10)
        assert connect["MemberName"] == "h7"  # the handlers of the setup file
        await client.wait_for(lambda f: f.get("Event") == "QueueCallerJoin" and f["Uniqueid"] != connect["Uniqueid"], 10)
        await client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0

    lines = QueueLog.read(path)
    entered = {line.call_id for line in lines if line.event == "ENTERQUEUE"}
    ended = [line.call_id for line in lines if line.event in ("ABANDON", "COMPLETEAGENT", "COMPLETECALLER")]
    assert len(entered) >= 2 and sorted(ended) == sorted(entered)  # every caller's end is on record, once
