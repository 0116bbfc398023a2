"""``[oidc]``: sign-in with the force's OpenID provider (intake.app.oidc_*); absent: static tokens only.

The provider is named by its issuer (intake reads its discovery document and keys from there).
Who someone is in intake comes from their token's ``username_claim`` (a configured handler's or
supervisor's id) and what they may do from ``roles_claim``; docs/operations.md says how to set
this up with Entra ID.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class OidcConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(..., description="the provider's issuer URL, exactly as its tokens' iss claim says")
    client_id: str = Field(..., min_length=1)
    client_secret: str | None = Field(None, description="env:NAME or file:PATH; needed for the pages' sign-in")
    # The aud a bearer token must carry to be taken by the API (an Entra app's "api://..." ID);
    # empty: the client id.
    audience: str = ""
    username_claim: str = Field("preferred_username", min_length=1)
    roles_claim: str = Field("roles", min_length=1)
    scopes: list[str] = ["openid", "profile"]
    # A page's sign-in lasts this long (the provider's own session may be shorter or longer).
    session_seconds: float = Field(8 * 3600.0, ge=60, le=7 * 86400)
    # Where the provider sends the browser back: this server's public URL as the browser sees it
    # (behind HAProxy or TLS termination); empty: taken from each sign-in request's own URL.
    public_url: str = ""
    # A token signed by a key not in the provider's key set has the key set fetched again (a
    # rotation), at most once this often: a flood of forged kids must not become a flood of fetches.
    jwks_refetch_seconds: float = Field(30.0, ge=1, le=3600)
    # Clocks differ: exp and nbf are judged with this much slack.
    leeway_seconds: int = Field(30, ge=0, le=300)
    # Signing out of intake signs out at the provider too (RP-initiated logout: its
    # end_session_endpoint, back to /auth/logged-out): the next sign-in asks for credentials again,
    # as a shared control-room PC needs. Off: only intake's session ends.
    sign_out_at_provider: bool = True

    @field_validator("issuer", "public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL")
        return value

    @field_validator("client_secret")
    @classmethod
    def _secret_is_reference(cls, value: str | None) -> str | None:
        kind, _, rest = (value or "").partition(":")
        if value is not None and (kind not in ("env", "file") or not rest):
            raise ValueError("must be env:NAME or file:PATH, not the secret itself")
        return value

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError('must include "openid"')
        return value

    @property
    def token_audience(self) -> str:
        return self.audience or self.client_id
