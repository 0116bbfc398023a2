"""Counting round trips to Redis, so a test or a benchmark can hold a lookup to one.

A round trip is one write of packed commands followed by reading their replies: redis-py sends a
single command, a pipeline or a transaction with exactly one ``send_packed_command`` call, so
counting those calls on the connection counts round trips, whatever the store does above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import Connection


@dataclass(slots=True)
class RoundTrips:
    count: int = 0


class CountingConnection(Connection):
    """A redis-py asyncio connection that counts its writes in a shared :class:`RoundTrips`."""

    def __init__(self, *args: Any, round_trips: RoundTrips, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.round_trips = round_trips

    # Any: redis-py's own signature, overridden
    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self.round_trips.count += 1
        await super().send_packed_command(command, check_health)


# Any: redis-py's connection kwargs, passed through
def counting_client(url: str, **kwargs: Any) -> tuple[aioredis.Redis, RoundTrips]:
    """A client for ``url`` whose every connection counts into the returned :class:`RoundTrips`.

    The connection's own handshake (HELLO, SELECT, CLIENT SETINFO) counts too: measure a delta
    after a first command has opened the connection.
    """
    round_trips = RoundTrips()
    client = aioredis.Redis.from_url(url, connection_class=CountingConnection, round_trips=round_trips, **kwargs)
    return client, round_trips
