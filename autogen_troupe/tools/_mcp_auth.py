"""OAuth for HTTP MCP servers, on the `mcp` SDK's own client: discovery of the protected-resource and
authorization-server metadata, dynamic registration or a configured client, PKCE with a loopback redirect,
client credentials (secret or signed key), refresh, and tokens kept by `_mcp_tokens.TokenFile`.

Who may log in is the caller's choice: a run never opens a browser (it fails saying which `troupe mcp
login` to run), while the `troupe mcp` commands set `login_ui` so that a server asking for a login gets one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import warnings
import webbrowser
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp.client.auth import OAuthClientProvider, OAuthFlowError
from mcp.client.auth.extensions.client_credentials import (
    ClientCredentialsOAuthProvider,
    PrivateKeyJWTOAuthProvider,
    SignedJWTParameters,
)
from mcp.client.auth.oauth2 import OAuthContext
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata
from mcp.shared.exceptions import MCPDeprecationWarning
from pydantic import AnyUrl

from .._redact import remember_secrets
from ..errors import McpAuthError
from ..scenario._mcp_auth import McpAuth
from ..scenario._schema import HttpServer
from ._mcp_tokens import TokenFile

__all__ = ["HttpLink", "LoginUI", "auth_failure", "http_auth", "login_hint", "login_ui", "using_login"]

logger = logging.getLogger(__name__)

_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>troupe</title>"
    b"<p style='font:16px sans-serif;margin:3em'>%s You can close this tab.</p>"
)


@dataclass
class LoginUI:
    """How a person logs in: whether to open the browser, where to tell them, how long to wait.

    It also counts the time spent waiting for the person (`person_s`): a server's start-up time-out
    does not run meanwhile, so a slow login is no slow server, and a server that never answers fails
    at its own start-up time-out, not after the login's wait as well."""

    open_browser: bool = True
    tell: Callable[[str], None] = field(default=lambda text: None)
    timeout_s: float = 300.0
    _waited_s: float = field(default=0.0, init=False, repr=False)
    _since: float | None = field(default=None, init=False, repr=False)

    def person_s(self) -> float:
        """Seconds spent so far waiting for the person to log in (still counting during a wait)."""
        now = time.monotonic()
        return self._waited_s + (now - self._since if self._since is not None else 0.0)

    @contextlib.contextmanager
    def waiting_for_person(self) -> Iterator[None]:
        self._since = time.monotonic()
        try:
            yield
        finally:
            self._waited_s += time.monotonic() - self._since
            self._since = None


login_ui: ContextVar[LoginUI | None] = ContextVar("troupe_mcp_login_ui", default=None)
"""Set by the `troupe mcp` commands; None (a run) means nobody is there to log in."""


@contextlib.contextmanager
def using_login(ui: LoginUI | None) -> Iterator[None]:
    token = login_ui.set(ui)
    try:
        yield
    finally:
        login_ui.reset(token)


def login_hint(server_name: str) -> str:
    """The command that logs in to a scenario's server, as we tell people."""
    return f"troupe mcp login SCENARIO.yaml:{server_name}"


# --------------------------------------------------------------------------- the loopback redirect


def _free_port(port: int) -> int | None:
    """`port` if it can be listened on at 127.0.0.1 now (a free one for 0), else None."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return None
        return int(s.getsockname()[1])


class _Loopback:
    """Opens the authorization URL for a person and catches the redirect back on 127.0.0.1 (RFC 8252)."""

    def __init__(self, server_name: str, port: int, ui: LoginUI) -> None:
        self.server_name = server_name
        self.port = port
        self.ui = ui
        self._result: asyncio.Future[AuthorizationCodeResult] | None = None
        self._server: asyncio.AbstractServer | None = None

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    async def redirect(self, url: str) -> None:
        """Listen for the redirect, then send the person to the authorization page."""
        self._result = asyncio.get_running_loop().create_future()
        try:
            self._server = await asyncio.start_server(
                self._answer, "127.0.0.1", self.port, reuse_address=True
            )
        except OSError as e:
            raise McpAuthError(
                self.server_name,
                f"needs a login, whose redirect cannot come back to 127.0.0.1:{self.port}: "
                f"{e.strerror or e} (try --redirect-port, or `troupe mcp logout` and log in again)",
            ) from None
        opened = False
        if self.ui.open_browser:
            with self.ui.waiting_for_person():  # a browser command may return only once the page is done
                opened = await asyncio.to_thread(webbrowser.open, url)
        what = "A browser window was opened to" if opened else "Open this address in a browser to"
        self.ui.tell(f"{what} log in to MCP server {self.server_name!r}:\n  {url}")

    async def callback(self) -> AuthorizationCodeResult:
        assert self._result is not None, "redirect() comes first"
        try:
            with self.ui.waiting_for_person():
                return await asyncio.wait_for(self._result, self.ui.timeout_s)
        except asyncio.TimeoutError:
            raise McpAuthError(
                self.server_name, f"sent no login back within {self.ui.timeout_s:g} s"
            ) from None
        finally:
            if self._server is not None:
                self._server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await asyncio.wait_for(reader.readline(), 10.0)).decode("latin-1")
            while (await asyncio.wait_for(reader.readline(), 10.0)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.split()
            query = parse_qs(urlsplit(parts[1]).query) if len(parts) > 1 else {}
            first = {k: v[0] for k, v in query.items()}
            if "code" in first or "error" in first:
                ok = "code" in first
                status, text = (b"200 OK", b"Logged in.") if ok else (b"400 Bad Request", b"Login refused.")
                if self._result is not None and not self._result.done():
                    if ok:
                        self._result.set_result(
                            AuthorizationCodeResult(
                                code=first["code"], state=first.get("state"), iss=first.get("iss")
                            )
                        )
                    else:
                        why = first.get("error_description") or first["error"]
                        self._result.set_exception(
                            McpAuthError(self.server_name, f"refused the login: {why}")
                        )
            else:
                status, text = b"404 Not Found", b"Nothing here."
            body = _PAGE % text
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: text/html; charset=utf-8\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
            )
            await writer.drain()
        except (OSError, asyncio.TimeoutError, UnicodeError):
            pass
        finally:
            writer.close()


# --------------------------------------------------------------------------- providers


class _StoredExpiry:
    """Knows, after a restart, when the stored token expires, so it is refreshed instead of sent stale."""

    context: OAuthContext

    async def _initialize(self) -> None:
        await super()._initialize()  # type: ignore[misc]
        storage = self.context.storage
        if isinstance(storage, TokenFile) and self.context.current_tokens is not None:
            self.context.token_expiry_time = storage.expires_at


class _AuthCode(_StoredExpiry, OAuthClientProvider):
    """Authorization code with PKCE; a configured client replaces dynamic registration."""

    def __init__(self, fixed_client: OAuthClientInformationFull | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fixed_client = fixed_client

    async def _initialize(self) -> None:
        await super()._initialize()
        fixed = self._fixed_client
        if fixed is not None:
            stored = self.context.client_info
            if stored is not None and stored.client_id != fixed.client_id:
                self.context.clear_tokens()  # tokens of another client
            self.context.client_info = fixed


class _ClientSecret(_StoredExpiry, ClientCredentialsOAuthProvider):
    """Client credentials with a secret."""


class _ClientKey(_StoredExpiry, PrivateKeyJWTOAuthProvider):
    """Client credentials with a private_key_jwt assertion."""


class _NoPerson:
    """Stands in for the browser in a run: there is nobody to log in, so say how to."""

    def __init__(self, server_name: str, hint: str) -> None:
        self.server_name = server_name
        self.hint = hint

    async def redirect(self, url: str) -> None:
        raise McpAuthError(self.server_name, _needs_login(self.hint))

    async def callback(self) -> AuthorizationCodeResult:  # never reached: redirect() raised
        raise McpAuthError(self.server_name, _needs_login(self.hint))


def _redirect_port(auth: McpAuth, tokens: TokenFile, stored: OAuthClientInformationFull | None) -> int:
    """The loopback port: the registered one if we registered before and it is free, else the configured
    one (or any free one); a registration whose port is taken is dropped, so the login registers again."""
    if auth.client_id is None and stored is not None and stored.redirect_uris:
        registered = urlsplit(str(stored.redirect_uris[0])).port
        if registered and (tokens.has_tokens() or _free_port(registered)):
            return registered  # with tokens, a login (and so the port) is likely not needed at all
        tokens.drop_client_info()
    port = _free_port(auth.redirect_port)
    if port is None:
        raise McpAuthError("login", f"redirect cannot be received: 127.0.0.1:{auth.redirect_port} is taken")
    return port


def http_auth(server_name: str, url: str, auth: McpAuth | None, hint: str) -> httpx2.Auth | None:
    """The httpx auth for an HTTP MCP server: OAuth when `auth` is set, or whenever a person can log in
    (the `troupe mcp` commands); None for a run against a server without `auth:`."""
    ui = login_ui.get()
    if auth is None and ui is None:
        return None
    auth = auth or McpAuth()
    tokens = TokenFile(url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MCPDeprecationWarning)  # an omitted issuer: we let discovery decide
        if auth.grant == "client_credentials":
            return _machine(url, auth, tokens)
        if auth.grant == "identity_assertion":
            return _enterprise(server_name, url, auth, tokens)
        return _person(server_name, url, auth, tokens, ui, hint)


def _machine(url: str, auth: McpAuth, tokens: TokenFile) -> httpx2.Auth:
    assert auth.client_id is not None  # the schema requires it for this grant
    if auth.private_key_file is not None:
        try:
            key = Path(auth.private_key_file).expanduser().read_text(encoding="utf-8")
        except OSError as e:
            raise McpAuthError(
                url, f"auth: cannot read private_key_file {auth.private_key_file!r}: {e.strerror}"
            ) from None
        signer = SignedJWTParameters(
            issuer=auth.client_id,
            subject=auth.client_id,
            signing_algorithm=auth.signing_algorithm,
            signing_key=key,
        )
        return _ClientKey(
            server_url=url,
            storage=tokens,
            client_id=auth.client_id,
            assertion_provider=signer.create_assertion_provider(),
            scope=auth.scope,
            issuer=auth.issuer,
        )
    assert auth.client_secret is not None
    method = (
        auth.endpoint_auth if auth.endpoint_auth in ("client_secret_basic", "client_secret_post") else None
    )
    return _ClientSecret(
        server_url=url,
        storage=tokens,
        client_id=auth.client_id,
        client_secret=auth.client_secret.get_secret_value(),
        token_endpoint_auth_method=method or "client_secret_basic",  # type: ignore[arg-type]
        scope=auth.scope,
        issuer=auth.issuer,
    )


def _enterprise(server_name: str, url: str, auth: McpAuth, tokens: TokenFile) -> httpx2.Auth:
    """SEP-990: the IdP turns the person's ID token into an ID-JAG (RFC 8693 token exchange, here), which
    the MCP authorization server named by `issuer` exchanges for an access token (the SDK's provider)."""
    from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider

    assert auth.client_id and auth.client_secret and auth.issuer and auth.id_token  # the schema requires them
    remember_secrets({auth.id_token.get_secret_value()})

    async def id_jag(audience: str, resource: str) -> str:
        return await _exchange_id_token(server_name, auth, audience, resource)

    method: Literal["client_secret_basic", "client_secret_post"] = (
        "client_secret_post" if auth.endpoint_auth == "client_secret_post" else "client_secret_basic"
    )
    return IdentityAssertionOAuthProvider(
        server_url=url,
        storage=tokens,
        client_id=auth.client_id,
        client_secret=auth.client_secret.get_secret_value(),
        issuer=auth.issuer,
        assertion_provider=id_jag,
        scope=auth.scope,
        token_endpoint_auth_method=method,
    )


async def _exchange_id_token(server_name: str, auth: McpAuth, audience: str, resource: str) -> str:
    """Leg 1 of SEP-990 at the IdP: ID token -> ID-JAG (RFC 8693 token exchange)."""
    assert auth.idp_token_endpoint and auth.idp_client_id and auth.id_token
    form = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
        "audience": audience,
        "resource": resource,
        "subject_token": auth.id_token.get_secret_value(),
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "client_id": auth.idp_client_id,
    }
    if auth.idp_client_secret is not None:
        form["client_secret"] = auth.idp_client_secret.get_secret_value()
    if auth.scope:
        form["scope"] = auth.scope
    try:
        async with httpx2.AsyncClient(timeout=30.0) as http:
            answer = await http.post(auth.idp_token_endpoint, data=form)
    except httpx2.HTTPError as e:
        raise McpAuthError(
            server_name, f"could not reach the identity provider: {type(e).__name__}: {e}"
        ) from None
    try:
        jag = answer.json().get("access_token") if answer.status_code == 200 else None
    except ValueError:
        jag = None
    if not isinstance(jag, str) or not jag:
        raise McpAuthError(
            server_name,
            f"failed OAuth: the identity provider refused the token exchange (HTTP {answer.status_code}): "
            f"{answer.text[:300]}",
        )
    remember_secrets({jag})
    return jag


def _person(
    server_name: str, url: str, auth: McpAuth, tokens: TokenFile, ui: LoginUI | None, hint: str
) -> httpx2.Auth:
    stored = tokens.client_info()
    if ui is None:
        if not tokens.has_tokens():
            raise McpAuthError(server_name, _needs_login(hint))
        port = urlsplit(str(stored.redirect_uris[0])).port if stored and stored.redirect_uris else None
        person: _Loopback | _NoPerson = _NoPerson(server_name, hint)
        redirect_uri = f"http://127.0.0.1:{port or auth.redirect_port or 8976}/callback"
    else:
        loop = _Loopback(server_name, _redirect_port(auth, tokens, stored), ui)
        person, redirect_uri = loop, loop.redirect_uri
    fixed = None
    if auth.client_id is not None:
        fixed = OAuthClientInformationFull(
            client_id=auth.client_id,
            client_secret=auth.client_secret.get_secret_value() if auth.client_secret else None,
            redirect_uris=[AnyUrl(redirect_uri)],
            token_endpoint_auth_method=auth.endpoint_auth,
            scope=auth.scope,
        )
    metadata = OAuthClientMetadata(
        client_name=auth.client_name,
        redirect_uris=[AnyUrl(redirect_uri)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
        scope=auth.scope,
    )
    try:
        return _AuthCode(
            fixed,
            server_url=url,
            client_metadata=metadata,
            storage=tokens,
            redirect_handler=person.redirect,
            callback_handler=person.callback,
            client_metadata_url=auth.client_metadata_url,
        )
    except ValueError as e:  # a client_metadata_url the SDK refuses
        raise McpAuthError(server_name, f"auth: {e}") from None


class HttpLink:
    """How a session reaches one HTTP MCP server: its headers and timeouts, its OAuth (`http_auth`), and
    the last 401/403 it answered, which the SDK reports as a bare error and `failure` turns into advice."""

    def __init__(self, name: str, server: HttpServer) -> None:
        self.name = name
        self.server = server
        self.refused: int | None = None

    def client(self) -> httpx2.AsyncClient:
        auth = http_auth(self.name, self.server.url, self.server.auth, login_hint(self.name))
        return httpx2.AsyncClient(
            headers=self.server.headers,
            timeout=httpx2.Timeout(30.0, read=300.0),
            auth=auth,
            event_hooks={"response": [self._note]},
        )

    async def _note(self, response: httpx2.Response) -> None:
        if response.status_code in (401, 403):
            self.refused = response.status_code

    def failure(self, exc: BaseException) -> str | None:
        """What went wrong, if it is about authentication (see `auth_failure`)."""
        return auth_failure(self.name, self.server.auth is not None, self.refused, exc)


def _needs_login(hint: str) -> str:
    return f"needs you to log in (OAuth) and no login is stored: run `{hint}` once, then run again"


def auth_failure(name: str, has_auth: bool, refused: int | None, exc: BaseException) -> str | None:
    """What went wrong, completing "MCP server NAME (URL) ...", if it is about authentication; `refused`
    is the last 401/403 status the server answered, since the SDK reports those as a bare error."""
    if isinstance(exc, McpAuthError):
        return exc.what
    if isinstance(exc, OAuthFlowError):
        return f"failed OAuth: {exc}"
    if isinstance(exc, httpx2.HTTPStatusError):
        refused = exc.response.status_code
    if refused == 401 and not has_auth:
        return (
            "answered 401: it needs authentication. Add `auth: {}` to its entry under mcp_servers (OAuth; "
            "see docs/tools.md, 'MCP servers behind OAuth') and log in once with "
            f"`{login_hint(name)}`, or give its token in `headers`"
        )
    if refused in (401, 403):
        return f"refused our credentials (HTTP {refused}); log in again with `{login_hint(name)}`"
    return None
