"""The location service: the caller's location looked up by their number over HTTP.

The shape of the UK's emergency location services (handset-derived AML locations relayed to the
answering point): one request per call, by number, answered with the newest fix the service holds.

    GET <service_url with {number} replaced>      Accept: application/json
    200 {"lat": 51.5014, "lon": -0.1419, "radius_m": 20, "confidence": 68,
         "at": "2026-12-02T16:40:05Z" (or epoch seconds), "method": "GNSS", "civic": ""}
    404 (or 200 {"location": null}): the service holds no location for that number

``lat``/``lon`` WGS84 degrees, ``radius_m`` the uncertainty circle in metres, ``confidence`` percent,
``at`` when the fix was made (its age on the pop). Anything else (another status, a body that is not
such a location, a connection or time-out failure) is :class:`LocationServiceFailed`; the answer is
bounded (64 KiB) and checked like any outside data.
"""

from __future__ import annotations

import math
from datetime import datetime
from urllib.parse import quote

import httpx
import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from screenpop.errors import LocationServiceFailed
from screenpop.places import Location

MAX_ANSWER_BYTES = 65_536


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    radius_m: float | None = Field(None, ge=0, le=1_000_000, allow_inf_nan=False)
    confidence: int | None = Field(None, ge=0, le=100)
    at: float | AwareDatetime
    civic: str = Field("", max_length=300)


class LocationService:
    """One client for the service, its connections kept between lookups."""

    def __init__(self, url: str, timeout_seconds: float, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds
        self._client = httpx.AsyncClient(timeout=timeout_seconds, transport=transport, follow_redirects=False,
                                         headers={"Accept": "application/json", "User-Agent": "intake"})

    async def lookup(self, number: str) -> Location | None:
        """The service's location for ``number`` (source ``service``), ``None`` when it has none."""
        url = self.url.replace("{number}", quote(number, safe=""))  # "+" in a query is a space: sent as %2B
        try:
            async with self._client.stream("GET", url) as response:
                body = await _bounded(response)
        except httpx.TimeoutException:
            raise LocationServiceFailed(f"no answer within {self.timeout_seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise LocationServiceFailed(f"unreachable: {type(exc).__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise LocationServiceFailed("refused the lookup", status=response.status_code)
        return parse_answer(body)

    async def close(self) -> None:
        await self._client.aclose()


async def _bounded(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise LocationServiceFailed(f"answer over {MAX_ANSWER_BYTES} bytes", status=response.status_code)
    return bytes(body)


def parse_answer(body: bytes) -> Location | None:
    """A 200's body as the caller's location; ``{"location": null}`` is none."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise LocationServiceFailed("answer is not JSON") from None
    if isinstance(document, dict) and "location" in document:
        document = document["location"]
        if document is None:
            return None
    try:
        answer = _Answer.model_validate(document)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        raise LocationServiceFailed(f"answer is not a location: {where}: {first['msg']}") from None
    at = answer.at.timestamp() if isinstance(answer.at, datetime) else answer.at
    if not math.isfinite(at):
        raise LocationServiceFailed("answer is not a location: at: not a time")
    return Location(lat=answer.lat, lon=answer.lon, source="service", at=at, radius_m=answer.radius_m,
                    confidence=answer.confidence, civic=answer.civic)
