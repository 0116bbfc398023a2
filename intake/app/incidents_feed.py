"""Incidents fed to the store by the force and by intake itself (screenpop.incidents): the
store's settings from the configuration, and the command-and-control system's incident as the
REST API takes it."""

from __future__ import annotations

from intake.core.config_incidents import IncidentsConfig
from screenpop.incidents import DAY, IncidentStoreConfig


def store_config(incidents: IncidentsConfig, prefix: str) -> IncidentStoreConfig:
    """The store's settings from the configuration's ``[incidents]`` and ``[redis] key_prefix``."""
    return IncidentStoreConfig(prefix=prefix, radius_m=incidents.radius_m, period_seconds=incidents.period_days * DAY,
                               limit=incidents.limit, address_m=incidents.address_m,
                               retention_seconds=incidents.retention_days * DAY)
