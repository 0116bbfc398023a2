"""Reading police.uk's street-level crime files: what is loaded, what is skipped and counted, and
every bad row named by its line, with nothing kept from a file that has one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from screenpop.incidents_csv import read_crimes
from tests.support.crimes import HEADER, anti_social, crime, crime_file, no_point

NOW = datetime(2026, 12, 2, tzinfo=UTC).timestamp()
YEAR = 365 * 86_400.0
ID = "8f3c" + "0" * 60


def read(text: str, keep: float = YEAR):  # type: ignore[no-untyped-def]
    return read_crimes(text.splitlines(keepends=True), now=NOW, keep_seconds=keep)


def test_a_good_file_gives_its_crimes_with_points_as_incidents_and_counts_what_it_skips() -> None:
    found = read(crime_file(crime(ID, "2026-10", "-2.242631", "53.480759"), anti_social("2026-10", "-2.24", "53.48"),
                            no_point("ab12", "2026-10"), crime("zeroed", "2026-10", "0", "0"),
                            crime("old", "2025-01", "-2.24", "53.48"), crime(ID, "2026-10", "-2.1", "53.4")))
    assert found.ok, found.problems
    assert (found.rows, found.no_point, found.too_old, found.repeated) == (6, 2, 1, 1)
    burglary, asb = found.incidents
    assert (burglary.id, burglary.source, burglary.type, burglary.status) == (
        ID, "police.uk", "Burglary", "Investigation complete; no suspect identified")
    assert burglary.at == datetime(2026, 10, 1, tzinfo=UTC).timestamp()
    assert (burglary.point.lat, burglary.point.lon) == (53.480759, -2.242631)
    assert asb.type == "Anti-social behaviour" and asb.id.startswith("row-")


def test_anti_social_behaviour_rows_get_the_same_ids_each_time_and_identical_rows_stay_apart() -> None:
    text = crime_file(anti_social("2026-10", "-2.24", "53.48"), anti_social("2026-10", "-2.24", "53.48"))
    first, again = read(text).incidents, read(text).incidents
    assert [i.id for i in first] == [i.id for i in again]
    assert len({i.id for i in first}) == 2


def test_every_bad_row_is_named_by_its_line_and_nothing_is_kept() -> None:
    text = crime_file(crime(ID, "2026-10", "-2.24", "53.48"),
                      crime("a1", "Oct 2026", "-2.24", "53.48"),
                      crime("a2", "2026-10", "west", "91"),
                      crime("a3", "2026-10", "-2.24", ""),
                      crime("a4", "2026-10", "-2.24", "53.48", kind=""),
                      "a5,2026-10,too,few",
                      crime("has space", "2026-10", "-2.24", "53.48"))
    found = read(text)
    assert [str(p) for p in found.problems] == [
        "line 3: Month: 'Oct 2026' is not a month (YYYY-MM)",
        "line 4: Longitude: 'west' is not a number",
        "line 4: Latitude: 91 is out of range (-85.0511..85.0511)",
        "line 5: Latitude: '' is not a number",
        "line 6: Crime type: empty",
        "line 7: 4 columns, expected 12",
        "line 8: Crime ID: 'has space' is not in the expected form",
    ]
    assert found.incidents == []


def test_lines_are_the_files_own_when_a_quoted_field_holds_a_newline() -> None:
    text = crime_file(crime("a1", "2026-10", "-2.24", "53.48", outcome="Under\ninvestigation"),
                      crime("a2", "2026-13", "-2.24", "53.48"))
    assert [str(p) for p in read(text).problems] == ["line 4: Month: '2026-13' is not a month (YYYY-MM)"]


@pytest.mark.parametrize(("text", "problem"), [
    ("", "line 1: empty file: expected the header Crime ID,Month,"),
    ("Crime ID,Month,Longitude,Latitude\r\n", "line 1: not police.uk's street-level crime layout"),
    (HEADER + '\r\nx,2026-10,"unclosed\r\n', "line 2: not CSV: unexpected end of data"),
])
def test_a_file_that_is_not_the_layout_is_refused_as_a_whole(text: str, problem: str) -> None:
    found = read(text)
    assert str(found.problems[0]).startswith(problem)
    assert found.incidents == []


def test_a_byte_order_mark_before_the_header_is_taken() -> None:
    assert read("\ufeff" + crime_file(crime(ID, "2026-10", "-2.24", "53.48"))).ok
