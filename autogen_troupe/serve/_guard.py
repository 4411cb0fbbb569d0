"""What every request passes before it reaches a route, and what every answer carries.

- **Host**: on a loopback address the `Host` header must name this machine (`127.0.0.1`, `localhost`,
  `[::1]`), so a web page whose name was re-pointed at 127.0.0.1 (DNS rebinding) is refused.
- **Origin**: a browser's request from another page is refused unless `--cors` names that page's origin;
  programs send no `Origin` and pass. Posts must be JSON, which a plain HTML form cannot send.
- **Token**: when the server has one (required off loopback), `/api` and `/v1` need
  `Authorization: Bearer TOKEN` (compared in constant time). The page itself and its files need none:
  they hold no data; nor do A2A agent cards (`/a2a/NAME/.well-known/agent-card.json`), which say how
  to authenticate.
- **Body size**: at most `max_body_bytes` (1 MiB), by `Content-Length` or as it streams in.
- **Answers** carry a strict Content-Security-Policy (the page runs only its own script), no framing,
  no referrer, no sniffing, and API answers are not cached.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers

from ._a2a import is_card_path
from ._config import ServeConfig, is_loopback
from ._http import BadRequest, error

__all__ = ["Guard"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_ALWAYS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", _CSP.encode()),
]
_OPEN_PATHS = ("/", "/static/")  # the page and its files: no data, no token


def _hostname(host: str) -> str:
    """`example:8765` → `example`, `[::1]:8765` → `::1`."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """ASGI middleware applying the checks above to every HTTP request."""

    def __init__(self, app: Callable[..., Awaitable[None]], config: ServeConfig) -> None:
        self.app = app
        self.config = config
        self.token = config.token.encode() if config.token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, self._headers(scope, send))
            return
        await self.app(scope, self._capped(scope, receive), self._headers(scope, send))

    def _refusal(self, scope: Scope) -> Any:
        """The error answer for a request that may not pass, or None."""
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.config.loopback and not is_loopback(_hostname(host)):
            return error(403, f"this server answers only to 127.0.0.1, localhost or [::1], not Host {host!r}")
        origin = headers.get("origin")
        if origin is not None and not self._origin_allowed(origin, host):
            return error(
                403,
                f"requests from pages of {origin} are refused; start the server with --cors {origin} to "
                "allow them",
            )
        path: str = scope.get("path", "/")
        protected = not (path == "/" or path.startswith(_OPEN_PATHS[1]) or is_card_path(path))
        if protected and self.token is not None and not self._authorized(headers):
            response = error(
                401, "this server needs its token, sent as a bearer token in the Authorization header"
            )
            response.headers["www-authenticate"] = "Bearer"
            return response
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.config.max_body_bytes):
            return error(413, f"the request body is over {self.config.max_body_bytes} bytes")
        return None

    def _origin_allowed(self, origin: str, host: str) -> bool:
        if origin in self.config.cors:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and bool(host) and parts.netloc == host

    def _authorized(self, headers: Headers) -> bool:
        scheme, _, given = headers.get("authorization", "").partition(" ")
        return (
            self.token is not None
            and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), self.token)
        )

    def _capped(self, scope: Scope, receive: Receive) -> Receive:
        """`receive`, refusing a body that grows past the limit as it streams in."""
        limit = self.config.max_body_bytes
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BadRequest(413, f"the request body is over {limit} bytes")
            return message

        return capped

    def _headers(self, scope: Scope, send: Send) -> Send:
        api = not (scope.get("path", "/") == "/" or scope.get("path", "").startswith(_OPEN_PATHS[1]))
        cache = b"no-store" if api else b"no-cache"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                names = {k.lower() for k, _ in raw}
                raw += [(k, v) for k, v in (*_ALWAYS, (b"cache-control", cache)) if k not in names]
                message["headers"] = raw
            await send(message)

        return with_headers
