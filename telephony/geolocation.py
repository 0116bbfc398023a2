"""The caller's location as the PBX hands it to intake: the ``INTAKE_GEO`` channel variable.

Sans-I/O, no dependencies. How it gets there (all checked on Asterisk 22.10, tests/pbx/test_location_call.py):
the caller's INVITE carries a ``Geolocation: <cid:...>`` header naming the PIDF-LO part of its
body (RFC 6442); res_pjsip_geolocation reads it into the channel (pjsip.conf's
``geoloc_incoming_call_profile``); the dialplan's ``[intake-location]`` sets

    INTAKE_GEO=${GEOLOC_PROFILE(location_info)},${GEOLOC_PROFILE(confidence)}

and manager.conf's ``channelvars`` puts it on every event of the caller's channel, QueueCallerJoin
included, so the location is known before the first ring. Asterisk writes each channel variable
C-escaped (manager_channels.c, ``ast_escape_c_alloc``), so the line on the wire is

    ChanVariable: INTAKE_GEO=shape=\\"Circle\\",crs=\\"2d\\",pos=\\"51.501364 -0.14189\\",radius=\\"35\\",pdf=\\"normal\\",value=\\"95\\"

``location_info`` is ``name="value"`` pairs: for GML ``shape`` (the element's name), ``crs``
(``2d`` for EPSG:4326, ``3d`` for EPSG:4979, ``unknown`` otherwise), then the shape's own elements
(``pos`` "lat lon", ``radius``, ``semiMajorAxis``, ``posList``...; lengths in metres, the unit
dropped); for a civic address the civicAddress elements (``country``, ``A1``..``A6``, ``RD``,
``HNO``, ``PC``...). ``confidence`` adds ``pdf`` and ``value`` (percent). Asterisk keeps no
PIDF-LO ``<timestamp>``: the location's time is the event's.

Everything here comes from a caller's INVITE: bounded, and never an exception. A value that does
not make a location is ``None`` (the call goes on without one; other sources may find it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

VARIABLE = "INTAKE_GEO"
"""The channel variable the dialplan sets and manager.conf's ``channelvars`` lists."""
MAX_CHARS = 4000
"""A PIDF-LO's location as one line; a longer one is refused, not read."""

_PAIR = re.compile(r'([A-Za-z][A-Za-z0-9_.-]{0,40})="([^"]{0,500})"')
_C_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_UNESCAPE = re.compile(r"\\(.)")
_CRS = {"2d", "3d"}  # WGS84 (EPSG:4326 / 4979): lat lon [alt]; anything else cannot be placed
_RADIUS_OF_SHAPE = {
    "Point": "",
    "Circle": "radius",
    "Sphere": "radius",
    "Ellipse": "semiMajorAxis",
    "Ellipsoid": "semiMajorAxis",
    "ArcBand": "outerRadius",
}
"""GML shape -> the element that bounds it from its ``pos``: the uncertainty circle's radius."""
_CIVIC_ORDER = ("NAM", "BLD", "FLR", "UNIT", "ROOM", "HNO", "HNS", "PRD", "RD", "STS", "POD", "A6",
                "LMK", "LOC", "A5", "A4", "A3", "A2", "A1", "PC", "country")
"""RFC 5139 civicAddress elements, from the most to the least precise, as one line reads them."""
_CIVIC_JOINED = {("HNO", "HNS"), ("PRD", "RD"), ("RD", "STS"), ("HNO", "RD"), ("HNS", "RD"), ("HNO", "PRD")}
"""Neighbours written with a space, not a comma: "10 Downing Street", "10A"."""
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class CallerLocation:
    """Where the INVITE said the caller is. ``lat``/``lon`` are WGS84 degrees, both ``None`` for a
    civic address alone; ``radius_m`` the uncertainty circle (``None``: a point given as exact);
    ``confidence`` percent; ``civic`` the civic address as one line ("" when none)."""

    lat: float | None
    lon: float | None
    radius_m: float | None = None
    confidence: int | None = None
    civic: str = ""
    shape: str = ""


def parse_geolocation(value: str) -> CallerLocation | None:
    """``INTAKE_GEO``'s value as AMI shows it (C-escaped) -> the caller's location, or ``None``."""
    if not value or len(value) > MAX_CHARS:
        return None
    fields = dict(_PAIR.findall(_UNESCAPE.sub(lambda m: _C_ESCAPES.get(m.group(1), m.group(1)), value)))
    confidence = _percent(fields.get("value")) if "pdf" in fields else None
    if "shape" in fields:
        return _gml(fields, confidence)
    civic = civic_line(fields)
    return CallerLocation(None, None, confidence=confidence, civic=civic) if civic else None


def _gml(fields: dict[str, str], confidence: int | None) -> CallerLocation | None:
    shape = fields["shape"]
    if fields.get("crs", "2d") not in _CRS:
        return None
    if shape in ("Polygon", "Prism"):
        return _polygon(fields.get("posList", ""), shape, confidence)
    if shape not in _RADIUS_OF_SHAPE:
        return None
    point = _position(fields.get("pos", ""))
    if point is None:
        return None
    key = _RADIUS_OF_SHAPE[shape]
    radius = _length(fields.get(key, "")) if key else None
    if key and radius is None:
        return None
    return CallerLocation(point[0], point[1], radius, confidence, shape=shape)


def _polygon(pos_list: str, shape: str, confidence: int | None) -> CallerLocation | None:
    """A polygon's centre (the mean of its corners) and the circle around it that holds them all."""
    numbers = _floats(pos_list) or []
    step = 3 if shape == "Prism" or len(numbers) % 2 else 2
    if len(numbers) < 3 * step or len(numbers) % step:
        return None
    corners = [(numbers[i], numbers[i + 1]) for i in range(0, len(numbers), step)]
    if not all(_on_earth(lat, lon) for lat, lon in corners):
        return None
    lat = sum(c[0] for c in corners) / len(corners)
    lon = sum(c[1] for c in corners) / len(corners)
    radius = max(distance_m(lat, lon, c[0], c[1]) for c in corners)
    return CallerLocation(lat, lon, radius, confidence, shape=shape)


def _floats(text: str) -> list[float] | None:
    try:
        numbers = [float(part) for part in text.split()]
    except ValueError:
        return None
    return numbers if all(math.isfinite(n) for n in numbers) else None


def _on_earth(lat: float, lon: float) -> bool:
    return -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0


def _position(text: str) -> tuple[float, float] | None:
    """GML ``pos``: "lat lon" or "lat lon alt" (EPSG:4326/4979 order)."""
    numbers = _floats(text)
    if numbers is None or len(numbers) not in (2, 3) or not _on_earth(numbers[0], numbers[1]):
        return None
    return numbers[0], numbers[1]


def _length(text: str) -> float | None:
    """A length in metres; Asterisk may append a unit word after the number."""
    numbers = _floats(text.split(" ", 1)[0])
    if not numbers or not 0.0 <= numbers[0] <= 1_000_000.0:
        return None
    return numbers[0]


def _percent(text: str | None) -> int | None:
    try:
        value = round(float(text or ""))
    except (ValueError, OverflowError):
        return None
    return value if 0 <= value <= 100 else None


def civic_line(fields: dict[str, str]) -> str:
    """RFC 5139 elements as one line, most precise first: "10 Downing Street, London, SW1A 2AA, GB"."""
    parts: list[str] = []
    previous = ""
    for key in _CIVIC_ORDER:
        text = " ".join(fields.get(key, "").split())
        if not text:
            continue
        if parts and (previous, key) in _CIVIC_JOINED:
            parts[-1] += ("" if key == "HNS" else " ") + text
        else:
            parts.append(text)
        previous = key
    return ", ".join(parts)[:300]


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def geolocation_value(location: CallerLocation) -> str:
    """What the dialplan sets INTAKE_GEO to for ``location`` (a GML point or circle, or a civic
    address as ``LOC``): the simulated PBX's side of :func:`parse_geolocation`."""
    pairs: list[tuple[str, str]]
    if location.lat is None or location.lon is None:
        pairs = [("LOC", location.civic)]
    else:
        shape = "Point" if location.radius_m is None else "Circle"
        pairs = [("shape", shape), ("crs", "2d"), ("pos", f"{location.lat!r} {location.lon!r}")]
        if location.radius_m is not None:
            pairs.append(("radius", f"{location.radius_m:g}"))
    text = ",".join(f'{k}="{v}"' for k, v in pairs)
    if location.confidence is not None:
        text += f',pdf="normal",value="{location.confidence}"'
    return text


def ami_escaped(value: str) -> str:
    """A channel variable's value as AMI writes it (``ast_escape_c``): backslash, quotes and the
    C control escapes."""
    out = value.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'").replace("?", "\\?")
    for letter, char in _C_ESCAPES.items():
        out = out.replace(char, "\\" + letter)
    return out
