"""``[location]``: where the pop's location of the caller comes from (screenpop.location).

``order`` ranks the sources: ``call`` (the INVITE's PIDF-LO, through the PBX's geolocation and the
shipped dialplan), ``service`` (the location service, looked up by the caller's number over HTTP:
``service_url``, empty for none) and ``history`` (the last location on the caller's own record, no
older than ``history_max_age_days``). A source left out of ``order`` is never used (and the service
never asked). docs/location.md has the service's request and answer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Source = Literal["call", "service", "history"]


class LocationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    order: tuple[Source, ...] = Field(("call", "service", "history"), max_length=3,
                                      description="the sources, best first; one left out is not used")
    service_url: str = Field("", description="the location service: an http(s) URL with {number} in it; empty: none")
    timeout_seconds: float = Field(2.0, gt=0, le=30, description="a lookup that takes longer is given up (the pop has gone already)")
    history_max_age_days: float = Field(30.0, gt=0, le=3650, description="an older location on the caller's record is not shown")

    @field_validator("order")
    @classmethod
    def _each_once(cls, value: tuple[Source, ...]) -> tuple[Source, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"names a source twice: {', '.join(value)}")
        return value

    @field_validator("service_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value:
            return value
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// on a closed network)")
        if value.count("{number}") != 1:
            raise ValueError("must hold {number} once: where the caller's number goes")
        return value

    @property
    def service_on(self) -> bool:
        return bool(self.service_url) and "service" in self.order
