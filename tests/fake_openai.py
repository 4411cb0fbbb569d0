"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

It is a real HTTP server (starlette + uvicorn in a background thread), so clients under test go through
their whole stack: the openai SDK, its retries, headers and SSE parsing.

    with FakeOpenAI() as srv:
        srv.script([Reply(text="hi"), Reply(tool_calls=[("get_current_time", {"timezone": "Asia/Seoul"})])])
        ...  # point a client at srv.base_url
        assert srv.chat_requests[0].headers["authorization"] == "Bearer k"

Replies come from `srv.responder(request_json)` when it returns one, else from the scripted queue, else from
`srv.default`; with none left the server answers HTTP 400 (never retried) saying so. Any path prefix works
(`/api/gateway/rep/serving/43/v1/chat/completions` as well as `/v1/chat/completions`). Every answer carries
`retry-after-ms: 1` unless the reply sets a Retry-After header itself, so the openai SDK's retry pauses
take a millisecond.

Faults, for the client's error handling: `raw` with a `content_type` (an HTML page, an empty or invalid
JSON body, `{"choices": []}`, garbage sent as `text/event-stream`); `chunks` holding strings (sent as
`data:` payloads verbatim, e.g. invalid JSON), `done=False` (no `[DONE]`), `cut=True` (the connection
drops after the chunks, mid-body); `srv.redirects` (a path prefix to another base URL, on any origin:
answered with `srv.redirect_status`, 307 by default).

As a process (for CLI tests): `python tests/fake_openai.py --port 0 --script FILE.json [--log FILE.jsonl]`
prints `READY <base_url>` once it listens, appends every request to the log as JSON lines, and runs until
terminated. The script file holds a list of replies, or {"replies": [...], "by_system": {...},
"default": reply, "models": [...]}; a reply is a string or an object with Reply's fields.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FakeOpenAI", "Recorded", "Reply", "by_system"]

ToolCallSpec = tuple[str, Any] | Mapping[str, Any]
Responder = Callable[[dict[str, Any]], "Reply | str | None"]

_CREATED = 1_700_000_000


@dataclass(frozen=True)
class Reply:
    """One scripted answer to a chat-completions request.

    `tool_calls` items are `(name, arguments)` pairs or `{"name", "arguments", "id"}` mappings; arguments
    may be a dict (sent as JSON) or a string (sent as is, e.g. malformed JSON). `status` >= 400 answers
    with an error body carrying `error`. `raw` is sent verbatim instead of a normal body (dict as JSON,
    str as text/plain), to imitate odd servers.
    """

    text: str | None = None
    tool_calls: tuple[ToolCallSpec, ...] = ()
    reasoning: str | None = None
    reasoning_field: str = (
        "reasoning"  # vLLM >= 0.10 sends "reasoning"; DeepSeek/older ones "reasoning_content"
    )
    blocked: bool = False  # GenStudio moderation: `"blocked": true` and no more output
    status: int = 200
    error: str | None = None
    usage: tuple[int, int] | None = None  # (prompt, completion); counted from words when left out
    finish_reason: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    model: str | None = None
    raw: Any = None
    delay_s: float = 0.0  # wait before answering (ends early when the client hangs up), to cause timeouts
    chunks: tuple[Mapping[str, Any] | str, ...] | None = None  # a stream sent verbatim (then [DONE])
    content_type: str | None = None  # of a `raw` answer; default text/plain for str, JSON for dict
    done: bool = True  # end a stream with `data: [DONE]`
    cut: bool = False  # drop the connection mid-body after the stream's chunks
    stall_after: int | None = None  # a streamed answer stops after this many chunks (keep-alives only) until
    # the client hangs up, to cut a run mid-stream

    def __post_init__(self) -> None:
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))
        object.__setattr__(self, "headers", dict(self.headers))
        if self.chunks is not None:
            object.__setattr__(self, "chunks", tuple(self.chunks))

    @classmethod
    def of(cls, value: Reply | str | Mapping[str, Any]) -> Reply:
        """A Reply from a Reply, a plain text, or a JSON-style mapping of its fields."""
        if isinstance(value, Reply):
            return value
        if isinstance(value, str):
            return cls(text=value)
        data = dict(value)
        if "tool_calls" in data:
            data["tool_calls"] = tuple(tuple(c) if isinstance(c, list) else c for c in data["tool_calls"])
        if isinstance(data.get("usage"), list):
            data["usage"] = tuple(data["usage"])
        return cls(**data)


@dataclass(frozen=True)
class Recorded:
    """A request the server received; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    query: str = ""
    at: float = 0.0  # time.monotonic() when it arrived

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "headers": self.headers, "json": self.json}

    @property
    def system(self) -> str:
        """The text of the request's system messages, joined."""
        return _system_text(self.json)


def by_system(mapping: Mapping[str, Sequence[Reply | str | Mapping[str, Any]]]) -> Responder:
    """A responder keeping one queue per key; a request takes from the first key found in its system text.

    Agents are told apart this way: AutoGen sends each agent's own system message with its requests.
    Returns None (fall through to the main queue) when no key matches or that key's queue is empty.
    """
    queues = {k: deque(Reply.of(r) for r in v) for k, v in mapping.items()}
    lock = threading.Lock()

    def respond(body: dict[str, Any]) -> Reply | None:
        system = _system_text(body)
        with lock:
            for key, q in queues.items():
                if key in system:
                    return q.popleft() if q else None
        return None

    return respond


def _system_text(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    parts = []
    for m in body.get("messages") or []:
        if isinstance(m, dict) and m.get("role") in ("system", "developer"):
            c = m.get("content")
            parts.append(c if isinstance(c, str) else json.dumps(c))
    return "\n".join(parts)


class FakeOpenAI:
    """The server; use as a context manager (or call start/stop). Thread-safe for the test's reads."""

    def __init__(
        self,
        replies: Iterable[Reply | str | Mapping[str, Any]] = (),
        *,
        responder: Responder | None = None,
        default: Reply | str | None = None,
        models: Sequence[str] = ("fake-model",),
        port: int = 0,
        log_path: Path | None = None,
    ) -> None:
        self._queue: deque[Reply] = deque(Reply.of(r) for r in replies)
        self.responder = responder
        self.default = Reply.of(default) if default is not None else None
        self.models: list[str] = list(models)
        self.models_reply: Reply | None = None  # overrides GET /models (e.g. Reply(raw="<html>"))
        self.redirects: dict[str, str] = {}  # path prefix -> base URL it is redirected to
        self.redirect_status = 307
        self.requests: list[Recorded] = []
        self._log_path = log_path
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    # ------------------------------------------------------------------ script and records

    def script(self, replies: Iterable[Reply | str | Mapping[str, Any]]) -> None:
        """Replace the queue of replies."""
        with self._lock:
            self._queue = deque(Reply.of(r) for r in replies)

    def add(self, *replies: Reply | str | Mapping[str, Any]) -> None:
        with self._lock:
            self._queue.extend(Reply.of(r) for r in replies)

    def reset(self) -> None:
        """Forget the script, responder, default, model settings and records (for a shared server)."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
        self.responder = None
        self.default = None
        self.models = ["fake-model"]
        self.models_reply = None
        self.redirects = {}
        self.redirect_status = 307

    @property
    def remaining(self) -> int:
        return len(self._queue)

    @property
    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        if self._sock is None:
            raise RuntimeError("the server is not started")
        return self._sock.getsockname()[1]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def url(self, path: str) -> str:
        return f"{self.origin}/{path.lstrip('/')}"

    # ------------------------------------------------------------------ lifecycle

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        sock.listen(64)
        sock.set_inheritable(True)
        self._sock = sock
        return sock

    def _make_server(self) -> Any:
        import uvicorn

        config = uvicorn.Config(
            self._app(), log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
        logging.getLogger("uvicorn.error").addFilter(_not_a_cut)  # a cut on purpose is no server error
        self._server = uvicorn.Server(config)
        return self._server

    def start(self) -> FakeOpenAI:
        sock = self._bind()
        server = self._make_server()
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Run in this thread until terminated (the process mode)."""
        sock = self._bind()
        server = self._make_server()
        print(f"READY {self.base_url}", flush=True)
        server.run(sockets=[sock])

    # ------------------------------------------------------------------ HTTP

    def _app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.routing import Route

        return Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST"])])

    async def _handle(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        rec = Recorded(
            method=request.method,
            path=request.url.path,
            headers={k.lower(): v for k, v in request.headers.items()},
            json=body,
            query=request.url.query,
            at=time.monotonic(),
        )
        with self._lock:
            self.requests.append(rec)
            if self._log_path is not None:
                with self._log_path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(rec.to_dict()) + "\n")
        for prefix, target in self.redirects.items():
            if request.url.path.startswith(prefix):
                from starlette.responses import RedirectResponse

                query = f"?{request.url.query}" if request.url.query else ""
                location = target + request.url.path[len(prefix) :] + query
                return RedirectResponse(location, status_code=self.redirect_status)
        path = request.url.path.rstrip("/")
        if request.method == "GET" and path.endswith("/models"):
            return self._models()
        if request.method == "POST" and path.endswith("/chat/completions"):
            if not isinstance(body, dict):
                return _error(400, "fake_openai: the body is not a JSON object")
            reply = self._next_reply(body)
            if reply is not None and reply.delay_s > 0:
                deadline = time.monotonic() + reply.delay_s
                while time.monotonic() < deadline and not await request.is_disconnected():
                    await asyncio.sleep(0.01)
            return self._chat(body, reply)
        return JSONResponse({"error": {"message": f"no route for {request.method} {path}"}}, status_code=404)

    def _models(self) -> Any:
        from starlette.responses import JSONResponse

        if self.models_reply is not None:
            return _plain(self.models_reply)
        data = [{"id": m, "object": "model", "created": _CREATED, "owned_by": "fake"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    def _next_reply(self, body: dict[str, Any]) -> Reply | None:
        if self.responder is not None:
            r = self.responder(body)
            if r is not None:
                return Reply.of(r)
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return self.default

    def _chat(self, body: dict[str, Any], reply: Reply | None) -> Any:
        if reply is None:
            n = len(self.chat_requests)
            return _error(400, f"fake_openai: no scripted reply left (chat request #{n})")
        if reply.status >= 400:
            return _error(reply.status, reply.error or f"fake error {reply.status}", reply.headers)
        if reply.raw is not None:
            return _plain(reply)
        if reply.chunks is not None:
            chunks = iter([c if isinstance(c, str) else dict(c) for c in reply.chunks])
            return _sse(chunks, reply.headers, done=reply.done, cut=reply.cut)
        n = next(self._ids)
        model = reply.model or body.get("model") or "fake-model"
        usage = _usage(body, reply)
        calls = [_tool_call(c, f"call_{n}_{i}") for i, c in enumerate(reply.tool_calls)]
        finish = reply.finish_reason or ("tool_calls" if calls else "stop")
        if body.get("stream"):
            opts = body.get("stream_options") or {}
            chunks = _stream_chunks(
                n, model, reply, calls, finish, usage if opts.get("include_usage") else None
            )
            return _sse(chunks, reply.headers, stall_after=reply.stall_after)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.text if reply.text is not None else None,
        }
        if not calls and message["content"] is None:
            message["content"] = ""
        if calls:
            message["tool_calls"] = calls
        if reply.reasoning is not None:
            message[reply.reasoning_field] = reply.reasoning
        out: dict[str, Any] = {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": _CREATED,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": usage,
        }
        if reply.blocked:
            out["blocked"] = True
        from starlette.responses import JSONResponse

        return JSONResponse(out, headers=_quick_retry(reply.headers))


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int]:
    if reply.usage is not None:
        p, c = reply.usage
    else:
        words = sum(
            len(str(m.get("content") or "").split())
            for m in body.get("messages") or []
            if isinstance(m, dict)
        )
        p = words + 1
        c = len((reply.text or "").split()) + len((reply.reasoning or "").split()) + 8 * len(reply.tool_calls)
        c = max(c, 1)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _tool_call(spec: ToolCallSpec, default_id: str) -> dict[str, Any]:
    if isinstance(spec, Mapping):
        name, args, call_id = spec["name"], spec.get("arguments", {}), spec.get("id", default_id)
    else:
        name, args = spec
        call_id = default_id
    arguments = args if isinstance(args, str) else json.dumps(args)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _pieces(text: str) -> list[str]:
    """Split text into word-sized deltas that join back exactly."""
    out, cur = [], ""
    for ch in text:
        cur += ch
        if ch == " ":
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


def _stream_chunks(
    n: int,
    model: str,
    reply: Reply,
    calls: list[dict[str, Any]],
    finish: str,
    usage: dict[str, int] | None,
) -> Iterator[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": model,
            "choices": [choice],
            **extra,
        }

    yield chunk({"role": "assistant", "content": ""})
    for piece in _pieces(reply.reasoning or ""):
        yield chunk({reply.reasoning_field: piece})
    text = _pieces(reply.text or "")
    for i, piece in enumerate(text):
        if reply.blocked and i == max(len(text) // 2, 1):
            break
        yield chunk({"content": piece})
    if reply.blocked:
        yield chunk({}, None, blocked=True)
        return  # GenStudio: no more output after a block
    for i, call in enumerate(calls):
        fn = call["function"]
        head = {
            "index": i,
            "id": call["id"],
            "type": "function",
            "function": {"name": fn["name"], "arguments": ""},
        }
        yield chunk({"tool_calls": [head]})
        args = fn["arguments"]
        half = len(args) // 2
        for part in (args[:half], args[half:]):
            if part:
                yield chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
    yield chunk({}, finish)
    if usage is not None:
        last = chunk({})
        last["choices"] = []
        last["usage"] = usage
        yield last


class _Cut(Exception):
    """Raised inside a streamed body to drop the connection mid-body (Reply.cut)."""


def _not_a_cut(record: logging.LogRecord) -> bool:
    exc = record.exc_info[1] if record.exc_info else None
    while exc is not None:
        if isinstance(exc, _Cut):
            return False
        group = getattr(exc, "exceptions", None)
        exc = group[0] if group else exc.__cause__ or exc.__context__
    return True


def _sse(
    chunks: Iterator[dict[str, Any] | str],
    headers: Mapping[str, str],
    *,
    done: bool = True,
    cut: bool = False,
    stall_after: int | None = None,
) -> Any:
    from starlette.responses import StreamingResponse

    def body() -> Iterator[bytes]:
        ended = False
        for i, c in enumerate(chunks):
            while stall_after is not None and i >= stall_after:  # ends when a write finds the client gone
                time.sleep(0.05)
                yield b": stalled\n\n"  # an SSE comment, which clients skip
            data = c if isinstance(c, str) else json.dumps(c, ensure_ascii=False)
            yield f"data: {data}\n\n".encode()
            ended = isinstance(c, dict) and bool(c.get("blocked"))
        if cut:
            raise _Cut
        if done and not ended:
            yield b"data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream", headers=_quick_retry(headers))


def _quick_retry(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers, plus retry-after-ms: 1 (the openai SDK's retry pause) unless they set a Retry-After."""
    h = dict(headers or {})
    if not any(k.lower().startswith("retry-after") for k in h):
        h["retry-after-ms"] = "1"
    return h


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Any:
    from starlette.responses import JSONResponse

    kind = "server_error" if status >= 500 else "invalid_request_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": status}},
        status_code=status,
        headers=_quick_retry(headers),
    )


def _plain(reply: Reply) -> Any:
    from starlette.responses import JSONResponse, Response

    headers = _quick_retry(reply.headers)
    if isinstance(reply.raw, str):
        media = reply.content_type or "text/plain"
        return Response(reply.raw, status_code=reply.status, media_type=media, headers=headers)
    if reply.content_type:
        body = json.dumps(reply.raw)
        return Response(body, status_code=reply.status, media_type=reply.content_type, headers=headers)
    return JSONResponse(reply.raw, status_code=reply.status, headers=headers)


# ---------------------------------------------------------------------- process mode


def load_script(path: Path) -> dict[str, Any]:
    """Read a script file into FakeOpenAI keyword arguments."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        data = {"replies": data}
    kwargs: dict[str, Any] = {"replies": [Reply.of(r) for r in data.get("replies", [])]}
    if data.get("by_system"):
        kwargs["responder"] = by_system(data["by_system"])
    if data.get("default") is not None:
        kwargs["default"] = Reply.of(data["default"])
    if data.get("models") is not None:
        kwargs["models"] = list(data["models"])
    return kwargs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (see the READY line)")
    parser.add_argument("--script", type=Path, help="JSON file of replies")
    parser.add_argument("--log", type=Path, help="append every request to this JSON-lines file")
    args = parser.parse_args(argv)
    kwargs = load_script(args.script) if args.script else {}
    srv = FakeOpenAI(**kwargs, port=args.port, log_path=args.log)
    with contextlib.suppress(KeyboardInterrupt):
        srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
