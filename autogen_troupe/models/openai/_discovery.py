"""The model ids an endpoint serves, from `GET {base_url}/models`: for `troupe models`, and for a profile
that names no model (the client asks on first use, as GenOS's guide does)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx2

from ..._redact import redact_text
from ...errors import ModelCallError, ProfileError
from .._endpoints import normalize_base_url
from .._http import async_client, sync_client
from .._network import check_endpoint
from .._resolved import OpenAIModel
from ._errors import scrub, server_message

__all__ = ["adiscover_model", "discover_model", "key_for", "list_models"]


def _model_ids(response: httpx2.Response, url: str, secret: str | None) -> list[str]:
    url = redact_text(url, extra=(secret,))
    if not response.is_success:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        message = server_message(body, response.reason_phrase or "no message")
        hint = " (check the API key)" if response.status_code in (401, 403) else ""
        raise ModelCallError(scrub(f"{url} answered HTTP {response.status_code}{hint}: {message}", secret))
    try:
        payload = response.json()
    except ValueError:
        ctype = response.headers.get("content-type", "?")
        raise ProfileError(
            scrub(
                f"{url} did not answer like an OpenAI-compatible server ({ctype}: {response.text[:80]!r}); "
                "base_url should be the address under which /chat/completions and /models live, "
                "usually .../v1",
                secret,
            )
        ) from None
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise ProfileError(
            f"{url} answered without a model list ('data'); is base_url an OpenAI-compatible API?"
        )
    ids = [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]
    if not ids:
        raise ProfileError(f"{url} lists no models; set the model id with `model:` or --model / TROUPE_MODEL")
    return ids


def _models_request(
    base_url: str, headers: Mapping[str, str] | None, api_key: str | None
) -> tuple[str, dict[str, str]]:
    check_endpoint(base_url)
    h = {"Accept": "application/json"}
    if api_key:
        h["Authorization"] = f"Bearer {api_key}"
    h.update(headers or {})
    return f"{normalize_base_url(base_url)}/models", h


def _unreachable(url: str, e: httpx2.HTTPError) -> ModelCallError:
    return ModelCallError(
        redact_text(
            f"cannot ask {url} for its models ({type(e).__name__}: {e or 'no detail'}). "
            "Is the server running, and is base_url right? (Or give the model id with `model:` / --model.)"
        )
    )


def discover_model(
    base_url: str,
    headers: Mapping[str, str] | None = None,
    api_key: str | None = None,
    timeout: float = 30.0,
) -> str:
    """The first model id `GET {base_url}/models` lists (what GenOS's guide does)."""
    url, h = _models_request(base_url, headers, api_key)
    try:
        with sync_client(timeout=timeout) as client:
            response = client.get(url, headers=h)
    except httpx2.HTTPError as e:
        raise _unreachable(url, e) from None
    return _model_ids(response, url, api_key)[0]


async def adiscover_model(
    base_url: str,
    headers: Mapping[str, str] | None = None,
    api_key: str | None = None,
    timeout: float = 30.0,
) -> str:
    """`discover_model` without blocking the event loop."""
    return (await _alist(base_url, headers, api_key, timeout))[0]


async def _alist(
    base_url: str, headers: Mapping[str, str] | None, api_key: str | None, timeout: float
) -> list[str]:
    url, h = _models_request(base_url, headers, api_key)
    try:
        async with async_client(timeout=timeout) as client:
            response = await client.get(url, headers=h)
    except httpx2.HTTPError as e:
        raise _unreachable(url, e) from None
    return _model_ids(response, url, api_key)


def key_for(spec: OpenAIModel) -> str | None:
    if spec.api_key is not None and spec.api_key.get_secret_value():
        return spec.api_key.get_secret_value()
    if spec.api_key_env and os.environ.get(spec.api_key_env, "").strip():
        return os.environ[spec.api_key_env].strip()
    return None


async def list_models(spec: OpenAIModel) -> list[str]:
    """The model ids an `openai`-provider spec's endpoint serves."""
    if not spec.base_url:
        raise ProfileError(f"model profile {spec.profile or 'inline'!r} has no base_url to ask for models")
    return await _alist(spec.base_url, spec.headers, key_for(spec), min(spec.timeout_s or 30.0, 30.0))
