"""The `auth:` block of an HTTP MCP server: how troupe gets an OAuth token for it (MCP authorization spec).

People log in once with `troupe mcp login FILE.yaml:SERVER` (authorization code + PKCE in the browser,
redirected back to a loopback port); machines use the client-credentials grant with a secret or a signed
key. Tokens are kept per server in the user's config folder, never in the scenario, and refreshed as needed.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from ._base import Frozen

__all__ = ["HttpAuthSettings", "McpAuth"]

TokenEndpointAuth = Literal["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]


class McpAuth(Frozen):
    """OAuth settings of one HTTP MCP server; `auth: {}` means discover everything, register dynamically."""

    grant: Literal["authorization_code", "client_credentials", "identity_assertion"] = Field(
        "authorization_code",
        description="authorization_code: a person logs in once with `troupe mcp login`; "
        "client_credentials: a machine identity (client_id with client_secret or private_key_file); "
        "identity_assertion: enterprise-managed (SEP-990), the person's ID token from your identity "
        "provider is exchanged there for an assertion the server's authorization server accepts.",
    )
    client_id: str | None = Field(
        None, min_length=1, description="A client registered beforehand; without it troupe registers itself."
    )
    client_secret: SecretStr | None = Field(None, description="Its secret, e.g. ${NOTES_CLIENT_SECRET}.")
    token_endpoint_auth: TokenEndpointAuth | None = Field(
        None,
        description="How the client proves itself at the token endpoint (default: client_secret_basic with a "
        "secret, private_key_jwt with a key, none otherwise).",
    )
    private_key_file: str | None = Field(
        None, min_length=1, description="PEM key signing a private_key_jwt assertion (client_credentials)."
    )
    signing_algorithm: Literal["ES256", "ES384", "RS256", "RS384", "RS512", "PS256"] = "ES256"
    scope: str | None = Field(None, min_length=1, description="Space-separated scopes to ask for.")
    issuer: str | None = Field(
        None, description="The authorization server a configured client's secret may be sent to."
    )
    client_metadata_url: str | None = Field(
        None, description="An https URL whose document describes this client (used where the server allows)."
    )
    idp_token_endpoint: str | None = Field(None, description="identity_assertion: the IdP's token endpoint.")
    idp_client_id: str | None = Field(
        None, min_length=1, description="identity_assertion: our id at the IdP."
    )
    idp_client_secret: SecretStr | None = Field(None, description="identity_assertion: its secret, if any.")
    id_token: SecretStr | None = Field(
        None, description="identity_assertion: the person's ID token from the IdP, e.g. ${IDP_ID_TOKEN}."
    )
    redirect_port: int = Field(
        0, ge=0, le=65535, description="Loopback port of the login redirect; 0 picks a free one."
    )
    client_name: str = Field("autogen-troupe", min_length=1, max_length=200)

    @field_validator("issuer", "client_metadata_url", "idp_token_endpoint")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @model_validator(mode="after")
    def _fits_grant(self) -> McpAuth:
        if self.grant == "client_credentials":
            if self.client_id is None:
                raise ValueError("grant client_credentials needs a client_id")
            if self.client_secret is None and self.private_key_file is None:
                raise ValueError("grant client_credentials needs a client_secret or a private_key_file")
        elif self.private_key_file is not None:
            raise ValueError("private_key_file is only used with grant: client_credentials")
        enterprise = ("idp_token_endpoint", "idp_client_id", "id_token")
        if self.grant == "identity_assertion":
            needed = ("client_id", "client_secret", "issuer", *enterprise)
            missing = [k for k in needed if getattr(self, k) is None]
            if missing:
                raise ValueError(f"grant identity_assertion needs {', '.join(missing)}")
        elif any(getattr(self, k) is not None for k in (*enterprise, "idp_client_secret")):
            raise ValueError("idp_* settings and id_token are only used with grant: identity_assertion")
        if self.client_secret is not None and self.client_id is None:
            raise ValueError("a client_secret needs the client_id it belongs to")
        if self.token_endpoint_auth == "private_key_jwt" and self.private_key_file is None:
            raise ValueError("token_endpoint_auth private_key_jwt needs a private_key_file")
        return self

    @property
    def endpoint_auth(self) -> str:
        """The token endpoint authentication method in effect."""
        if self.token_endpoint_auth is not None:
            return self.token_endpoint_auth
        if self.private_key_file is not None:
            return "private_key_jwt"
        return "client_secret_basic" if self.client_secret is not None else "none"


class HttpAuthSettings(Frozen):
    """The `auth:` key of an HTTP server (a base of `HttpServer`), refused beside an Authorization header."""

    auth: McpAuth | None = Field(None, description="OAuth for this server (see `troupe mcp login`).")

    @model_validator(mode="after")
    def _one_authorization(self) -> HttpAuthSettings:
        headers = getattr(self, "headers", None) or {}
        if self.auth is not None and any(k.lower() == "authorization" for k in headers):
            raise ValueError("give either an Authorization header or an auth: block, not both")
        return self
