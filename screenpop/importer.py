"""Importing markers from JSON lines (one Marker per line), all or nothing.

Every line is checked before anything is written, and every problem is reported with its line
number and field path, so whoever prepared the file fixes it in one pass rather than one error
per attempt. A file with any problem writes nothing; a good file is written in one MULTI/EXEC, so
a failure half-way (Redis gone) cannot leave half a file behind either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

from screenpop.history import HistoryStore
from screenpop.models import Marker, describe

MAX_LINE_CHARS = 8192


@dataclass(frozen=True, slots=True)
class LineProblem:
    line: int
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


@dataclass(frozen=True, slots=True)
class ImportReport:
    written: int
    """Markers stored: all of the file's, or 0 when it had a problem."""
    ignored: int
    """Blank lines and # comments."""
    problems: tuple[LineProblem, ...]
    markers: tuple[Marker, ...] = ()
    """The markers stored (the audit trail records each)."""

    @property
    def ok(self) -> bool:
        return not self.problems


def check_markers(lines: Iterable[str]) -> tuple[list[Marker], int, list[LineProblem]]:
    """Parse every line; return the markers, the count of ignored lines and every problem."""
    markers: list[Marker] = []
    problems: list[LineProblem] = []
    first_seen: dict[tuple[str, str], int] = {}
    ignored = 0
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            ignored += 1
            continue
        if len(text) > MAX_LINE_CHARS:
            problems.append(LineProblem(number, f"longer than {MAX_LINE_CHARS} characters"))
            continue
        try:
            marker = Marker.model_validate_json(text)
        except ValidationError as exc:
            problems.extend(LineProblem(number, problem) for problem in describe(exc))
            continue
        key = (marker.number, marker.id)
        if key in first_seen:
            problems.append(LineProblem(number, f"id: {marker.id!r} for {marker.number} already on line {first_seen[key]}"))
            continue
        first_seen[key] = number
        markers.append(marker)
    return markers, ignored, problems


async def import_markers(store: HistoryStore, lines: Iterable[str]) -> ImportReport:
    markers, ignored, problems = check_markers(lines)
    if problems:
        return ImportReport(written=0, ignored=ignored, problems=tuple(problems))
    written = await store.add_markers(markers)
    return ImportReport(written=written, ignored=ignored, problems=(), markers=tuple(markers))
