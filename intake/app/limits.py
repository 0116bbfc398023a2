"""The rate limits at the web edge, per client address (:mod:`intake.core.rate_limit`'s buckets):
refused tokens (REST, the sockets' sign-in, the metrics scrape) and sign-ins.

A client over a limit is refused before its credential is looked at: HTTP 429 with
``Retry-After``, or close code 4429 on a socket (:class:`screenpop.errors.TooManyRefusals`).
The address is the peer's as uvicorn gives it: behind a load balancer, the one in its
``X-Forwarded-For`` when the balancer is in ``http.forwarded_allow_ips`` (else every client would
share the balancer's bucket).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from intake.core.config import HttpConfig
from intake.core.rate_limit import Rate, RateLimit
from screenpop.errors import TooManyRefusals


class Limits:
    def __init__(self, config: HttpConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.refusals = RateLimit(Rate(config.refused_burst, config.refused_per_minute), clock)
        self.sign_ins = RateLimit(Rate(config.sign_in_burst, config.sign_in_per_minute), clock)

    def may_try(self, client: str) -> None:
        """Raise TooManyRefusals when ``client`` has had too many tokens refused lately."""
        if (wait := self.refusals.wait(client)) is not None:
            raise TooManyRefusals(wait)

    def refused(self, client: str) -> None:
        self.refusals.spend(client)

    def signing_in(self, client: str) -> None:
        """A sign-in attempt of ``client``'s: counted, or TooManyRefusals when it has made too many lately."""
        if (wait := self.sign_ins.wait(client)) is not None:
            raise TooManyRefusals(wait)
        self.sign_ins.spend(client)


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


async def _sign_in_limited(request: Request) -> None:
    limits: Limits = request.app.state.limits
    limits.signing_in(client_of(request))


SignInLimited = Annotated[None, Depends(_sign_in_limited)]
"""A sign-in route's parameter (``_: SignInLimited``): at most ``http.sign_in_burst`` attempts
from one address at once, then ``http.sign_in_per_minute``."""
