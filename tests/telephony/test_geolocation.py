"""The caller's location as the dialplan hands it over (INTAKE_GEO), read into a CallerLocation.

The first case is the line Asterisk 22.10 wrote on the test PBX for SIPp's PIDF-LO circle
(tests/pbx/test_location_call.py checks it stays so); the others are the shapes and civic
addresses RFC 5491/5139 allow, and what a hostile INVITE could put there.
"""

from __future__ import annotations

import pytest

from telephony.frames import parse_frame
from telephony.geolocation import (
    CallerLocation,
    ami_escaped,
    geolocation_value,
    parse_geolocation,
)
from telephony.translate import translate

RECORDED = r'shape=\"Circle\",crs=\"2d\",pos=\"51.501364 -0.14189\",radius=\"35\",pdf=\"normal\",value=\"95\"'

CASES = [
    ("circle with confidence, as recorded", RECORDED, CallerLocation(51.501364, -0.14189, 35.0, 95, shape="Circle")),
    ("point, no confidence", r'shape=\"Point\",crs=\"2d\",pos=\"53.4808 -2.2426\",',
     CallerLocation(53.4808, -2.2426, None, None, shape="Point")),
    ("3d point keeps lat lon", r'shape=\"Point\",crs=\"3d\",pos=\"53.4808 -2.2426 40\",',
     CallerLocation(53.4808, -2.2426, None, None, shape="Point")),
    ("ellipse: the semi-major axis bounds it", (r'shape=\"Ellipse\",crs=\"2d\",pos=\"52.2 0.12\",semiMajorAxis=\"120\",'
                                                  r'semiMinorAxis=\"40\",orientation=\"20 degrees\",pdf=\"unknown\",value=\"68\"'),
     CallerLocation(52.2, 0.12, 120.0, 68, shape="Ellipse")),
    ("arc band: its outer radius", (r'shape=\"ArcBand\",crs=\"2d\",pos=\"52.2 0.12\",innerRadius=\"100\",outerRadius=\"900\",'
                                      r'startAngle=\"0 degrees\",openingAngle=\"90 degrees\",'), CallerLocation(52.2, 0.12, 900.0, None, shape="ArcBand")),
    ("unknown crs cannot be placed", r'shape=\"Point\",crs=\"unknown\",pos=\"400000 120000\",', None),
    ("latitude out of range", r'shape=\"Point\",crs=\"2d\",pos=\"91 0\",', None),
    ("not a number", r'shape=\"Point\",crs=\"2d\",pos=\"nan 0\",', None),
    ("circle without its radius", r'shape=\"Circle\",crs=\"2d\",pos=\"51.5 -0.1\",', None),
    ("negative radius", r'shape=\"Circle\",crs=\"2d\",pos=\"51.5 -0.1\",radius=\"-5\",', None),
    ("a shape we do not know", r'shape=\"Torus\",crs=\"2d\",pos=\"51.5 -0.1\",', None),
    ("confidence beyond 100 is dropped, the point kept", r'shape=\"Point\",crs=\"2d\",pos=\"51.5 -0.1\",pdf=\"normal\",value=\"250\"',
     CallerLocation(51.5, -0.1, None, None, shape="Point")),
    ("civic address", r'country=\"GB\",A1=\"England\",A3=\"London\",RD=\"Downing\",STS=\"Street\",HNO=\"10\",PC=\"SW1A 2AA\",',
     CallerLocation(None, None, civic="10 Downing Street, London, England, SW1A 2AA, GB")),
    ("no location (no Geolocation header)", "", None),
    ("no profile on the channel", ",", None),
    ("garbage", "<script>alert(1)</script>", None),
    ("far too long", "shape=" + "x" * 5000, None),
]


@pytest.mark.parametrize(("value", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_intake_geo_reads_as(value: str, expected: CallerLocation | None) -> None:
    assert parse_geolocation(value) == expected


def test_a_polygon_is_its_corners_centre_and_the_circle_that_holds_them() -> None:
    located = parse_geolocation(r'shape=\"Polygon\",crs=\"2d\",posList=\"51.0 -1.0 51.0 -0.99 51.01 -0.99 51.01 -1.0\",')
    assert located is not None and located.shape == "Polygon"
    assert located.lat == pytest.approx(51.005) and located.lon == pytest.approx(-0.995)
    assert 600 < (located.radius_m or 0) < 700  # half the ~1.3 km diagonal


def test_the_simulated_dialplan_value_reads_back_as_the_location_it_was_made_from() -> None:
    for location in (CallerLocation(51.501364, -0.14189, 35.0, 95, shape="Circle"),
                     CallerLocation(53.48, -2.24, None, None, shape="Point"),
                     CallerLocation(None, None, civic="1 Main Street, Leeds")):
        assert parse_geolocation(ami_escaped(geolocation_value(location))) == location


def test_a_recorded_queue_caller_join_carries_the_callers_location_and_no_silent_mark() -> None:
    block = ("Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nTimestamp: 1796229901.267055\r\n"
             "Channel: PJSIP/caller-4-00000000\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n"
             "CallerIDNum: 07700900004\r\nCallerIDName: Test Caller 4\r\nConnectedLineNum: <unknown>\r\n"
             "ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: callers\r\nExten: 999\r\n"
             "Priority: 4\r\nUniqueid: 1796229900.0\r\nLinkedid: 1796229900.0\r\nChanVariable: INTAKE_SILENT=\r\n"
             f"ChanVariable: INTAKE_GEO={RECORDED}\r\nQueue: emergency\r\nPosition: 1\r\nCount: 1")
    queued = translate(parse_frame(block.encode()), 0.0)
    assert queued.location == CallerLocation(51.501364, -0.14189, 35.0, 95, shape="Circle")  # type: ignore[union-attr]
    assert not queued.silent  # type: ignore[union-attr]


def test_a_silent_located_caller_is_both() -> None:
    block = ("Event: QueueCallerJoin\r\nUniqueid: 1.1\r\nQueue: emergency\r\nChannel: PJSIP/caller-1-1\r\nPosition: 1\r\n"
             f"ChanVariable: INTAKE_SILENT=1\r\nChanVariable: INTAKE_GEO={RECORDED}")
    queued = translate(parse_frame(block.encode()), 0.0)
    assert queued.silent and queued.location is not None  # type: ignore[union-attr]
