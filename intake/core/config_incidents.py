"""``[incidents]``: the incidents a pop lists near the caller (screenpop.incidents).

An incident is personal data as much as the caller's location is: it is kept ``retention_days``
(by when it happened) and a pop never lists one older than ``period_days``, which may not be longer.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class IncidentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Listed on a pop when within this distance of the caller's location...
    radius_m: float = Field(500.0, gt=0, le=20_000)
    # ...and happened within this many days (police.uk's files come a month or two behind).
    period_days: float = Field(90.0, gt=0, le=3650)
    # At most this many on one pop: the nearest, then the newest.
    limit: int = Field(20, ge=1, le=200)
    # Within this distance of the caller's location an incident is "at the address", listed first.
    address_m: float = Field(25.0, ge=0, le=1000)
    # Removed this long after they happened (0 is not allowed: incidents are never kept for good).
    retention_days: float = Field(400.0, gt=0, le=3650)

    @model_validator(mode="after")
    def _period_within_retention(self) -> IncidentsConfig:
        if self.period_days > self.retention_days:
            raise ValueError(f"period_days ({self.period_days:g}) may not be longer than retention_days "
                             f"({self.retention_days:g}): a pop would list incidents already removed")
        return self
