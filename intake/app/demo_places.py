"""The demo's places: where its callers are, and a street-level crime file around them that the
demo writes itself (police.uk's monthly layout, nothing downloaded) and imports at start.

Everything is drawn from the demo's seed, so two runs with one seed show the same map. The
town is Oxford (Thames Valley): callers live within a couple of kilometres of Carfax; the crimes
are spread over the same streets, a few at callers' own doors (a pop's "at the caller's
location" first), some older than the pop's period (stored, never listed), and a few with no
map point (police.uk zeroes those: the import counts and skips them, as it would a real file).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import math
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import unquote

from screenpop.places import Point
from telephony.geolocation import EARTH_RADIUS_M, CallerLocation

CENTRE = Point(lat=51.75202, lon=-1.25773)  # Carfax, Oxford
FORCE = "Thames Valley Police"
STREETS = ("Cornmarket Street", "High Street", "Cowley Road", "Iffley Road", "Botley Road", "Walton Street",
           "St Clement's Street", "Abingdon Road", "Banbury Road", "Woodstock Road", "London Road", "Marston Road",
           "Headington Road", "Hythe Bridge Street", "George Street", "Magdalen Road", "Divinity Road", "Jericho Street")
CRIMES = (("Anti-social behaviour", 22), ("Violence and sexual offences", 20), ("Shoplifting", 9), ("Other theft", 8),
          ("Burglary", 7), ("Criminal damage and arson", 7), ("Vehicle crime", 6), ("Public order", 6),
          ("Bicycle theft", 5), ("Drugs", 4), ("Theft from the person", 2), ("Robbery", 2),
          ("Possession of weapons", 1), ("Other crime", 1))
OUTCOMES = ("Investigation complete; no suspect identified", "Under investigation", "Unable to prosecute suspect",
            "Awaiting court outcome", "Status update unavailable", "Local resolution", "Offender given a caution")
COLUMNS = ("Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
           "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context")
HOME_SPREAD_M = 1800.0
"""Callers live within about this of the centre: incidents within a pop's radius of most of them."""
WITHOUT_LOCATION = 5
"""One caller in this many calls from a phone that sends no location with the call."""


def offset(origin: Point, north_m: float, east_m: float) -> Point:
    lat = origin.lat + math.degrees(north_m / EARTH_RADIUS_M)
    lon = origin.lon + math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(origin.lat))))
    return Point(lat=round(lat, 6), lon=round(lon, 6))


def _scatter(rng: random.Random, origin: Point, spread_m: float) -> Point:
    """A point about ``origin``, denser near it (a town's centre has more of everything)."""
    distance, bearing = spread_m * math.sqrt(rng.random()) * rng.random() ** 0.3, rng.uniform(0, 2 * math.pi)
    return offset(origin, distance * math.cos(bearing), distance * math.sin(bearing))


def caller_home(number: str, seed: int) -> Point:
    """Where a demo caller is when they call (the same for one number and seed)."""
    return _scatter(random.Random(f"{seed}:home:{number}"), CENTRE, HOME_SPREAD_M)


def sends_location(number: str, seed: int) -> bool:
    """Whether this caller's phone puts a location in the call (most do; the rest fall back)."""
    return random.Random(f"{seed}:sends:{number}").randrange(WITHOUT_LOCATION) != 0


def _months_back(now: float, months: int) -> str:
    day = datetime.fromtimestamp(now, UTC)
    index = day.year * 12 + day.month - 1 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def sample_crimes(seed: int, now: float, numbers: list[str], *, count: int = 400) -> str:
    """A month-by-month street-level crime file in police.uk's layout, as CSV text: ``count``
    crimes over the last three months and a few older, three recent ones and an old one at each
    of a few callers' doors, and a few with no point. (police.uk dates a crime by its month: a
    month two back may be just past a pop's 90 days late in this month.)"""
    rng = random.Random(f"{seed}:crimes")
    kinds, weights = zip(*CRIMES)
    out = io.StringIO()
    rows = csv.writer(out, lineterminator="\r\n")
    rows.writerow(COLUMNS)

    def crime(point: Point | None, months: int, kind: str | None = None) -> None:
        kind = kind or rng.choices(kinds, weights)[0]
        anti_social = kind == "Anti-social behaviour"  # police.uk gives these no Crime ID and no outcome
        crime_id = "" if anti_social else hashlib.sha256(f"{seed}:{rng.random()}".encode()).hexdigest()
        street = rng.choice(STREETS)
        lsoa = rng.randrange(100)
        rows.writerow((crime_id, _months_back(now, months), FORCE, FORCE,
                       "" if point is None else f"{point.lon:.6f}", "" if point is None else f"{point.lat:.6f}",
                       f"On or near {street}" if point else "No Location", f"E0102{8500 + lsoa}" if point else "",
                       f"Oxford {lsoa // 4 + 1:03d}{'ABCD'[lsoa % 4]}" if point else "", kind,
                       "" if anti_social else rng.choice(OUTCOMES), ""))

    for _ in range(count):
        crime(_scatter(rng, CENTRE, HOME_SPREAD_M * 1.4), rng.choice((0, 1, 1, 2, 2, 2)))
    for number in numbers[::4]:  # some callers' own doors: listed first on their pops, but one too old
        home = caller_home(number, seed)
        for kind in ("Violence and sexual offences", "Criminal damage and arson", "Anti-social behaviour"):
            crime(_scatter(rng, home, 12.0), rng.choice((0, 1)), kind)
        crime(_scatter(rng, home, 12.0), 6, "Burglary")
    for _ in range(count // 10):  # older than a pop's period: stored, never listed
        crime(_scatter(rng, CENTRE, HOME_SPREAD_M), rng.choice((5, 6, 7)))
    for _ in range(4):  # no map point within 20 km: police.uk leaves the point empty
        crime(None, 1)
    return out.getvalue()


def phone_location(seed: int) -> Callable[[str], CallerLocation | None]:
    """What each demo caller's phone puts in its calls: most send where they are (a handset's fix,
    tens of metres; a few only the cell's, hundreds), the rest nothing (a pop then says so, or
    finds it another way)."""
    def located(number: str) -> CallerLocation | None:
        if not sends_location(number, seed):
            return None
        home, rng = caller_home(number, seed), random.Random(f"{seed}:fix:{number}")
        radius, confidence = (rng.choice((8, 12, 20, 35, 50)), rng.choice((68, 90, 95))) if rng.random() < 0.85 \
            else (rng.choice((250, 400, 800)), 68)
        return CallerLocation(home.lat, home.lon, float(radius), confidence, shape="Circle")
    return located


class DemoLocationService:
    """The demo's location service, on loopback: answers for the callers whose phones send no
    location with the call, as the UK's emergency location service would from the handset's own
    fix a moment later (after ``delay`` seconds: the pop has gone, the location follows it as
    ``pop.place``), and 404 for the rest (their call carried it). The request and answer are
    docs/location.md's; one HTTP/1.1 request per connection is all intake's client needs."""

    def __init__(self, seed: int, *, delay: float = 1.0) -> None:
        self.seed, self.delay = seed, delay
        self.asked = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def located(self, number: str, now: float) -> dict[str, object] | None:
        if sends_location(number, self.seed):
            return None
        home, rng = caller_home(number, self.seed), random.Random(f"{self.seed}:els:{number}")
        return {"lat": home.lat, "lon": home.lon, "radius_m": float(rng.choice((10, 15, 25, 40))), "confidence": 68,
                "at": round(now - rng.uniform(5, 25), 3)}

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = head.split(b" ", 2)[1].decode("ascii", "replace")
            self.asked += 1
            await asyncio.sleep(self.delay)
            found = self.located(unquote(path.rsplit("/", 1)[-1]), time.time())
            body = json.dumps(found).encode() if found else b'{"location": null}'
            status = b"200 OK" if found else b"404 Not Found"
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nConnection: close\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, IndexError):
            pass  # a client gone or garbled: nothing to answer
        finally:
            writer.close()
