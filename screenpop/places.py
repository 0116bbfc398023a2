"""Where a caller is, and what has happened near there: the shapes the location sources, the
incident store, the pop and the desktop's map share.

A location is the caller's, never the PBX's or the handler's: ``source`` says where intake got it
(the call's own PIDF-LO, the location service looked up by number, or the caller's history),
``at`` when it was fixed (its age on the pop is the desktop's ``now - at``), and ``radius_m`` /
``confidence`` how far to trust it. Everything is bounded: it comes from outside (a SIP INVITE, an
HTTP service, a command-and-control system) and ends up on handlers' screens and in Redis.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LocationSource = Literal["call", "service", "history"]
"""call: the caller's PIDF-LO in the SIP INVITE (through Asterisk's geolocation); service: the
location service looked up by the caller's number; history: the last location on the caller's
own record."""
IncidentSource = Literal["force", "police.uk", "intake"]
"""force: the force's command-and-control system (REST); police.uk: an imported street-level
crime file; intake: a graded outcome of one of intake's own calls that had a location."""


class Point(BaseModel):
    """WGS84 degrees."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    lat: float = Field(ge=-90.0, le=90.0, allow_inf_nan=False)
    lon: float = Field(ge=-180.0, le=180.0, allow_inf_nan=False)


class Location(Point):
    """The caller's location as one source gave it."""

    source: LocationSource
    at: float = Field(allow_inf_nan=False)
    """When the location was fixed (epoch seconds), not when intake received it."""
    radius_m: float | None = Field(default=None, ge=0.0, le=1_000_000.0, allow_inf_nan=False)
    """The uncertainty circle's radius; None when the source gave none (a civic address)."""
    confidence: int | None = Field(default=None, ge=0, le=100)
    """Percent probability that the caller is within ``radius_m`` (PIDF-LO's confidence)."""
    civic: str = Field(default="", max_length=300)
    """A civic address as one line, when the source gave one."""


class NearbyIncident(BaseModel):
    """One incident within the configured radius and period of the caller's location."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(max_length=128)
    source: IncidentSource
    type: str = Field(max_length=120)
    grade: str = Field(default="", max_length=40)
    """The force's grading (emergency, priority...), "" for an imported crime (it has none)."""
    status: str = Field(default="", max_length=60)
    """open / closed for the force's, the last outcome category for an imported crime."""
    at: float
    point: Point
    distance_m: float = Field(ge=0.0)
    at_address: bool = False
    """Within the location's own uncertainty of the caller: shown first, as a marker is."""
