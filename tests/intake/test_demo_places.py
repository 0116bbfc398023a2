"""The demo's places: the crime file it writes passes the importer as a real police.uk file would
(its no-point rows counted and skipped, nothing else refused), and is the same for one seed;
some callers have crimes at their own door, recent enough to be listed; some crimes are too old
to be listed; most callers' phones send a location, not all."""

from __future__ import annotations

import time

import httpx

from intake.app.demo_places import (
    CENTRE,
    DemoLocationService,
    caller_home,
    phone_location,
    sample_crimes,
    sends_location,
)
from screenpop.incidents_csv import read_crimes
from screenpop.places import Point
from telephony.geolocation import distance_m

NOW = 1_780_000_000.0
DAY = 86_400.0
NUMBERS = [f"07700900{i:03d}" for i in range(40)]


def metres(a: Point, b: Point) -> float:
    return distance_m(a.lat, a.lon, b.lat, b.lon)


def test_the_sample_file_is_read_by_the_importer_with_only_its_pointless_rows_skipped() -> None:
    text = sample_crimes(7, NOW, NUMBERS)
    crimes = read_crimes(text.splitlines(keepends=True), now=NOW, keep_seconds=400 * DAY)
    assert crimes.ok, crimes.problems
    assert crimes.no_point == 4 and crimes.too_old == 0 and crimes.repeated == 0
    assert len(crimes.incidents) == crimes.rows - 4 > 400
    assert {i.source for i in crimes.incidents} == {"police.uk"}
    assert any(i.type == "Anti-social behaviour" for i in crimes.incidents)  # no Crime ID, as police.uk gives them
    assert max(metres(CENTRE, i.point) for i in crimes.incidents) < 20_000  # one town
    assert sample_crimes(7, NOW, NUMBERS) == text and sample_crimes(8, NOW, NUMBERS) != text


def test_some_callers_have_recent_crimes_at_their_door_and_some_crimes_are_too_old_to_list() -> None:
    crimes = read_crimes(sample_crimes(7, NOW, NUMBERS).splitlines(keepends=True), now=NOW, keep_seconds=400 * DAY).incidents
    listed = [i for i in crimes if i.at > NOW - 90 * DAY]  # [incidents] period_days' default
    at_door = {n: [i for i in listed if metres(caller_home(n, 7), i.point) <= 25] for n in NUMBERS}
    assert sum(len(found) >= 3 for found in at_door.values()) >= len(NUMBERS) // 4
    assert len(listed) < len(crimes)  # the older ones are stored, never listed
    homes = [caller_home(n, 7) for n in NUMBERS]
    assert all(metres(CENTRE, home) < 2000 for home in homes) and len(set(homes)) == len(NUMBERS)
    assert caller_home("07700900001", 7) == homes[1]  # one number, one home, for a seed
    sending = [sends_location(n, 7) for n in NUMBERS]
    assert 0 < sending.count(False) < len(NUMBERS) // 2


def test_a_callers_phone_sends_their_home_with_an_uncertainty_or_nothing() -> None:
    located = phone_location(7)
    for number in NUMBERS:
        sent = located(number)
        if not sends_location(number, 7):
            assert sent is None
            continue
        assert sent is not None and Point(lat=sent.lat, lon=sent.lon) == caller_home(number, 7)
        assert sent.radius_m is not None and 5 <= sent.radius_m <= 1000 and sent.confidence in (68, 90, 95)
    assert located(NUMBERS[3]) == phone_location(7)(NUMBERS[3])


async def test_the_demo_location_service_answers_for_the_phones_that_send_none_and_404_for_the_rest() -> None:
    service = DemoLocationService(7, delay=0)
    port = await service.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for number in NUMBERS[:12]:
                answer = await http.get(f"/locate/{number}", headers={"Accept": "application/json"})
                if sends_location(number, 7):
                    assert answer.status_code == 404 and answer.json() == {"location": None}
                    continue
                assert answer.status_code == 200, number
                found = answer.json()
                assert Point(lat=found["lat"], lon=found["lon"]) == caller_home(number, 7)
                assert 0 < found["radius_m"] <= 40 and found["confidence"] == 68 and found["at"] < time.time()
    finally:
        await service.close()
    assert service.asked == 12
