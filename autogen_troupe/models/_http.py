"""HTTP clients for model and embedding endpoints: the rules every request to them follows, in one place.

- **Redirects stay on their origin.** A redirect is followed only to the same scheme, host and port. httpx
  drops `Authorization` on a redirect to another origin but carries every other header along (an
  `x-api-key`, GenOS's user id, a gateway token), so a redirect elsewhere is refused with an error that
  names where it pointed; the user can then point `base_url` there on purpose.
- **`Retry-After` has a ceiling.** The openai SDK waits as long as a 429/503 answer's `Retry-After`
  (seconds or an HTTP date) or `retry-after-ms` asks, up to 120 s per retry. Beyond `RETRY_AFTER_MAX_S`
  the answer is marked `x-should-retry: false`, so the run fails at once with a message saying what the
  server asked for (see `translate_error`) instead of sitting silent.

Both are response hooks rather than a transport, so a client keeps its proxy settings from the
environment.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx2

from .._redact import safe_url
from ..errors import ModelCallError

__all__ = ["RETRY_AFTER_MAX_S", "async_client", "origin", "retry_after_s", "sync_client"]

RETRY_AFTER_MAX_S = 60.0  # the longest a `Retry-After` is waited for, per retry
_DEFAULT_PORTS = {"http": 80, "https": 443}

ErrorType = Callable[[str], Exception]


def origin(url: httpx2.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port (the default port filled in): what must match for a redirect to be followed."""
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


def _origin_text(url: httpx2.URL) -> str:
    scheme, host, port = origin(url)
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}" if port is not None else f"{scheme}://{host}"


def _redirect_target(response: httpx2.Response) -> httpx2.URL | None:
    """Where a redirect points, resolved as httpx resolves it; None when it is no redirect or unparsable
    (httpx then raises its own error)."""
    if not response.has_redirect_location:
        return None
    request = response.request
    try:
        url = httpx2.URL(response.headers["location"])
    except httpx2.InvalidURL:
        return None
    if url.scheme and not url.host:
        url = url.copy_with(host=request.url.host)
    return request.url.join(url) if url.is_relative_url else url


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The wait an answer asks for, in seconds, read as the openai SDK reads it (`retry-after-ms`, then
    `retry-after` as seconds or as an HTTP date); None when it asks for none."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        return seconds if math.isfinite(seconds) else math.inf
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        when = email.utils.parsedate_tz(value)
        return None if when is None else float(email.utils.mktime_tz(when) - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def _check(response: httpx2.Response, error: ErrorType) -> None:
    target = _redirect_target(response)
    if target is not None and origin(target) != origin(response.request.url):
        raise error(
            f"{safe_url(response.request.url)} redirected (HTTP {response.status_code}) to another origin, "
            f"{_origin_text(target)}; redirects are followed only within the same scheme, host and port, "
            "so that the API key and headers never reach another server. If that server is the right "
            "one, set base_url to it."
        )
    wait = retry_after_s(response.headers)
    if wait is not None and wait > RETRY_AFTER_MAX_S:
        response.headers["x-should-retry"] = "false"


def sync_client(*, error: ErrorType = ModelCallError, **kwargs: Any) -> httpx2.Client:
    """An `httpx2.Client` following redirects within one origin only; a redirect elsewhere raises `error`."""

    def hook(response: httpx2.Response) -> None:
        _check(response, error)

    return httpx2.Client(follow_redirects=True, event_hooks={"response": [hook]}, **kwargs)


def async_client(*, error: ErrorType = ModelCallError, **kwargs: Any) -> httpx2.AsyncClient:
    """`sync_client` for asyncio."""

    async def hook(response: httpx2.Response) -> None:
        _check(response, error)

    return httpx2.AsyncClient(follow_redirects=True, event_hooks={"response": [hook]}, **kwargs)
