"""The location service client against a real HTTP server on loopback (tests/support/location_service.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from screenpop.errors import LocationServiceFailed
from screenpop.location_service import LocationService
from screenpop.places import Location
from tests.support.location_service import LocationServer


@pytest.fixture
def server() -> Iterator[LocationServer]:
    with LocationServer() as s:
        yield s


@pytest.fixture
async def service(server: LocationServer) -> AsyncIterator[LocationService]:
    client = LocationService(server.url, 1.0)
    yield client
    await client.close()


async def test_a_number_the_service_knows_comes_back_as_the_services_location(server: LocationServer, service: LocationService) -> None:
    server.answer("07700900021", {"lat": 53.4808, "lon": -2.2426, "radius_m": 18, "confidence": 68,
                                  "at": "2026-12-02T16:40:05Z", "method": "GNSS"})
    found = await service.lookup("07700900021")
    assert found == Location(lat=53.4808, lon=-2.2426, source="service", at=1796229605.0, radius_m=18.0, confidence=68)
    assert server.asked == ["07700900021"]


async def test_a_plus_number_is_asked_as_it_is(server: LocationServer, service: LocationService) -> None:
    server.answer("+447700900021", {"lat": 1.0, "lon": 2.0, "at": 1796229605.5})
    found = await service.lookup("+447700900021")
    assert found is not None and found.at == 1796229605.5 and found.radius_m is None
    assert server.asked == ["+447700900021"]


@pytest.mark.parametrize(("status", "body"), [(404, b""), (200, b'{"location": null}')])
async def test_a_number_the_service_does_not_know_is_no_location(server: LocationServer, service: LocationService,
                                                                 status: int, body: bytes) -> None:
    server.answer("07700900022", status=status, body=body)
    assert await service.lookup("07700900022") is None


@pytest.mark.parametrize(("status", "body", "says"), [
    (500, b"oops", "refused the lookup (HTTP 500)"),
    (200, b"not json", "answer is not JSON"),
    (200, b'{"lat": 95, "lon": 0, "at": 1}', "answer is not a location: lat"),
    (200, b'{"lat": 51, "lon": 0}', "answer is not a location: at"),
    (200, b'{"lat": 51, "lon": 0, "at": "2026-12-02T16:40:05"}', "answer is not a location: at"),  # no time zone
    (200, b'{"lat": 51, "lon": 0, "at": 1, "radius_m": -3}', "answer is not a location: radius_m"),
    (200, b'{"lat": 51, "lon": 0, "at": 1, "pad": "' + b"x" * 70_000 + b'"}', "answer over 65536 bytes"),
])
async def test_an_answer_that_is_not_a_location_fails_saying_why(server: LocationServer, service: LocationService,
                                                                 status: int, body: bytes, says: str) -> None:
    server.answer("07700900023", status=status, body=body)
    with pytest.raises(LocationServiceFailed) as failed:
        await service.lookup("07700900023")
    assert says in str(failed.value) and "07700900023" not in str(failed.value)


async def test_a_service_slower_than_the_timeout_fails(server: LocationServer) -> None:
    server.answer("07700900024", {"lat": 1.0, "lon": 2.0, "at": 1})
    server.hold("07700900024")
    client = LocationService(server.url, 0.2)
    try:
        with pytest.raises(LocationServiceFailed, match="no answer within 0.2 s"):
            await client.lookup("07700900024")
    finally:
        server.release("07700900024")
        await client.close()


async def test_a_service_that_is_not_there_fails() -> None:
    with LocationServer() as gone:
        url = gone.url
    client = LocationService(url, 1.0)
    try:
        with pytest.raises(LocationServiceFailed, match="unreachable"):
            await client.lookup("07700900025")
    finally:
        await client.close()
