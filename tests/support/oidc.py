"""A real OpenID provider on loopback: npm's OpenID-certified ``oidc-provider`` run by Node.

``scripts/test`` installs the package (pinned by tests/support/oidc_provider/package-lock.json)
into ``.cache/oidc-provider/``; :func:`oidc_provider` writes the provider's configuration (its
signing keys, intake's client, the test accounts and their roles), starts
``tests/support/oidc_provider/provider.mjs``, waits for the line it prints once it listens, then
for its discovery document. :meth:`OidcProvider.restart` starts it again with other keys (a key
rotation). :func:`through_login_page` goes through the provider's own login page the way a browser would
(headless, with httpx), for tests that need a real user's tokens without a browser.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import queue
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.support.processes import end, tail
from tests.waiting import patience_ms

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parent / "oidc_provider" / "provider.mjs"
MODULES = ROOT / ".cache" / "oidc-provider" / "node_modules"

CLIENT_ID = "intake"
CLIENT_SECRET = "intake-test-client-secret-0123456789"  # the test provider's; never a real one
AUDIENCE = "api://intake"
OTHER_AUDIENCE = "api://another-service"

# The test accounts: login (any password) -> name, roles. h1/h2 are handlers of the test bed's
# config, s1 its supervisor; "stranger" is a handler the config does not know; "nobody" has no role.
ACCOUNTS: dict[str, dict[str, object]] = {
    "h1": {"name": "Handler One", "roles": ["handler"]},
    "h2": {"name": "Handler Two", "roles": ["handler"]},
    "sup1": {"name": "Supervisor One", "roles": ["supervisor"]},
    "stranger": {"name": "Not Configured", "roles": ["handler"]},
    "nobody": {"name": "No Role", "roles": []},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_key() -> dict[str, object]:
    """A fresh RS256 signing key, as a private JWK with a kid of its own."""
    key = RSAKey.generate_key(2048, parameters={"alg": "RS256", "use": "sig"})
    key.ensure_kid()
    return key.as_dict(private=True)


@dataclass
class OidcProvider:
    port: int
    redirect_uris: list[str]
    keys: list[dict[str, object]] = field(default_factory=lambda: [new_key()])
    access_token_seconds: int = 300
    process: subprocess.Popen[bytes] | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="intake-oidc-")))

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "provider.log"

    def _config(self) -> dict[str, object]:
        client = {
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "redirect_uris": self.redirect_uris,
            "post_logout_redirect_uris": [uri.replace("/auth/callback", back) for uri in self.redirect_uris
                                          for back in ("/", "/auth/logged-out")],
            "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types": ["code"], "scope": "openid profile roles offline_access api",
            "default_resource": AUDIENCE,
        }
        return {"issuer": self.issuer, "port": self.port, "modules": str(MODULES), "keys": self.keys,
                "cookie_keys": [secrets.token_hex(16)], "clients": [client], "accounts": ACCOUNTS,
                "resources": {AUDIENCE: self.access_token_seconds, OTHER_AUDIENCE: self.access_token_seconds}}

    def start(self) -> None:
        if not (MODULES / "oidc-provider").is_dir():
            pytest.fail(f"oidc-provider is not installed in {MODULES}: scripts/test installs it (npm ci)")
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is not installed (Debian's nodejs)")
        path = self.workdir / "provider.json"
        path.write_text(json.dumps(self._config()))
        with self.log.open("ab") as log_file:
            self.process = subprocess.Popen([node, str(SCRIPT), str(path)], stdout=subprocess.PIPE, stderr=log_file)
        self._await_ready()

    def _await_ready(self, timeout: float = 30) -> None:
        """Wait for the provider's "ready" line (or its end), then for its discovery document."""
        assert self.process is not None and self.process.stdout is not None
        lines: queue.Queue[bytes] = queue.Queue()
        stdout = self.process.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            line = b""
        if not line.startswith(b"ready "):
            end(self.process)
            pytest.fail(f"the OpenID provider did not start:\n{tail(self.log)}")
        discovery = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=timeout)
        discovery.raise_for_status()

    def stop(self) -> None:
        end(self.process, grace=5)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def restart(self, keys: list[dict[str, object]]) -> None:
        """Start again on the same port signing with ``keys`` (the first signs): a key rotation."""
        self.stop()
        self.keys = keys
        self.start()

    def discovery(self) -> dict[str, object]:
        answer = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10)
        answer.raise_for_status()
        return dict(answer.json())

    def client_credentials(self, resource: str = AUDIENCE) -> str:
        """An access token for intake's client itself (no person): a JWT for ``resource``."""
        answer = httpx.post(f"{self.issuer}/token", auth=(CLIENT_ID, CLIENT_SECRET), timeout=10,
                            data={"grant_type": "client_credentials", "scope": "api", "resource": resource})
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def tokens_for(self, login: str, *, resource: str = AUDIENCE, redirect_uri: str | None = None) -> dict[str, str]:
        """A person's tokens by the authorization-code flow with PKCE, through the provider's own
        login page (headless): access token (a JWT for ``resource``), id token, refresh token."""
        redirect = redirect_uri or self.redirect_uris[0]
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        params = {"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": redirect,
                  "scope": "openid profile roles offline_access api", "resource": resource,
                  "code_challenge": challenge, "code_challenge_method": "S256", "state": secrets.token_urlsafe(8)}
        with httpx.Client(base_url=self.issuer, timeout=10) as client:
            back = parse_qs(urlsplit(through_login_page(client, f"/auth?{urlencode(params)}", login)).query)
            assert "code" in back, f"the provider refused: {back}"
            code = back["code"][0]
            answer = client.post("/token", auth=(CLIENT_ID, CLIENT_SECRET),
                                 data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                                       "code_verifier": verifier, "resource": resource})
        answer.raise_for_status()
        return {k: str(v) for k, v in answer.json().items()}


def through_login_page(client: httpx.Client, url: str, login: str) -> str:
    """Follow an authorization request (``url``) through the provider's login (and any consent)
    page as a browser would, signing in as ``login``; return the URL it sends the browser back to."""
    answer = client.get(url)
    for _ in range(10):
        if answer.is_redirect:
            location = urljoin(str(answer.url), answer.headers["location"])
            if urlsplit(location).netloc != client.base_url.netloc.decode():
                return location  # back to the client
            answer = client.get(location)
            continue
        form = re.search(r'<form[^>]*action="([^"]+)"', answer.text)
        prompt = re.search(r'name="prompt" value="([^"]+)"', answer.text)
        if form is None or prompt is None:
            raise AssertionError(f"no sign-in form on the provider's page:\n{answer.text[:2000]}")
        data = {"prompt": prompt.group(1), "login": login, "password": "any password"}
        answer = client.post(urljoin(str(answer.url), form.group(1)), data=data)
    raise AssertionError("the provider's sign-in did not come back")


async def sign_out_at_provider_page(page: Any, issuer: str) -> None:  # Any: a playwright page
    """After intake's "Sign out" (RP-initiated logout): the provider's own sign-out page asks,
    "Yes, sign me out" is clicked, and the provider sends the browser back to intake."""
    await page.wait_for_url(f"{issuer}/**", timeout=patience_ms(10000))
    await page.click("button[name=logout][value=yes]")


@contextlib.contextmanager
def oidc_provider(redirect_uris: list[str] | None = None, *, port: int | None = None,
                  keys: list[dict[str, object]] | None = None) -> Iterator[OidcProvider]:
    """A provider started for the caller (``keys``: its signing keys, else a new one)."""
    provider = OidcProvider(port=port or _free_port(), redirect_uris=redirect_uris or ["http://127.0.0.1:9/auth/callback"],
                            keys=keys or [new_key()])
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()
        shutil.rmtree(provider.workdir, ignore_errors=True)
