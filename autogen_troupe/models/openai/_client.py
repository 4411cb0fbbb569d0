"""The `openai` provider: AutoGen's `OpenAIChatCompletionClient` for any OpenAI-compatible endpoint.

What it adds to autogen-ext 0.7.5 (see FACTS.md):

- `model_info` is always passed (inferred from the model id), so "model_info is required" never happens;
- streamed requests ask for `stream_options.include_usage`, so streamed usage is not 0/0;
- a wire normaliser (an httpx transport) copies vLLM's `reasoning` to the `reasoning_content` AutoGen
  reads, and turns GenStudio's `"blocked": true` into an error raised as `ContentBlocked`;
- a 200 answer that is no answer (an HTML page, an empty or cut body, no choices, a stream that stops
  before its finish reason, an empty reply: see `_answers`) is retried when that may help, then raised
  as a `ModelCallError`, never handed on as a message;
- every request goes through `_http`'s clients: redirects only within one origin, a ceiling on
  `Retry-After`;
- the model id is discovered from `GET /models` when the profile gives none;
- openai SDK errors become one-paragraph `ModelCallError`s (status, URL without query, the server's
  message) that never hold the API key, and the dumped component config holds no key either.

The SDK keeps its own retries, which only repeat safe cases: connection errors, timeouts, 408/409/429/5xx,
and the transient faults above while nothing of a stream has been passed on yet. Error messages count the
attempts really made.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Literal

import httpx
import openai
from autogen_core import CancellationToken
from autogen_core.models import CreateResult, LLMMessage
from autogen_core.tools import Tool, ToolSchema
from autogen_ext.models.openai import OpenAIChatCompletionClient
from autogen_ext.models.openai.config import OpenAIClientConfigurationConfigModel
from pydantic import BaseModel, SecretStr
from typing_extensions import Self

from ...errors import ContentBlocked, ModelCallError, ProfileError
from ...scenario._schema import ModelInfoSpec, ModelSpec
from .._endpoints import is_secret_header, normalize_base_url
from .._facts import infer_model_info
from .._http import RETRY_AFTER_MAX_S, async_client, retry_after_s, sync_client
from .._network import check_endpoint
from .._redact import redact_text
from .._redact import safe_url as _safe_url  # no user info, query or fragment
from ._answers import FAULT_CODE, Fault, StreamCheck, completion_fault, parse_body, sample

__all__ = [
    "PLACEHOLDER_API_KEY",
    "TroupeOpenAIClient",
    "TroupeOpenAIConfig",
    "adiscover_model",
    "alist_models",
    "create_client",
    "discover_model",
    "list_models",
    "translate_error",
]

PLACEHOLDER_API_KEY = "EMPTY"  # sent when the endpoint needs no key; the SDK refuses to run without one
_UNDISCOVERED = "(discovered from /models on first use)"
_BLOCKED_CODE = "content_blocked"
_BLOCKED_MESSAGE = (
    'the endpoint\'s content moderation blocked the request or its answer ("blocked": true); '
    "rephrase the task or use another model"
)
_DEFAULT_TIMEOUT_S = 600.0  # the openai SDK's own default
_MAX_MESSAGE = 600


# --------------------------------------------------------------------------- wire normaliser


def _normalise(obj: Any) -> tuple[bool, bool]:
    """Fix one chat-completions body or chunk in place; returns (changed, blocked)."""
    if not isinstance(obj, dict):
        return False, False
    changed = False
    choices = obj.get("choices") if isinstance(obj.get("choices"), list) else []
    blocked = obj.get("blocked") is True or any(
        isinstance(c, dict) and c.get("blocked") is True for c in choices
    )
    for c in choices:
        if not isinstance(c, dict):
            continue
        for part in ("message", "delta"):
            m = c.get(part)
            if not isinstance(m, dict):
                continue
            blocked = blocked or m.get("blocked") is True
            reasoning = m.get("reasoning")
            if isinstance(reasoning, str) and m.get("reasoning_content") is None:
                m["reasoning_content"] = reasoning  # AutoGen 0.7.5 reads only this name
                changed = True
            thought = m.get("reasoning_content")
            if part == "message" and m.get("tool_calls") and isinstance(thought, str) and thought:
                # With tool calls AutoGen keeps only `content` (as the thought): put the reasoning there.
                content = m.get("content")
                m["content"] = f"{thought}\n\n{content}" if content else thought
                changed = True
    return changed, blocked


def _blocked_error() -> dict[str, Any]:
    return {"error": {"message": _BLOCKED_MESSAGE, "type": _BLOCKED_CODE, "code": _BLOCKED_CODE}}


def _fix_chunk(obj: Any) -> tuple[bytes | None, bool]:
    """One parsed stream chunk normalised: its new `data:` lines (None when unchanged), and whether the
    endpoint's moderation blocked it."""
    changed, blocked = _normalise(obj)
    if blocked:
        return None, True
    if isinstance(obj, dict) and obj.get("usage") and obj.get("choices"):
        # AutoGen 0.7.5 reads finish_reason only from chunks without usage; GenStudio sends both in its
        # last chunk. Send them as OpenAI does: the chunk, then a usage-only chunk with no choices.
        usage = {k: v for k, v in obj.items() if k not in ("choices", "usage")} | {
            "choices": [],
            "usage": obj["usage"],
        }
        obj = {**obj, "usage": None}
        return _data(obj) + b"\n\n" + _data(usage), False
    return (_data(obj) if changed else None), False


def _data(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode()


def _field_value(line: bytes, name: bytes) -> bytes:
    value = line[len(name) :]
    value = value[1:] if value.startswith(b":") else value
    return value[1:] if value.startswith(b" ") else value


_SSE_FIELDS = (b"event", b"id", b"retry")


class _CheckedSSE(httpx.AsyncByteStream):
    """The server's event stream, event by event: normalised (`_fix_chunk`), checked (`StreamCheck`), and
    held back until its first chunk worth showing, so that a fault before it can still be asked again.

    A fault found later ends the stream with an error event, which the openai SDK raises as an APIError
    that `translate_error` turns into a `ModelCallError`. A blocked chunk ends it with the blocked error.
    """

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.check = StreamCheck()
        self._fields: list[bytes] = []  # the lines of the event being read
        self._has_data = False
        self._held: list[bytes] = []
        self._items = self._read()

    async def prime(self) -> Fault | None:
        """Read until the first chunk worth showing (or the end); the fault met before it, if any."""
        async for item in self._items:
            if isinstance(item, Fault):
                return item
            self._held.append(item)
            if self.check.passed_on:
                break
        return None

    async def __aiter__(self) -> Any:
        held, self._held = self._held, []
        for item in held:
            yield item
        async for item in self._items:
            if isinstance(item, Fault):
                yield _data({"error": item.error_body()}) + b"\n\n"
                return
            yield item

    async def _read(self) -> AsyncGenerator[bytes | Fault, None]:
        buf = b""
        try:
            async for chunk in self._response.aiter_bytes():
                buf += chunk
                *lines, buf = buf.split(b"\n")
                out, fault, stop = self._lines(lines)
                if out:
                    yield out
                if fault is not None or stop:
                    if fault is not None:
                        yield fault
                    return
        except httpx.TimeoutException:
            raise  # the openai SDK retries it and reports a timeout
        except httpx.HTTPError as e:
            # A cut after the finish reason lost nothing; before it, the answer is incomplete.
            if not self.check.ended and (fault := self.check.end(f"{type(e).__name__}: {e or 'no detail'}")):
                yield fault
            return
        out, fault, stop = self._lines([buf, b""] if buf else [b""])  # the last event needs no blank line
        if out:
            yield out
        if fault is None and not stop and not self.check.ended:
            fault = self.check.end()
        if fault is not None:
            yield fault

    def _lines(self, lines: list[bytes]) -> tuple[bytes, Fault | None, bool]:
        """Lines in; the bytes to send on, a fault, and whether the stream is over."""
        out: list[bytes] = []
        for raw in lines:
            line = raw.rstrip(b"\r")
            if self.check.ended:
                out.append(line + b"\n")  # after [DONE] or an error event: nothing left to check
                continue
            if not line:
                sent, fault, stop = self._dispatch()
                out.append(sent)
                if fault is not None or stop:
                    return b"".join(out), fault, stop
            elif line.startswith(b":"):
                out.append(line + b"\n")  # a comment, e.g. a keep-alive
            else:
                name = line.split(b":", 1)[0]
                if name == b"data":
                    self._has_data = True
                elif name not in _SSE_FIELDS:
                    fault = Fault(f"something other than server-sent events ({sample(line)})", False)
                    return b"".join(out), fault, True
                self._fields.append(line)
        return b"".join(out), None, False

    def _dispatch(self) -> tuple[bytes, Fault | None, bool]:
        """The event just completed (its lines in `_fields`), checked and normalised."""
        lines, self._fields = self._fields, []
        has_data, self._has_data = self._has_data, False
        if not has_data:
            return b"\n".join(lines) + b"\n\n" if lines else b"\n", None, False
        payload = b"\n".join(_field_value(x, b"data") for x in lines if x.split(b":", 1)[0] == b"data")
        event = b"\n".join(lines) + b"\n\n"
        if payload.strip() == b"[DONE]":
            fault = self.check.end()
            return (b"", fault, True) if fault is not None else (event, None, False)
        try:
            obj = json.loads(payload)
        except ValueError:
            return b"", Fault(f"a chunk that is not JSON ({sample(payload)})", retryable=False), True
        fixed, blocked = _fix_chunk(obj)
        if blocked:
            return _data(_blocked_error()) + b"\n\n", None, True
        fault = self.check.chunk(obj)
        if fault is not None:
            return b"", fault, True
        if fixed is None:
            return event, None, False
        others = [x for x in lines if x.split(b":", 1)[0] != b"data"]
        return b"\n".join([*others, fixed]) + b"\n\n", None, False

    async def aclose(self) -> None:
        await self._items.aclose()
        await self._response.aclose()


def _headers_without_length(headers: httpx.Headers) -> list[tuple[str, str]]:
    # The body is handed on decoded and possibly changed: its encoding and length no longer apply.
    return [
        (k, v) for k, v in headers.multi_items() if k.lower() not in ("content-encoding", "content-length")
    ]


def _fault_response(response: httpx.Response, fault: Fault) -> httpx.Response:
    """A fault in a 200 answer as an error answer the openai SDK understands: retried when the fault is
    transient (after the server's Retry-After, if it sent one), then raised as an APIStatusError."""
    headers = {k: v for k in _KEPT_HEADERS if (v := response.headers.get(k)) is not None}
    headers["x-should-retry"] = "true" if fault.retryable else "false"
    return httpx.Response(
        502,  # "an invalid response from the upstream server"; translate_error reports the real status
        headers=headers,
        json={"error": fault.error_body(response.status_code)},
        extensions=response.extensions,
    )


_KEPT_HEADERS = ("retry-after", "retry-after-ms", "x-request-id")


def _asks_to_stream(request: httpx.Request) -> bool:
    try:
        body = json.loads(request.content)
    except (ValueError, httpx.RequestNotRead):
        return False
    return isinstance(body, dict) and body.get("stream") is True


class _WireTransport(httpx.AsyncBaseTransport):
    """Normalises chat-completions answers from servers that speak a dialect of the OpenAI format, and
    turns a 200 answer that is no answer (see `_answers`) into a fault the openai SDK retries or raises."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        check_endpoint(str(request.url))  # every request, a redirect's too; create() checks only base_url
        response = await self._inner.handle_async_request(request)
        if request.method != "POST" or not request.url.path.rstrip("/").endswith("/chat/completions"):
            return response
        if response.status_code != 200:
            return response
        ctype = response.headers.get("content-type", "")
        if "text/event-stream" in ctype:
            stream = _CheckedSSE(response)
            try:
                fault = await stream.prime()
            except BaseException:
                await stream.aclose()
                raise
            if fault is not None:
                await stream.aclose()
                return _fault_response(response, fault)
            return httpx.Response(
                response.status_code,
                headers=_headers_without_length(response.headers),
                stream=stream,
                extensions=response.extensions,
            )
        body = await response.aread()
        obj, fault = parse_body(body, ctype)
        if fault is None:
            changed, blocked = _normalise(obj)
            if blocked:
                return httpx.Response(
                    400,
                    headers={"x-should-retry": "false"},
                    json=_blocked_error(),
                    extensions=response.extensions,
                )
            fault = completion_fault(obj)
        if fault is None and _asks_to_stream(request):
            fault = Fault(
                f"a {ctype or 'body without a content type'} answer to a streamed request "
                "instead of an event stream",
                retryable=False,
            )
        if fault is not None:
            return _fault_response(response, fault)
        content = json.dumps(obj, ensure_ascii=False).encode() if changed else body
        return httpx.Response(
            200,
            headers=_headers_without_length(response.headers),
            content=content,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def _http_client(timeout_s: float | None) -> httpx.AsyncClient:
    total = timeout_s or _DEFAULT_TIMEOUT_S
    return async_client(
        transport=_WireTransport(httpx.AsyncHTTPTransport()),
        timeout=httpx.Timeout(total, connect=min(total, 5.0)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


# --------------------------------------------------------------------------- errors


def _scrub(text: str, secret: str | None) -> str:
    if secret and len(secret) >= 4 and secret != PLACEHOLDER_API_KEY:
        text = text.replace(secret, "***")
    text = redact_text(text)
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + " ..."


def _server_message(body: Any, fallback: str) -> str:
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
    return isinstance(body, Mapping) and (body.get("code") == _BLOCKED_CODE or body.get("blocked") is True)


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
    request = getattr(e, "request", None)
    try:
        return int(request.headers["x-stainless-retry-count"]) + 1  # type: ignore[union-attr]
    except (AttributeError, KeyError, TypeError, ValueError):
        return retries + 1


def _is_fault(body: Any) -> bool:
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
    where = _safe_url(request.url) if request is not None else url
    tries = _attempts(_attempts_made(e, retries))
    if isinstance(e, openai.APIStatusError):
        status = e.status_code
        if _is_blocked(e.body):
            err: ModelCallError = ContentBlocked(f"{where}: {_BLOCKED_MESSAGE}")
        elif _is_fault(e.body):
            status = int(e.body.get("status") or 200)  # type: ignore[union-attr]
            err = ModelCallError(
                _scrub(f"{where} answered HTTP {status} with {e.body['message']} ({tries})", secret)  # type: ignore[index]
            )
        else:
            message = _server_message(e.body, e.response.reason_phrase or "no message")
            hint = _HINTS.get(status, "server error" if status >= 500 else "")
            hint = hint.format(env=f" ({key_env})" if key_env else "")
            tried = f" after {tries}" if status in (408, 409, 429) or status >= 500 else ""
            tried += _too_long_to_wait(e.response.headers)
            extra = f" ({hint}{tried})" if hint or tried else ""
            err = ModelCallError(_scrub(f"{where} answered HTTP {status}{extra}: {message}", secret))
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
            _scrub(
                f"cannot connect to {where} ({why}; {tries}). Is the server running, and is base_url right?",
                secret,
            )
        )
    elif isinstance(e, openai.APIError) and _is_blocked(e.body):
        err = ContentBlocked(f"{where}: {_BLOCKED_MESSAGE}")
    elif isinstance(e, openai.APIError) and _is_fault(e.body):
        err = ModelCallError(
            _scrub(
                f"{where} answered HTTP 200 with {e.body['message']} ({tries}; not asked again, "  # type: ignore[index]
                "as part of the answer had already been streamed)",
                secret,
            )
        )
        err.status_code = 200  # type: ignore[attr-defined]
    elif isinstance(e, openai.APIError):
        err = ModelCallError(
            _scrub(f"{where} reported an error: {_server_message(e.body, e.message)}", secret)
        )
    else:
        err = ModelCallError(_scrub(f"{where}: {type(e).__name__}: {e}", secret))
    err.url = where  # type: ignore[attr-defined]
    return err


# --------------------------------------------------------------------------- model discovery


def _model_ids(response: httpx.Response, url: str, secret: str | None) -> list[str]:
    url = redact_text(url, extra=(secret,))
    if not response.is_success:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        message = _server_message(body, response.reason_phrase or "no message")
        hint = " (check the API key)" if response.status_code in (401, 403) else ""
        raise ModelCallError(_scrub(f"{url} answered HTTP {response.status_code}{hint}: {message}", secret))
    try:
        payload = response.json()
    except ValueError:
        ctype = response.headers.get("content-type", "?")
        raise ProfileError(
            _scrub(
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


def _unreachable(url: str, e: httpx.HTTPError) -> ModelCallError:
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
    except httpx.HTTPError as e:
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
    except httpx.HTTPError as e:
        raise _unreachable(url, e) from None
    return _model_ids(response, url, api_key)


def _key_for(spec: ModelSpec) -> str | None:
    if spec.api_key is not None and spec.api_key.get_secret_value():
        return spec.api_key.get_secret_value()
    if spec.api_key_env and os.environ.get(spec.api_key_env, "").strip():
        return os.environ[spec.api_key_env].strip()
    return None


async def alist_models(spec: ModelSpec) -> list[str]:
    """The model ids an `openai`-provider spec's endpoint serves."""
    if not spec.base_url:
        raise ProfileError(f"model profile {spec.profile or 'inline'!r} has no base_url to ask for models")
    return await _alist(spec.base_url, spec.headers, _key_for(spec), min(spec.timeout_s or 30.0, 30.0))


def list_models(spec: ModelSpec) -> list[str]:
    """`alist_models` for synchronous callers."""
    if not spec.base_url:
        raise ProfileError(f"model profile {spec.profile or 'inline'!r} has no base_url to ask for models")
    url, h = _models_request(spec.base_url, spec.headers, _key_for(spec))
    try:
        with sync_client(timeout=min(spec.timeout_s or 30.0, 30.0)) as client:
            response = client.get(url, headers=h)
    except httpx.HTTPError as e:
        raise _unreachable(url, e) from None
    return _model_ids(response, url, _key_for(spec))


# --------------------------------------------------------------------------- the client


class TroupeOpenAIConfig(OpenAIClientConfigurationConfigModel):
    """The dumped configuration: no API key (only the variable's name), secret headers masked."""

    api_key_env: str | None = None
    extra_body: dict[str, Any] | None = None
    discover: bool | None = None  # the model id is asked from GET /models on first use


# Reasoning text seen while one create_stream call runs (the stream's own task context).
_stream_reasoning: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "troupe_stream_reasoning", default=None
)


class TroupeOpenAIClient(OpenAIChatCompletionClient):
    """AutoGen's OpenAI client made robust for OpenAI-compatible servers (vLLM, LMDeploy, gateways).

    Adds usage when streaming, keeps reasoning under either field name, raises moderation blocks and HTTP
    failures as autogen-troupe errors, discovers the model id lazily, and dumps no API key.
    """

    component_provider_override = "autogen_troupe.models.openai._client.TroupeOpenAIClient"
    component_config_schema = TroupeOpenAIConfig  # type: ignore[assignment]

    def __init__(
        self,
        *,
        extra_body: Mapping[str, Any] | None = None,
        api_key_env: str | None = None,
        discover: bool = False,
        given_model_info: ModelInfoSpec | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("api_key", PLACEHOLDER_API_KEY)
        timeout = kwargs.get("timeout")
        kwargs["http_client"] = _http_client(timeout)
        super().__init__(**kwargs)
        self._raw_config.pop("http_client", None)
        self._resolved_model = None  # AutoGen's OpenAI model-name mapping does not apply here
        self._extra_body = dict(extra_body or {})
        self._api_key_env = api_key_env
        self._discover = discover
        self._given_info = given_model_info
        self._discovery_lock: asyncio.Lock | None = None
        self._secret = str(kwargs["api_key"])
        self._base_url = str(kwargs.get("base_url") or "")
        self._timeout_s = float(timeout or _DEFAULT_TIMEOUT_S)
        retries = kwargs.get("max_retries")
        self._retries = 2 if retries is None else int(retries)  # the openai SDK's default

    # ------------------------------------------------------------------ model

    @property
    def model(self) -> str | None:
        """The model id requests go to (None until discovered)."""
        return None if self._discover else self._create_args["model"]

    async def ensure_model(self) -> str:
        """Discover the model id from `GET /models` once, if the profile named none."""
        if self._discover:
            if self._discovery_lock is None:
                self._discovery_lock = asyncio.Lock()
            async with self._discovery_lock:
                if self._discover:
                    headers = self._raw_config.get("default_headers") or {}
                    model = await adiscover_model(
                        self._base_url, headers, self._secret, min(self._timeout_s, 30.0)
                    )
                    self._create_args["model"] = model
                    self._raw_config["model"] = model
                    self._model_info = infer_model_info(model, self._given_info)  # type: ignore[assignment]
                    self._discover = False
        return self._create_args["model"]

    # ------------------------------------------------------------------ requests

    def _with_extra_body(self, extra_create_args: Mapping[str, Any] | None) -> dict[str, Any]:
        args = dict(extra_create_args or {})
        if self._extra_body or "extra_body" in args:
            args["extra_body"] = {**self._extra_body, **(args.get("extra_body") or {})}
        return args

    def _translate(self, e: BaseException) -> ModelCallError:
        return translate_error(
            e,
            url=_safe_url(self._base_url),
            secret=self._secret,
            key_env=self._api_key_env,
            retries=self._retries,
            timeout_s=self._timeout_s,
        )

    async def create(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] | None = None,
        cancellation_token: CancellationToken | None = None,
    ) -> CreateResult:
        check_endpoint(self._base_url)
        await self.ensure_model()
        try:
            return await super().create(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=self._with_extra_body(extra_create_args),
                cancellation_token=cancellation_token,
            )
        except openai.OpenAIError as e:
            raise self._translate(e) from None

    async def create_stream(
        self,
        messages: Sequence[LLMMessage],
        *,
        tools: Sequence[Tool | ToolSchema] = (),
        tool_choice: Tool | Literal["auto", "required", "none"] = "auto",
        json_output: bool | type[BaseModel] | None = None,
        extra_create_args: Mapping[str, Any] | None = None,
        cancellation_token: CancellationToken | None = None,
        max_consecutive_empty_chunk_tolerance: int = 0,
        include_usage: bool | None = None,
    ) -> AsyncGenerator[str | CreateResult, None]:
        check_endpoint(self._base_url)
        await self.ensure_model()
        args = self._with_extra_body(extra_create_args)
        if include_usage is None and "stream_options" not in args:
            include_usage = True  # 0.7.5 sends no stream_options: usage would come back as 0/0
        elif include_usage is False:
            include_usage = None  # 0.7.5 turns any non-None value into include_usage: true
        reasoning: list[str] = []
        token = _stream_reasoning.set(reasoning)
        try:
            async for item in super().create_stream(
                messages,
                tools=tools,
                tool_choice=tool_choice,
                json_output=json_output,
                extra_create_args=args,
                cancellation_token=cancellation_token,
                max_consecutive_empty_chunk_tolerance=max_consecutive_empty_chunk_tolerance,
                include_usage=include_usage,
            ):
                if isinstance(item, CreateResult) and reasoning:
                    item = _with_reasoning(item, "".join(reasoning))
                yield item
        except openai.OpenAIError as e:
            raise self._translate(e) from None
        finally:
            _stream_reasoning.reset(token)

    async def _create_stream_chunks(self, *args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        seen = _stream_reasoning.get()
        async for chunk in super()._create_stream_chunks(*args, **kwargs):
            if seen is not None and chunk.choices:
                extra = chunk.choices[0].delta.model_extra or {}
                if isinstance(extra.get("reasoning_content"), str):
                    seen.append(extra["reasoning_content"])
            yield chunk

    # ------------------------------------------------------------------ config and pickling

    def _to_config(self) -> TroupeOpenAIConfig:  # type: ignore[override]
        cfg = dict(self._raw_config)
        cfg.pop("api_key", None)
        cfg.pop("http_client", None)
        if cfg.get("default_headers"):
            cfg["default_headers"] = {
                k: "***" if is_secret_header(k) else v for k, v in cfg["default_headers"].items()
            }
        return TroupeOpenAIConfig(
            **cfg,
            api_key_env=self._api_key_env,
            extra_body=self._extra_body or None,
            discover=True if self._discover else None,
        )

    @classmethod
    def _from_config(cls, config: OpenAIClientConfigurationConfigModel) -> Self:  # type: ignore[override]
        data = config.model_dump(exclude_none=True)
        key_env = data.pop("api_key_env", None)
        extra_body = data.pop("extra_body", None)
        discover = bool(data.pop("discover", False))
        key = config.api_key.get_secret_value() if isinstance(config.api_key, SecretStr) else None
        if not key or set(key) == {"*"}:
            key = os.environ.get(key_env, "").strip() if key_env else ""
        data["api_key"] = key or PLACEHOLDER_API_KEY
        if data.get("default_headers"):
            data["default_headers"] = {k: v for k, v in data["default_headers"].items() if v != "***"}
        return cls(extra_body=extra_body, api_key_env=key_env, discover=discover, **data)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        config = {k: v for k, v in self._raw_config.items() if k != "http_client"}
        config["http_client"] = _http_client(config.get("timeout"))
        from autogen_ext.models.openai._openai_client import _openai_client_from_config

        self._client = _openai_client_from_config(config)
        self._discovery_lock = None


def _with_reasoning(result: CreateResult, reasoning: str) -> CreateResult:
    """Keep the exact reasoning text: 0.7.5 drops it beside tool calls and strips letters off its ends."""
    if isinstance(result.content, list):
        thought = f"{reasoning}\n\n{result.thought}" if result.thought else reasoning
    else:
        thought = reasoning
    return result.model_copy(update={"thought": thought})


# --------------------------------------------------------------------------- factory


def create_client(spec: ModelSpec) -> TroupeOpenAIClient:
    """An AutoGen client for a resolved `openai`-provider spec; does no I/O (discovery waits for use)."""
    if not spec.base_url:
        raise ProfileError(
            f"model profile {spec.profile or 'inline'!r} uses provider 'openai' but has no base_url"
        )
    check_endpoint(spec.base_url)
    kwargs: dict[str, Any] = {
        "model": spec.model or _UNDISCOVERED,
        "base_url": normalize_base_url(spec.base_url),
        "api_key": _key_for(spec) or PLACEHOLDER_API_KEY,
        "model_info": infer_model_info(spec.model, spec.model_info),
    }
    if spec.headers:
        kwargs["default_headers"] = dict(spec.headers)
    for name in (
        "temperature", "top_p", "max_tokens", "seed", "frequency_penalty", "presence_penalty", "max_retries"
    ):  # fmt: skip
        if (value := getattr(spec, name)) is not None:
            kwargs[name] = value
    if spec.stop:
        kwargs["stop"] = list(spec.stop)
    if spec.timeout_s is not None:
        kwargs["timeout"] = spec.timeout_s
    return TroupeOpenAIClient(
        extra_body=spec.extra_body,
        api_key_env=spec.api_key_env,
        discover=spec.model is None,
        given_model_info=spec.model_info,
        **kwargs,
    )
