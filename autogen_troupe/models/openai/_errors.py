"""openai SDK errors as one-paragraph `ModelCallError`s: the status, the URL without user info or query,
the server's own message, what to check, and the attempts really made; never the API key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeGuard

import openai

from ..._redact import redact_text, safe_url
from ...errors import ContentBlocked, ModelCallError
from .._http import RETRY_AFTER_MAX_S, retry_after_s
from ._answers import FAULT_CODE
from ._wire import BLOCKED_CODE, BLOCKED_MESSAGE, PLACEHOLDER_API_KEY

__all__ = ["scrub", "server_message", "translate_error"]

_MAX_MESSAGE = 600


def scrub(text: str, secret: str | None) -> str:
    if secret and len(secret) >= 4 and secret != PLACEHOLDER_API_KEY:
        text = text.replace(secret, "***")
    text = redact_text(text)
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + " ..."


def server_message(body: Any, fallback: str) -> str:
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping):
            for key in ("message", "detail", "msg"):
                if isinstance(err.get(key), str) and err[key].strip():
                    return err[key].strip()
        elif isinstance(err, str) and err.strip():
            return err.strip()
        return json.dumps(body, ensure_ascii=False, default=str)
    if isinstance(body, str) and body.strip():
        return body.strip()
    return fallback


def _is_blocked(body: Any) -> bool:
    return isinstance(body, Mapping) and (body.get("code") == BLOCKED_CODE or body.get("blocked") is True)


_HINTS = {
    401: "check the API key{env}",
    403: "check the API key{env} and its permissions",
    404: "check base_url (it usually ends in /v1) and the model id",
    408: "the server timed out",
    413: "the request is too large for the server",
    422: "the server rejected the request's shape",
    429: "rate limited",
}


def _attempts(n: int) -> str:
    return "1 attempt" if n == 1 else f"{n} attempts"


def _attempts_made(e: BaseException, retries: int) -> int:
    """How many times the request was really sent: the openai SDK numbers each try in a header, and
    stops early for a `Retry-After` beyond its ceiling or an `x-should-retry: false`."""
    request: Any = getattr(e, "request", None)  # any shape: what is missing falls back below
    try:
        return int(request.headers["x-stainless-retry-count"]) + 1
    except (AttributeError, KeyError, TypeError, ValueError):
        return retries + 1


def _is_fault(body: object) -> TypeGuard[Mapping[str, Any]]:
    return (
        isinstance(body, Mapping) and body.get("code") == FAULT_CODE and isinstance(body.get("message"), str)
    )


def _too_long_to_wait(headers: Mapping[str, str]) -> str:
    wait = retry_after_s(headers)
    if wait is None or wait <= RETRY_AFTER_MAX_S:
        return ""
    asked = "longer than anyone waits" if wait == float("inf") else f"{wait:.0f} s"
    return (
        f"; it asked to wait {asked} (Retry-After), more than the {RETRY_AFTER_MAX_S:.0f} s "
        "autogen-troupe waits at most, so it was not retried"
    )


def translate_error(
    e: BaseException, *, url: str, secret: str | None, key_env: str | None, retries: int, timeout_s: float
) -> ModelCallError:
    """A readable `ModelCallError` (or `ContentBlocked`) for an openai SDK error; never holds the key."""
    request = getattr(e, "request", None)
    where = safe_url(request.url) if request is not None else url
    tries = _attempts(_attempts_made(e, retries))
    if isinstance(e, openai.APIStatusError):
        status = e.status_code
        if _is_blocked(e.body):
            err: ModelCallError = ContentBlocked(f"{where}: {BLOCKED_MESSAGE}")
        elif _is_fault(e.body):
            status = int(e.body.get("status") or 200)
            err = ModelCallError(
                scrub(f"{where} answered HTTP {status} with {e.body['message']} ({tries})", secret)
            )
        else:
            message = server_message(e.body, e.response.reason_phrase or "no message")
            hint = _HINTS.get(status, "server error" if status >= 500 else "")
            hint = hint.format(env=f" ({key_env})" if key_env else "")
            tried = f" after {tries}" if status in (408, 409, 429) or status >= 500 else ""
            tried += _too_long_to_wait(e.response.headers)
            extra = f" ({hint}{tried})" if hint or tried else ""
            err = ModelCallError(scrub(f"{where} answered HTTP {status}{extra}: {message}", secret))
        err.status_code = status  # type: ignore[attr-defined]
    elif isinstance(e, openai.APITimeoutError):
        err = ModelCallError(
            f"{where} did not answer within {timeout_s:g} s ({tries}); "
            "raise timeout_s in the profile or check the server's load"
        )
    elif isinstance(e, openai.APIConnectionError):
        cause = e.__cause__ or e.__context__
        why = (str(cause) or type(cause).__name__) if cause is not None else "connection failed"
        err = ModelCallError(
            scrub(
                f"cannot connect to {where} ({why}; {tries}). Is the server running, and is base_url right?",
                secret,
            )
        )
    elif isinstance(e, openai.APIError) and _is_blocked(e.body):
        err = ContentBlocked(f"{where}: {BLOCKED_MESSAGE}")
    elif isinstance(e, openai.APIError) and _is_fault(e.body):
        err = ModelCallError(
            scrub(
                f"{where} answered HTTP 200 with {e.body['message']} ({tries}; not asked again, "
                "as part of the answer had already been streamed)",
                secret,
            )
        )
        err.status_code = 200  # type: ignore[attr-defined]
    elif isinstance(e, openai.APIError):
        err = ModelCallError(scrub(f"{where} reported an error: {server_message(e.body, e.message)}", secret))
    else:
        err = ModelCallError(scrub(f"{where}: {type(e).__name__}: {e}", secret))
    err.url = where  # type: ignore[attr-defined]
    return err
