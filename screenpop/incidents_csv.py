"""police.uk's street-level crime CSV (the monthly ``*-street.csv``) read into incidents, all or nothing.

The layout (https://data.police.uk/about/#columns)::

    Crime ID, Month, Reported by, Falls within, Longitude, Latitude, Location,
    LSOA code, LSOA name, Crime type, Last outcome category, Context

Points are anonymised to map points; a crime with no map point within 20 km has no point (its
Longitude and Latitude are empty, or zero): such rows are counted and skipped, not errors.
Anti-social behaviour has no Crime ID: its id is made from the row's own fields (and how many
identical rows came before it in the file), so importing the same file again changes nothing.
A Crime ID seen twice in one file keeps its first row (counted).

Every row is checked before anything is written, and every problem is named with its line
(the file's line, which a quoted field with a newline makes differ from the row's count): a file
with any problem loads nothing. Rows older than the store's retention are counted and skipped.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import ValidationError

from screenpop.importer import LineProblem
from screenpop.incidents import GEO_MAX_LAT, Incident
from screenpop.models import describe
from screenpop.places import Point

COLUMNS = ("Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
           "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context")
MAX_FIELD_CHARS = 4096
MONTH = re.compile(r"(19|20)[0-9]{2}-(0[1-9]|1[0-2])")


@dataclass(slots=True)
class CrimeFile:
    """What a file holds: its incidents, what was skipped and why, and every problem."""

    incidents: list[Incident] = field(default_factory=list)
    rows: int = 0
    no_point: int = 0
    too_old: int = 0
    repeated: int = 0
    problems: list[LineProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_crimes(lines: Iterable[str], *, now: float, keep_seconds: float) -> CrimeFile:
    """Check every row of a street-level crime file (its text, line by line, header first)."""
    out = CrimeFile()
    reader = csv.reader(iter(lines), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        out.problems.append(LineProblem(reader.line_num, f"not CSV: {exc}"))
        return out
    if header is None:
        out.problems.append(LineProblem(1, "empty file: expected the header " + ",".join(COLUMNS)))
        return out
    if tuple(h.strip().lstrip("\ufeff") for h in header) != COLUMNS:
        out.problems.append(LineProblem(1, "not police.uk's street-level crime layout: expected the header "
                                          + ",".join(COLUMNS)))
        return out
    oldest = now - keep_seconds
    seen_ids: set[str] = set()
    same_rows: Counter[tuple[str, ...]] = Counter()
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            out.problems.append(LineProblem(reader.line_num, f"not CSV: {exc}"))
            break  # the reader cannot find where the next row starts
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # a blank line (a trailing newline)
        out.rows += 1
        read = _row(row, line, out.problems)
        if read is None:
            continue
        crime_id, at, point, kind, outcome = read
        if point is None:
            out.no_point += 1
            continue
        if at < oldest:
            out.too_old += 1
            continue
        if not crime_id:
            same_rows[tuple(row)] += 1
            crime_id = "row-" + hashlib.sha1("\x1f".join((*row, str(same_rows[tuple(row)]))).encode()).hexdigest()[:32]
        elif crime_id in seen_ids:
            out.repeated += 1
            continue
        seen_ids.add(crime_id)
        try:
            out.incidents.append(Incident(id=crime_id, source="police.uk", type=kind, status=outcome, at=at,
                                          point=Point(lat=point[0], lon=point[1])))
        except ValidationError as exc:
            out.problems += [LineProblem(line, _column_of(p)) for p in describe(exc)]
    if out.problems:
        out.incidents.clear()
    return out


def _row(row: list[str], line: int, problems: list[LineProblem]
         ) -> tuple[str, float, tuple[float, float] | None, str, str] | None:
    """One row's (crime id, when, (lat, lon) or None, crime type, last outcome), or None after
    naming each of its problems."""
    if len(row) != len(COLUMNS):
        problems.append(LineProblem(line, f"{len(row)} columns, expected {len(COLUMNS)}"))
        return None
    found: list[str] = []
    cells = dict(zip(COLUMNS, (cell.strip() for cell in row)))
    for name, value in cells.items():
        if len(value) > MAX_FIELD_CHARS:
            found.append(f"{name}: longer than {MAX_FIELD_CHARS} characters")
    month = cells["Month"]
    at = _month_start(month)
    if at is None:
        found.append(f"Month: {month!r} is not a month (YYYY-MM)")
    point = _point(cells["Longitude"], cells["Latitude"], found)
    if not cells["Crime type"]:
        found.append("Crime type: empty")
    problems += [LineProblem(line, problem) for problem in found]
    if found or at is None:
        return None
    return cells["Crime ID"], at, point, cells["Crime type"], cells["Last outcome category"]


@functools.lru_cache(maxsize=256)
def _month_start(month: str) -> float | None:
    """The first instant (UTC) of a "YYYY-MM" month; a file has a few months in many rows."""
    if not MONTH.fullmatch(month):
        return None
    return datetime(int(month[:4]), int(month[5:]), 1, tzinfo=UTC).timestamp()


def _point(lon_text: str, lat_text: str, found: list[str]) -> tuple[float, float] | None:
    """(lat, lon), or None for a crime with no point (both empty, or both zero)."""
    if not lon_text and not lat_text:
        return None
    values = []
    for name, text, bound in (("Longitude", lon_text, 180.0), ("Latitude", lat_text, GEO_MAX_LAT)):
        try:
            value = float(text)
        except ValueError:
            found.append(f"{name}: {text!r} is not a number")
            continue
        if not math.isfinite(value) or abs(value) > bound:
            found.append(f"{name}: {text} is out of range (-{bound:g}..{bound:g})")
            continue
        values.append(value)
    if len(values) != 2:
        return None
    lon, lat = values
    if lon == 0.0 and lat == 0.0:
        return None
    return lat, lon


_FIELD_COLUMN = {"id": "Crime ID", "type": "Crime type", "status": "Last outcome category"}


def _column_of(problem: str) -> str:
    """A model's problem named by the file's column."""
    name, sep, rest = problem.partition(": ")
    return f"{_FIELD_COLUMN.get(name, name)}: {rest}" if sep else problem
