"""The demo's places: where its callers are, and a street-level crime file around them that the
demo writes itself (police.uk's monthly layout, nothing downloaded) and imports at start.

Everything is drawn from the demo's seed, so two runs with one seed show the same map. The
town is Oxford (Thames Valley): callers live within a couple of kilometres of Carfax; the crimes
are spread over the same streets, a few at callers' own doors (a pop's "at the caller's
location" first), some older than the pop's period (stored, never listed), and a few with no
map point (police.uk zeroes those: the import counts and skips them, as it would a real file).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime

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
