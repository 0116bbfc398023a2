"""The pages' sign-in: the authorization-code flow with PKCE against the force's OpenID provider.

``/auth/login`` sends the browser to the provider's login page with a fresh state, nonce and PKCE
verifier. They are kept in Redis under ``{prefix}signin:{state}`` (the browser may come back to
another node behind the balancer) and the state also in a short-lived cookie, so a callback this
browser did not start (login CSRF) is refused. ``/auth/callback`` exchanges the code (with the
client secret and the verifier), checks the id token (signature, issuer, audience = the client
id, expiry, nonce), maps it to a configured person and opens a session
(:mod:`intake.app.sessions`) whose id goes into an HttpOnly, Secure, SameSite=Lax cookie.
``/auth/logout`` (a POST from intake's own pages only) ends it and, with ``sign_out_at_provider``
(the default), sends the browser on to the provider's ``end_session_endpoint`` (OpenID Connect
RP-initiated logout) with the id token as ``id_token_hint`` and a fresh ``state`` (kept in Redis
under ``{prefix}signout:{state}`` with where to go after), which sends it back to
``/auth/logged-out``: the provider's own session is gone too, so the next sign-in asks for
credentials again (a shared control-room PC). The OAuth pieces (the authorization URL, PKCE's
challenge, the token request's body, the logout URL's query) are authlib's.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import structlog
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response

from intake.app.authenticator import SESSION_COOKIE, Authenticator
from intake.app.limits import SignInLimited
from intake.app.web_auth import from_own_page
from intake.core.config_oidc import OidcConfig
from intake.core.errors import IntakeError, NotSignedIn

log = structlog.get_logger("intake.oidc")

SIGN_IN_COOKIE = "signin"
SIGN_IN_SECONDS = 600  # from "Sign in" to coming back from the provider's login page


def local_path(raw: str | None, default: str = "/desktop") -> str:
    """Where to go after signing in: a path on this server only (never another site: an open redirect)."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw and len(raw) <= 200:
        return raw
    return default


class SignIn:
    # Any: a redis.asyncio client or fakeredis's in-process one (the demo's)
    def __init__(self, oidc: OidcConfig, client_secret: str, authenticator: Authenticator, redis: Any,
                 prefix: str) -> None:
        self.oidc = oidc
        self._secret = client_secret
        self.authenticator = authenticator
        self._redis = redis
        self._prefix = prefix

    def _redirect_uri(self, request: Request, path: str = "/auth/callback") -> str:
        base = self.oidc.public_url or str(request.base_url).rstrip("/")
        return f"{base}{path}"

    async def login(self, request: Request, after: str) -> Response:
        assert self.authenticator.verifier is not None
        keys = self.authenticator.verifier.keys
        try:
            endpoint = await keys.endpoint("authorization_endpoint")
        except IntakeError as exc:
            return refused(exc)
        state, verifier, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(48), secrets.token_urlsafe(24)
        redirect_uri = self._redirect_uri(request)
        await self._redis.set(f"{self._prefix}signin:{state}", json.dumps(
            {"verifier": verifier, "nonce": nonce, "next": after, "redirect_uri": redirect_uri}), ex=SIGN_IN_SECONDS)
        url = prepare_grant_uri(endpoint, self.oidc.client_id, "code",
                                redirect_uri=redirect_uri, scope=" ".join(self.oidc.scopes), state=state, nonce=nonce,
                                code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256")
        answer = RedirectResponse(url, status_code=302)
        answer.set_cookie(SIGN_IN_COOKIE, state, max_age=SIGN_IN_SECONDS, path="/auth", httponly=True, secure=True,
                          samesite="lax")
        return answer

    async def callback(self, request: Request, code: str | None, state: str | None, error: str | None) -> Response:
        if error is not None:
            return refused(NotSignedIn(f"the identity provider refused the sign-in: {error[:100]}"))
        if not code or not state or request.cookies.get(SIGN_IN_COOKIE) != state:
            return refused(NotSignedIn("this sign-in was not started by this browser: sign in again"))
        raw = await self._redis.getdel(f"{self._prefix}signin:{state}")
        if raw is None:
            return refused(NotSignedIn("this sign-in has expired or was used already: sign in again"))
        started = json.loads(raw)
        try:
            id_token = await self._exchange(code, started["verifier"], started["redirect_uri"])
            assert self.authenticator.verifier is not None
            claims = await self.authenticator.verifier.claims(id_token, self.oidc.client_id, nonce=started["nonce"])
            principal = self.authenticator.claims_principal(claims)
        except IntakeError as exc:
            return refused(exc)
        assert self.authenticator.sessions is not None
        session_id, _ = await self.authenticator.sessions.open(principal, id_token)
        answer = RedirectResponse(local_path(started["next"]), status_code=303)
        answer.set_cookie(SESSION_COOKIE, session_id, max_age=int(self.oidc.session_seconds), path="/", httponly=True,
                          secure=True, samesite="lax")
        answer.delete_cookie(SIGN_IN_COOKIE, path="/auth", httponly=True, secure=True, samesite="lax")
        return answer

    async def _exchange(self, code: str, verifier: str, redirect_uri: str) -> str:
        """The code (with the PKCE verifier and the client's secret) -> the id token."""
        assert self.authenticator.verifier is not None
        keys = self.authenticator.verifier.keys
        body = prepare_token_request("authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=verifier)
        try:
            answer = await keys.http.post(await keys.endpoint("token_endpoint"), content=body,
                                          auth=(self.oidc.client_id, self._secret),
                                          headers={"Content-Type": "application/x-www-form-urlencoded"})
            tokens = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.error("oidc_token_exchange_failed", error=str(exc))
            raise NotSignedIn("the identity provider could not be reached to finish the sign-in") from exc
        if answer.status_code != 200 or not isinstance(tokens, dict) or not isinstance(tokens.get("id_token"), str):
            log.warning("oidc_token_exchange_refused", status=answer.status_code,
                        error=tokens.get("error") if isinstance(tokens, dict) else None)
            raise NotSignedIn("the identity provider did not finish the sign-in: sign in again")
        return str(tokens["id_token"])

    async def logout(self, request: Request, after: str) -> Response:
        """End the session; then, signing out at the provider, on to its end_session_endpoint
        (else straight to ``after``). Another site's page cannot sign anyone out (its Origin)."""
        if not from_own_page(request):
            log.warning("sign_out_refused", origin=request.headers.get("origin"))
            return PlainTextResponse("Not signed out: sign-out is taken only from intake's own pages", status_code=403,
                                     headers={"Cache-Control": "no-store"})
        session_id = request.cookies.get(SESSION_COOKIE)
        session = None
        if session_id and self.authenticator.sessions is not None:
            session = await self.authenticator.sessions.close(session_id)
        id_token = session.id_token_of(session_id) if session is not None and session_id else None
        answer = None
        if self.oidc.sign_out_at_provider and id_token is not None:
            answer = await self._at_provider(request, id_token, after)
        answer = answer or RedirectResponse(after, status_code=303)
        answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=True, samesite="lax")
        return answer

    async def _at_provider(self, request: Request, id_token: str, after: str) -> Response | None:
        """The redirect to the provider's end_session_endpoint (None: it publishes none, or cannot
        be reached: intake's own session has ended all the same)."""
        assert self.authenticator.verifier is not None
        try:
            endpoint = await self.authenticator.verifier.keys.endpoint("end_session_endpoint")
        except IntakeError as exc:
            log.warning("sign_out_at_provider_skipped", reason=str(exc))
            return None
        state = secrets.token_urlsafe(24)
        await self._redis.set(f"{self._prefix}signout:{state}", json.dumps({"next": after}), ex=SIGN_IN_SECONDS)
        url = add_params_to_uri(endpoint, [("id_token_hint", id_token), ("client_id", self.oidc.client_id),
                                           ("post_logout_redirect_uri", self._redirect_uri(request, "/auth/logged-out")),
                                           ("state", state)])
        return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})

    async def logged_out(self, state: str | None) -> Response:
        """Back from the provider's sign-out: on to where the sign-out was to go (a state this
        server gave, once; any other: the desktop)."""
        raw = await self._redis.getdel(f"{self._prefix}signout:{state}") if state else None
        after = json.loads(raw).get("next") if raw is not None else None
        return RedirectResponse(local_path(after if isinstance(after, str) else None), status_code=303)


def refused(exc: IntakeError) -> Response:
    """A sign-in that cannot go on: what a person at a browser reads (never a token)."""
    status = 401 if isinstance(exc, NotSignedIn) else 403
    log.warning("sign_in_refused", reason=str(exc))
    return PlainTextResponse(f"Not signed in: {exc}", status_code=status, headers={"Cache-Control": "no-store"})


def add_sign_in_routes(app: FastAPI, sign_in: SignIn) -> None:
    router = APIRouter(prefix="/auth", include_in_schema=False)

    @router.get("/provider")
    async def provider() -> dict[str, str]:
        """The pages show their "Sign in" button when this answers (no [oidc]: 404)."""
        return {"issuer": sign_in.oidc.issuer, "login": "/auth/login"}

    @router.get("/login")
    async def login(request: Request, _: SignInLimited, after: str | None = Query(None, alias="next")) -> Response:
        return await sign_in.login(request, local_path(after))

    @router.get("/callback")
    async def callback(request: Request, _: SignInLimited, code: str | None = None, state: str | None = None,
                       error: str | None = None) -> Response:
        return await sign_in.callback(request, code, state, error)

    @router.post("/logout")
    async def logout(request: Request, after: str | None = Query(None, alias="next")) -> Response:
        return await sign_in.logout(request, local_path(after))

    @router.get("/logged-out")
    async def logged_out(_: SignInLimited, state: str | None = None) -> Response:
        return await sign_in.logged_out(state)

    app.include_router(router)
