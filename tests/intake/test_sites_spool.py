"""Records spooled at shutdown go back to their own site at the next start: each site's kinds carry
its name (a journal record of south is ``journal@south``), so the same call id on two PBXs is two
records, each counted by its own site."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import fakeredis

from intake.app.server import IntakeServer
from tests.intake.two_sites import two_site_config


def server_with_spool(spool: Path) -> IntakeServer:
    config = two_site_config({"north": 5001, "south": 5002}, "spool-test:")
    config = config.model_copy(update={"redis": config.redis.model_copy(update={"unwritten_spool": str(spool)})})
    secrets = {config.secret_key("north"): "n", config.secret_key("south"): "s", "supervisors[0].token": "sup-token-0123456789"}
    secrets |= {f"handlers[{i}].token": f"handler-token-{i}-0123456789" for i, _ in enumerate(config.handlers)}
    return IntakeServer(config, secrets, fakeredis.FakeAsyncRedis())


def entry(kind: str, data: dict[str, Any]) -> str:
    return json.dumps({"kind": kind, "call_id": data["call_id"], "data": data})


async def test_a_spooled_record_goes_back_to_its_own_site(tmp_path: Path):
    now = time.time()
    call = {"call_id": "1700000000.7", "line": "999", "queue": "emergency", "target_seconds": 12.0, "queued_at": now - 60}
    journal = {**call, "settled": "abandoned", "waited_seconds": 20.0}
    spool = tmp_path / "unwritten.jsonl"
    spool.write_text("\n".join([entry("journal@south", journal), entry("in-progress@north", call),
                                entry("journal@north", {**journal, "settled": "answered", "waited_seconds": 4.0})]) + "\n")
    server = server_with_spool(spool)
    journalled, in_progress = server._replay_spooled()
    assert [(r.call_id, r.settled) for r in journalled["south"]] == [("1700000000.7", "abandoned")]
    assert [(r.call_id, r.settled) for r in journalled["north"]] == [("1700000000.7", "answered")]
    assert [r.call_id for r in in_progress["north"]] == ["1700000000.7"] and in_progress["south"] == []


def test_a_site_s_call_back_desk_writes_its_records_under_its_own_kind(tmp_path: Path):
    server = server_with_spool(tmp_path / "unwritten.jsonl")
    kinds: list[str] = []
    server.writes.submit = lambda kind, *args, **kw: kinds.append(kind)  # type: ignore[method-assign]
    server.sites["south"].callbacks.writes.submit("callback", lambda pipe: None)
    assert kinds == ["callback@south"]
