"""The wire between the openai SDK and an OpenAI-compatible server: an httpx transport that fixes dialects
and turns a 200 answer that is no answer into an error the SDK retries or raises.

- vLLM's `reasoning` is copied to the `reasoning_content` AutoGen 0.7.5 reads (and, beside tool calls,
  into `content`, the only text AutoGen keeps there);
- GenStudio's `"blocked": true` becomes an error that `translate_error` raises as `ContentBlocked`, and its
  last chunk (finish reason and usage together) is sent as OpenAI sends it;
- an HTML page, an empty or cut body, no choices, a stream that stops before its finish reason (see
  `_answers`) become faults: retried while nothing of the answer has been passed on, then raised;
- every request goes through `_http`'s clients (redirects only within one origin, a ceiling on
  `Retry-After`) and the network guard, a redirect's too;
- with telemetry on, every request carries the W3C trace context of the `chat` span it belongs to
  (`traceparent`), so a server that traces (vLLM's `--otlp-traces-endpoint`) joins our trace, and the
  answer's model, id and finish reasons go on that span.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import httpx2

from ...telemetry import note_response, trace_headers
from .._http import async_client
from .._network import check_endpoint
from ._answers import Fault, StreamCheck, completion_fault, parse_body, sample

__all__ = ["BLOCKED_CODE", "BLOCKED_MESSAGE", "DEFAULT_TIMEOUT_S", "PLACEHOLDER_API_KEY", "http_client"]

PLACEHOLDER_API_KEY = "EMPTY"  # sent when the endpoint needs no key; the SDK refuses to run without one
BLOCKED_CODE = "content_blocked"
BLOCKED_MESSAGE = (
    'the endpoint\'s content moderation blocked the request or its answer ("blocked": true); '
    "rephrase the task or use another model"
)
DEFAULT_TIMEOUT_S = 600.0  # the openai SDK's own default


def _normalise(obj: Any) -> tuple[bool, bool]:
    """Fix one chat-completions body or chunk in place; returns (changed, blocked)."""
    if not isinstance(obj, dict):
        return False, False
    changed = False
    raw_choices = obj.get("choices")
    choices: list[Any] = raw_choices if isinstance(raw_choices, list) else []
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
    return {"error": {"message": BLOCKED_MESSAGE, "type": BLOCKED_CODE, "code": BLOCKED_CODE}}


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


class _CheckedSSE(httpx2.AsyncByteStream):
    """The server's event stream, event by event: normalised (`_fix_chunk`), checked (`StreamCheck`), and
    held back until its first chunk worth showing, so that a fault before it can still be asked again.

    A fault found later ends the stream with an error event, which the openai SDK raises as an APIError
    that `translate_error` turns into a `ModelCallError`. A blocked chunk ends it with the blocked error.
    """

    def __init__(self, response: httpx2.Response) -> None:
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
        for chunk in held:
            yield chunk
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
        except httpx2.TimeoutException:
            raise  # the openai SDK retries it and reports a timeout
        except httpx2.HTTPError as e:
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
        _note(obj)
        if fixed is None:
            return event, None, False
        others = [x for x in lines if x.split(b":", 1)[0] != b"data"]
        return b"\n".join([*others, fixed]) + b"\n\n", None, False

    async def aclose(self) -> None:
        await self._items.aclose()
        await self._response.aclose()


def _note(obj: Any) -> None:
    """The answer's model, id and finish reasons, for the model call's span (if it is traced)."""
    if not isinstance(obj, dict):
        return
    found = obj.get("choices")
    choices = found if isinstance(found, list) else []
    reasons = [
        c["finish_reason"] for c in choices if isinstance(c, dict) and isinstance(c.get("finish_reason"), str)
    ]
    model, answer_id = obj.get("model"), obj.get("id")
    for reason in reasons or [None]:
        note_response(
            model=model if isinstance(model, str) else None,
            response_id=answer_id if isinstance(answer_id, str) else None,
            finish_reason=reason,
        )


def _headers_without_length(headers: httpx2.Headers) -> list[tuple[str, str]]:
    # The body is handed on decoded and possibly changed: its encoding and length no longer apply.
    return [
        (k, v) for k, v in headers.multi_items() if k.lower() not in ("content-encoding", "content-length")
    ]


def _fault_response(response: httpx2.Response, fault: Fault) -> httpx2.Response:
    """A fault in a 200 answer as an error answer the openai SDK understands: retried when the fault is
    transient (after the server's Retry-After, if it sent one), then raised as an APIStatusError."""
    headers = {k: v for k in _KEPT_HEADERS if (v := response.headers.get(k)) is not None}
    headers["x-should-retry"] = "true" if fault.retryable else "false"
    return httpx2.Response(
        502,  # "an invalid response from the upstream server"; translate_error reports the real status
        headers=headers,
        json={"error": fault.error_body(response.status_code)},
        extensions=response.extensions,
    )


_KEPT_HEADERS = ("retry-after", "retry-after-ms", "x-request-id")


def _asks_to_stream(request: httpx2.Request) -> bool:
    try:
        body = json.loads(request.content)
    except (ValueError, httpx2.RequestNotRead):
        return False
    return isinstance(body, dict) and body.get("stream") is True


class _WireTransport(httpx2.AsyncBaseTransport):
    """Normalises chat-completions answers from servers that speak a dialect of the OpenAI format, and
    turns a 200 answer that is no answer (see `_answers`) into a fault the openai SDK retries or raises."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        check_endpoint(str(request.url))  # every request, a redirect's too; create() checks only base_url
        request.headers.update(trace_headers())  # empty with telemetry off
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
            return httpx2.Response(
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
                return httpx2.Response(
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
        _note(obj)
        content = json.dumps(obj, ensure_ascii=False).encode() if changed else body
        return httpx2.Response(
            200,
            headers=_headers_without_length(response.headers),
            content=content,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def http_client(timeout_s: float | None) -> httpx2.AsyncClient:
    total = timeout_s or DEFAULT_TIMEOUT_S
    return async_client(
        transport=_WireTransport(httpx2.AsyncHTTPTransport()),
        timeout=httpx2.Timeout(total, connect=min(total, 5.0)),
        limits=httpx2.Limits(max_connections=100, max_keepalive_connections=20),
    )
