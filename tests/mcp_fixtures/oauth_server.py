"""An MCP server behind OAuth with its own authorization server, for the auth tests (the SDK's server parts).

`python oauth_server.py PORT [--lifetime S] [--client ID:SECRET]` serves on 127.0.0.1:PORT: `/mcp`
(needs a bearer token), the protected-resource and authorization-server metadata, `/register`
(dynamic registration), `/authorize` (approves at once: it redirects straight back with a code, as a
person clicking "allow" would), `/token` (code with PKCE, refresh). `--client` pre-registers a client.
Tool `grants` says how many tokens each grant gave out; `whoami` the client id of the caller's token;
`my_token` echoes the caller's token.
"""

from __future__ import annotations

import argparse
import secrets
import time
from collections import Counter

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions
from mcp.server.mcpserver import MCPServer
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken


class Provider:
    """An in-memory authorization server that approves every authorization request."""

    def __init__(self, lifetime_s: int) -> None:
        self.lifetime_s = lifetime_s
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.access: dict[str, AccessToken] = {}
        self.grants: Counter[str] = Counter()

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        assert client_info.client_id is not None
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        code = secrets.token_urlsafe(24)
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or ["mcp"],
            expires_at=time.time() + 300,
            client_id=client.client_id or "",
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, code: str
    ) -> AuthorizationCode | None:
        return self.codes.get(code)

    def _issue(self, client_id: str, scopes: list[str], grant: str) -> OAuthToken:
        self.grants[grant] += 1
        access, refresh = f"at-{secrets.token_urlsafe(16)}", f"rt-{secrets.token_urlsafe(16)}"
        self.access[access] = AccessToken(
            token=access, client_id=client_id, scopes=scopes, expires_at=int(time.time()) + self.lifetime_s
        )
        self.refresh[refresh] = RefreshToken(token=refresh, client_id=client_id, scopes=scopes)
        return OAuthToken(
            access_token=access,
            token_type="Bearer",
            expires_in=self.lifetime_s,
            refresh_token=refresh,
            scope=" ".join(scopes),
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: AuthorizationCode
    ) -> OAuthToken:
        self.codes.pop(authorization_code.code, None)
        return self._issue(client.client_id or "", authorization_code.scopes, "authorization_code")

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> RefreshToken | None:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        self.refresh.pop(refresh_token.token, None)
        return self._issue(client.client_id or "", scopes or refresh_token.scopes, "refresh_token")

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None or (found.expires_at is not None and found.expires_at < time.time()):
            return None
        return found

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.access.pop(token.token, None)
        self.refresh.pop(token.token, None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--lifetime", type=int, default=3600)
    parser.add_argument("--client", help="ID:SECRET of a pre-registered client")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    provider = Provider(args.lifetime)
    if args.client:
        cid, _, secret = args.client.partition(":")
        provider.clients[cid] = OAuthClientInformationFull(
            client_id=cid,
            client_secret=secret or None,
            redirect_uris=None,
            token_endpoint_auth_method="client_secret_post" if secret else "none",
            grant_types=["authorization_code", "refresh_token"],
        )
    app = MCPServer(
        "oauth-fixture",
        auth_server_provider=provider,
        auth=AuthSettings(
            issuer_url=base,  # type: ignore[arg-type]
            resource_server_url=f"{base}/mcp",  # type: ignore[arg-type]
            client_registration_options=ClientRegistrationOptions(enabled=True, valid_scopes=["mcp"]),
            required_scopes=["mcp"],
            validate_token_resource=False,
        ),
    )

    @app.tool()
    def whoami() -> str:
        """The client id of the token this call came with."""
        token = get_access_token()
        return token.client_id if token else "<nobody>"

    @app.tool()
    def my_token() -> str:
        """The bearer token this call came with (a careless server echoing a secret)."""
        token = get_access_token()
        return f"your token is {token.token}" if token else "<none>"

    @app.tool()
    def grants() -> dict[str, int]:
        """How many tokens each grant gave out so far."""
        return dict(provider.grants)

    import anyio

    anyio.run(lambda: app.run_streamable_http_async(host="127.0.0.1", port=args.port))


if __name__ == "__main__":
    main()
