"""The [oidc] section: accepted when right, every fault named with its key path; the client
secret is a reference, resolved with the others and never echoed."""

from __future__ import annotations

from typing import Any

import pytest

from intake.core import config
from intake.core.errors import ConfigError

BASE: dict[str, Any] = {"ami": {"secret": "env:X"},
                        "lines": [{"name": "999", "target_seconds": 12, "queues": ["emergency"]}]}


def test_an_oidc_section_is_read_with_its_defaults() -> None:
    parsed = config.parse(BASE | {"oidc": {"issuer": "https://login.example.police.uk/tenant/v2.0",
                                           "client_id": "intake", "client_secret": "env:OIDC_SECRET"}})
    assert parsed.oidc is not None
    assert (parsed.oidc.username_claim, parsed.oidc.roles_claim, parsed.oidc.token_audience) == (
        "preferred_username", "roles", "intake")
    assert parsed.oidc.session_seconds == 8 * 3600


def test_the_client_secret_is_resolved_with_the_other_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X", "ami")
    monkeypatch.setenv("OIDC_SECRET", "s3cret")
    parsed = config.parse(BASE | {"oidc": {"issuer": "https://idp", "client_id": "c", "client_secret": "env:OIDC_SECRET"}})
    assert config.resolve_secrets(parsed)["oidc.client_secret"] == "s3cret"
    monkeypatch.delenv("OIDC_SECRET")
    with pytest.raises(ConfigError, match="oidc.client_secret"):
        config.resolve_secrets(parsed)


@pytest.mark.parametrize(("oidc", "path", "words"), [
    ({"client_id": "c"}, "oidc.issuer", "required key is missing"),
    ({"issuer": "login.example", "client_id": "c"}, "oidc.issuer", "http(s):// URL"),
    ({"issuer": "https://idp", "client_id": "c", "client_secret": "hunter2-literal"}, "oidc.client_secret",
     "env:NAME or file:PATH"),
    ({"issuer": "https://idp", "client_id": "c", "scopes": ["profile"]}, "oidc.scopes", '"openid"'),
    ({"issuer": "https://idp", "client_id": "c", "session_seconds": 10}, "oidc.session_seconds", "60"),
    ({"issuer": "https://idp", "client_id": "c", "roles": "x"}, "oidc.roles", "unknown key"),
])
def test_a_faulty_oidc_section_is_refused_naming_the_key(oidc: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.parse(BASE | {"oidc": oidc})
    assert [p.path for p in caught.value.problems] == [path]
    assert words in caught.value.problems[0].message
    assert "hunter2" not in str(caught.value)
