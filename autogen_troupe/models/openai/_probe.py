"""`troupe probe`: what an OpenAI-compatible endpoint can do, measured with a few small requests.

Each feature is one request a real run would make (tool calls free, required and named; several tool
calls at once; an answer under a JSON schema; an answer among fixed choices; usage in a stream), judged
by what comes back, not by what the server claims: a server that ignores a field it does not know
answers in prose, and the probe says "no". Context length comes from `GET /models` where the server lists
it (vLLM's `max_model_len`), reasoning text from any answer that carries it.

Bounded: every request has its own timeout, the whole probe a time cap (features not reached by then are
"not measured"), and an endpoint that fails the first plain request gets one paragraph and no table.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx2

from ..._redact import safe_url
from ...scenario._base import Frozen
from ...scenario._capabilities import Capabilities
from .._endpoints import normalize_base_url
from .._http import async_client
from .._network import check_endpoint
from .._resolved import OpenAIModel
from ._discovery import key_for
from ._errors import scrub, server_message

__all__ = ["ProbeReport", "ProbeRow", "probe_endpoint"]

_CHOICES = ["zebra-41", "yak-73"]
_ENUM = ["alpha-7", "beta-9"]
_WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
_TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The current time in a time zone.",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}
_ASK_WEATHER = "What is the weather in Paris? Use the tool."


def _strict(tool: dict[str, Any]) -> dict[str, Any]:
    """A tool whose arguments must follow its schema, as runs send tools when they force a call."""
    return {**tool, "function": {**tool["function"], "strict": True}}


_ASK_TWO = "What is the weather in Paris and in Rome? Call the tool once for each city."


class ProbeRow(Frozen):
    """One feature: whether the endpoint did it (None: not measured) and what was seen."""

    feature: str
    works: bool | None
    detail: str


class ProbeReport(Frozen):
    """What `troupe probe` found; `problem` is set (and `rows` empty) when the endpoint could not be used."""

    base_url: str
    model: str | None = None
    rows: tuple[ProbeRow, ...] = ()
    capabilities: Capabilities = Capabilities()
    context_length: int | None = None
    problem: str | None = None
    seconds: float = 0.0


class _Failed(Exception):
    """A probe request that got no usable answer; its text is one line for the table."""


class _Endpoint:
    def __init__(self, spec: OpenAIModel, client: httpx2.AsyncClient, timeout_s: float) -> None:
        self.base = normalize_base_url(spec.base_url)
        self.secret = key_for(spec)
        self.headers = {"Accept": "application/json", **dict(spec.headers)}
        if self.secret:
            self.headers.setdefault("Authorization", f"Bearer {self.secret}")
        self.client = client
        self.timeout_s = timeout_s
        self.model: str | None = spec.model

    async def send(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> httpx2.Response:
        url = f"{self.base}{path}"
        try:
            return await self.client.request(
                method, url, headers=self.headers, json=body, timeout=self.timeout_s
            )
        except httpx2.TimeoutException:
            raise _Failed(f"no answer within {self.timeout_s:g} s") from None
        except httpx2.HTTPError as e:
            raise _Failed(scrub(f"{type(e).__name__}: {e or 'no detail'}", self.secret)) from None

    def refused(self, response: httpx2.Response) -> _Failed:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        message = server_message(body, response.reason_phrase or "no message")
        return _Failed(scrub(f"HTTP {response.status_code}: {message}", self.secret)[:200])

    async def chat(self, prompt: str, **fields: Any) -> dict[str, Any]:
        """The assistant message of a one-turn chat; raises _Failed for anything but a 200 JSON answer."""
        return (await self.chat_with_usage(prompt, **fields))[0]

    async def chat_with_usage(self, prompt: str, **fields: Any) -> tuple[dict[str, Any], int | None]:
        """The assistant message and the prompt's token count the server reports (None: not reported)."""
        body = {"model": self.model, "messages": [{"role": "user", "content": prompt}], "temperature": 0.0}
        body.update(fields)
        response = await self.send("POST", "/chat/completions", body)
        if not response.is_success:
            raise self.refused(response)
        try:
            answer = response.json()
            message = answer["choices"][0]["message"]
        except (ValueError, LookupError, TypeError):
            raise _Failed(f"not a chat completion: {response.text[:80]!r}") from None
        if not isinstance(message, dict):
            raise _Failed("not a chat completion: the message is not an object")
        usage = answer.get("usage") if isinstance(answer, dict) else None
        prompt_tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        return message, prompt_tokens if isinstance(prompt_tokens, int) else None

    async def stream_usage(self) -> dict[str, Any] | None:
        """The usage a stream reports when asked for it (None: none came)."""
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 8,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        usage = None
        url = f"{self.base}/chat/completions"
        try:
            async with self.client.stream(
                "POST", url, headers=self.headers, json=body, timeout=self.timeout_s
            ) as response:
                if not response.is_success:
                    await response.aread()
                    raise self.refused(response)
                async for line in response.aiter_lines():
                    data = line.removeprefix("data:").strip()
                    if not line.startswith("data:") or data == "[DONE]":
                        continue
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        continue
                    if isinstance(chunk, dict) and isinstance(chunk.get("usage"), dict):
                        usage = chunk["usage"]
        except httpx2.TimeoutException:
            raise _Failed(f"no answer within {self.timeout_s:g} s") from None
        except httpx2.HTTPError as e:
            raise _Failed(scrub(f"{type(e).__name__}: {e or 'no detail'}", self.secret)) from None
        return usage


def _calls(message: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(name, parsed arguments or None when they are not JSON) of each tool call in a message."""
    out = []
    for call in message.get("tool_calls") or []:
        fn = call.get("function") if isinstance(call, dict) else None
        fn = fn if isinstance(fn, dict) else {}
        try:
            args = json.loads(fn.get("arguments") or "")
        except (TypeError, ValueError):
            args = None
        out.append((str(fn.get("name")), args))
    return out


def _valid(call: tuple[str, Any], name: str, key: str) -> bool:
    return call[0] == name and isinstance(call[1], dict) and isinstance(call[1].get(key), str)


def _said(message: Mapping[str, Any]) -> str:
    text = message.get("content")
    return text.strip() if isinstance(text, str) else ""


def _short(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= 40 else text[:40] + "...")


async def _tool_auto(ep: _Endpoint) -> ProbeRow:
    calls = _calls(await ep.chat(_ASK_WEATHER, tools=[_WEATHER], tool_choice="auto", max_tokens=64))
    if not calls:
        return ProbeRow(feature="tool_calls", works=False, detail="answered in prose, no tool call")
    ok = _valid(calls[0], "get_weather", "city")
    return ProbeRow(feature="tool_calls", works=ok, detail=f"called {calls[0][0]} {json.dumps(calls[0][1])}")


async def _tool_required(ep: _Endpoint) -> ProbeRow:
    calls = _calls(
        await ep.chat(_ASK_WEATHER, tools=[_strict(_WEATHER)], tool_choice="required", max_tokens=64)
    )
    if not calls:
        return ProbeRow(feature="tool_required", works=False, detail="no tool call although required")
    ok = _valid(calls[0], "get_weather", "city")
    detail = f"called {calls[0][0]}" + ("" if ok else " with arguments off its schema")
    return ProbeRow(feature="tool_required", works=ok, detail=detail)


async def _tool_named(ep: _Endpoint) -> ProbeRow:
    named = {"type": "function", "function": {"name": "get_time"}}
    tools = [_strict(_WEATHER), _strict(_TIME)]
    message = await ep.chat(_ASK_WEATHER, tools=tools, tool_choice=named, max_tokens=64)
    calls = _calls(message)
    if not calls:
        return ProbeRow(feature="tool_named", works=False, detail="no tool call although one was named")
    ok = _valid(calls[0], "get_time", "timezone")
    return ProbeRow(feature="tool_named", works=ok, detail=f"called {calls[0][0]} (get_time was named)")


async def _parallel(ep: _Endpoint) -> ProbeRow:
    message = await ep.chat(
        _ASK_TWO, tools=[_strict(_WEATHER)], tool_choice="required", parallel_tool_calls=True, max_tokens=128
    )
    n = len(_calls(message))
    return ProbeRow(feature="parallel_tool_calls", works=n >= 2, detail=f"{n} tool call(s) in one answer")


async def _json_schema(ep: _Endpoint) -> ProbeRow:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": _ENUM}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "probe", "schema": schema, "strict": True}}
    text = _said(await ep.chat("Say hello.", response_format=fmt, max_tokens=32))
    try:
        ok = json.loads(text).get("answer") in _ENUM
    except (ValueError, AttributeError):
        ok = False
    detail = "answer valid under the schema" if ok else f"answer off the schema: {_short(text)}"
    return ProbeRow(feature="json_schema", works=ok, detail=detail)


async def _choice(ep: _Endpoint) -> ProbeRow:
    text = _said(await ep.chat("Say hello.", structured_outputs={"choice": _CHOICES}, max_tokens=16))
    ok = text in _CHOICES
    detail = f"answered {text!r}, one of the choices" if ok else f"answer not a choice: {_short(text)}"
    return ProbeRow(feature="choice", works=ok, detail=detail)


async def _stream_usage(ep: _Endpoint) -> ProbeRow:
    usage = await ep.stream_usage()
    if not usage or not usage.get("completion_tokens"):
        return ProbeRow(feature="stream_usage", works=False, detail="the stream reported no usage")
    done = f"{usage.get('prompt_tokens')} prompt + {usage.get('completion_tokens')} completion tokens"
    return ProbeRow(feature="stream_usage", works=True, detail=done)


_STATIONS = [f"station-{i:02d}" for i in range(40)]


async def _template_tools(ep: _Endpoint) -> ProbeRow:
    """A required call whose `tools` hold a 40-value list and whose `chat_template_kwargs.tools` do not:
    the answer must be one of the values (the grammar came from `tools`) and the prompt shorter than the
    same request's without the kwargs (the template rendered the short form)."""
    parameters = {**_WEATHER["function"]["parameters"], "properties": {"city": {"enum": _STATIONS}}}
    listed = _strict({**_WEATHER, "function": {**_WEATHER["function"], "parameters": parameters}})
    fields: dict[str, Any] = {"tools": [listed], "tool_choice": "required", "max_tokens": 64}
    short = {"chat_template_kwargs": {"tools": [_strict(_WEATHER)]}}
    held = await ep.chat_with_usage(_ASK_WEATHER, **fields, **short)
    calls = _calls(held[0])
    if not calls or not isinstance(calls[0][1], dict) or calls[0][1].get("city") not in _STATIONS:
        return ProbeRow(feature="template_tools", works=False, detail="no call under the tools' list")
    whole = await ep.chat_with_usage(_ASK_WEATHER, **fields)
    if held[1] is None or whole[1] is None:
        return ProbeRow(feature="template_tools", works=False, detail="no prompt_tokens in the usage")
    ok = held[1] < whole[1]
    said = f"prompt {held[1]} tokens with the short form, {whole[1]} with the list"
    return ProbeRow(feature="template_tools", works=ok, detail=said + ("" if ok else ": kwargs ignored"))


_FEATURES: tuple[tuple[str, Callable[[_Endpoint], Awaitable[ProbeRow]]], ...] = (
    ("tool_calls", _tool_auto),
    ("tool_required", _tool_required),
    ("tool_named", _tool_named),
    ("parallel_tool_calls", _parallel),
    ("json_schema", _json_schema),
    ("choice", _choice),
    ("stream_usage", _stream_usage),
    ("template_tools", _template_tools),
)


async def _models(ep: _Endpoint) -> int | None:
    """Fill in the model id from `GET /models` when the profile names none; the context length it lists."""
    response = await ep.send("GET", "/models")
    if not response.is_success:
        if ep.model is None:
            raise ep.refused(response)
        return None
    try:
        data = response.json()["data"]
        listed = [m for m in data if isinstance(m, dict) and m.get("id")]
    except (ValueError, LookupError, TypeError):
        listed = []
    if ep.model is None:
        if not listed:
            raise _Failed("GET /models listed no model: give one with --model or the profile's `model:`")
        ep.model = str(listed[0]["id"])
    entry = next((m for m in listed if m["id"] == ep.model), None)
    length = entry.get("max_model_len") if entry else None
    return length if isinstance(length, int) and length > 0 else None


async def _first(ep: _Endpoint) -> tuple[int | None, dict[str, Any]]:
    """The context length `GET /models` lists, and a plain answer (the endpoint works at all)."""
    return await _models(ep), await ep.chat("Say hello.", max_tokens=16)


async def probe_endpoint(
    spec: OpenAIModel, *, request_timeout_s: float = 30.0, total_s: float = 120.0
) -> ProbeReport:
    """Measure what `spec`'s endpoint can do; never raises for the endpoint's own failures."""
    started = time.monotonic()
    where = safe_url(normalize_base_url(spec.base_url))
    check_endpoint(spec.base_url)
    rows: list[ProbeRow] = []
    async with async_client(timeout=request_timeout_s) as client:
        ep = _Endpoint(spec, client, request_timeout_s)
        try:
            context_length, first = await asyncio.wait_for(_first(ep), total_s)
        except (_Failed, asyncio.TimeoutError) as e:
            why = str(e) if isinstance(e, _Failed) else f"no answer within the probe's {total_s:g} s"
            problem = (
                f"{where} cannot be probed: {why}. Check that the server runs, that the base URL ends where "
                "/chat/completions and /models live (usually .../v1), and the API key."
            )
            return ProbeReport(base_url=where, model=ep.model, problem=problem, seconds=_since(started))
        reasoning = any(
            isinstance(first.get(k), str) and first[k] for k in ("reasoning", "reasoning_content")
        )
        for name, measure in _FEATURES:
            left = total_s - (time.monotonic() - started)
            if left <= 0:
                rows.append(
                    ProbeRow(feature=name, works=None, detail="not measured: the probe's time ran out")
                )
                continue
            try:
                rows.append(await asyncio.wait_for(measure(ep), left))
            except _Failed as e:
                rows.append(ProbeRow(feature=name, works=False, detail=f"refused: {e}"))
            except asyncio.TimeoutError:
                rows.append(
                    ProbeRow(feature=name, works=None, detail="not measured: the probe's time ran out")
                )
    seen = "reasoning text in the answer" if reasoning else "no reasoning text in a plain answer"
    rows.append(ProbeRow(feature="reasoning", works=reasoning, detail=seen))
    length = f"{context_length} tokens (GET /models)" if context_length else "not listed by GET /models"
    rows.append(ProbeRow(feature="context_length", works=context_length is not None, detail=length))
    caps = Capabilities(**{r.feature: r.works for r in rows if r.feature in Capabilities.model_fields})
    return ProbeReport(
        base_url=where,
        model=ep.model,
        rows=tuple(rows),
        capabilities=caps,
        context_length=context_length,
        seconds=_since(started),
    )


def _since(started: float) -> float:
    return round(time.monotonic() - started, 2)
