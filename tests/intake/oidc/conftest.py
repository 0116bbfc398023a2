"""The real OpenID provider (tests/support/oidc.py), one per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.oidc import OidcProvider, oidc_provider


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with oidc_provider() as started:
        yield started
