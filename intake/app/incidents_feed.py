"""Incidents fed to the store by the force and by intake itself (screenpop.incidents): the
store's settings from the configuration, and the command-and-control system's incident as the
REST API takes it."""

from __future__ import annotations

from intake.core.config_incidents import IncidentsConfig
from screenpop.incidents import DAY, Incident, IncidentStoreConfig
from screenpop.models import Outcome
from screenpop.places import Location, Point


def store_config(incidents: IncidentsConfig, prefix: str) -> IncidentStoreConfig:
    """The store's settings from the configuration's ``[incidents]`` and ``[redis] key_prefix``."""
    return IncidentStoreConfig(prefix=prefix, radius_m=incidents.radius_m, period_seconds=incidents.period_days * DAY,
                               limit=incidents.limit, address_m=incidents.address_m,
                               retention_seconds=incidents.retention_days * DAY)


def incident_of_outcome(outcome: Outcome, line: str, queued_at: float, location: Location) -> Incident:
    """A handler's graded outcome of one of intake's own calls that had a location: an incident
    where the caller was, when they called; graded again, the same incident with the new grade."""
    return Incident(id=outcome.call_id, source="intake", type=f"{line} call", grade=outcome.grading, status="graded",
                    at=queued_at, point=Point(lat=location.lat, lon=location.lon))
