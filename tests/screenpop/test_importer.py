"""Marker import: every problem reported with its line and field, and nothing written unless all is well."""

from __future__ import annotations

import json

import pytest
import redis.asyncio as aioredis

from screenpop.history import HistoryStore
from screenpop.importer import import_markers
from tests.screenpop.builders import NUMBER, T0, marker_line

pytestmark = pytest.mark.redis


@pytest.fixture
def store(redis_client: aioredis.Redis) -> HistoryStore:
    return HistoryStore(redis_client)


async def test_a_good_file_is_written_and_comments_and_blanks_are_ignored(store: HistoryStore) -> None:
    lines = ["# markers from the force system, 2026-11-21", "", marker_line(marker_id="m-1"),
             "   ", marker_line(marker_id="m-2", kind="firearms at address")]
    report = await import_markers(store, lines)
    assert (report.ok, report.written, report.ignored) == (True, 2, 3)
    assert [m.id for m in (await store.lookup(NUMBER, now=T0)).markers] == ["m-1", "m-2"]


async def test_every_bad_line_is_reported_with_its_number_and_field(store: HistoryStore) -> None:
    wrong_kind = json.loads(marker_line(marker_id="m-2")) | {"kind": "firearm"}
    wrong_type = json.loads(marker_line(marker_id="m-3")) | {"created_at": "yesterday", "colour": "red"}
    lines = [marker_line(marker_id="m-1"), json.dumps(wrong_kind), "{not json", json.dumps(wrong_type), "[1, 2]"]
    report = await import_markers(store, lines)
    text = [str(p) for p in report.problems]
    assert text[0].startswith("line 2: kind: 'firearm' is not one of 'firearms at address', ")
    assert text[1].startswith("line 3: not JSON (key must be a string")
    assert "line 4: created_at: Input should be a valid number" in text
    assert "line 4: colour: unknown field" in text
    assert text[-1] == "line 5: must be a JSON object"
    assert report.written == 0


async def test_one_bad_line_means_nothing_is_written(store: HistoryStore, redis_client: aioredis.Redis) -> None:
    lines = [marker_line(marker_id=f"m-{i}") for i in range(50)] + [marker_line(marker_id="m-x").replace(NUMBER, "999; DROP")]
    report = await import_markers(store, lines)
    assert [str(p) for p in report.problems] == ["line 51: number: '999; DROP' is not in the expected form"]
    assert await redis_client.keys("*") == []


async def test_the_same_marker_twice_in_a_file_is_a_problem(store: HistoryStore) -> None:
    report = await import_markers(store, [marker_line(marker_id="m-1"), "# again:", marker_line(marker_id="m-1")])
    assert [str(p) for p in report.problems] == ["line 3: id: 'm-1' for +447700900123 already on line 1"]


async def test_oversized_text_is_reported_not_truncated(store: HistoryStore) -> None:
    line = json.dumps(json.loads(marker_line()) | {"detail": "x" * 1001})
    report = await import_markers(store, [line])
    assert [str(p) for p in report.problems] == ["line 1: detail: longer than 1000 characters"]


async def test_an_empty_file_writes_nothing_and_is_ok(store: HistoryStore) -> None:
    report = await import_markers(store, ["# nothing yet"])
    assert (report.ok, report.written, report.ignored) == (True, 0, 1)
