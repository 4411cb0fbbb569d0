"""The OpenAI-compatible API: every served scenario is a model; a chat completion runs its team.

- `GET /v1/models`: one model per scenario, `id` = the scenario's name.
- `POST /v1/chat/completions` with `model` = a scenario name: the last user message is the task, earlier
  messages are given to the team as context. The answer is the team's final message, `usage` summed over
  every agent's calls. Streamed (`stream: true`), each agent message goes out as it is produced: its text
  in `delta.content` under a `**agent**:` line for plain clients, and in the extension field `troupe`
  (`{"run_id", "event", "agent", ...}`) for programs; then a last chunk with the finish reason, the
  final message and usage, a usage-only chunk when `stream_options.include_usage` is set, and `[DONE]`.
- Errors come in OpenAI's shape: 400 bad request, 404 unknown scenario, 503 when `--max-runs` runs are
  going (with `Retry-After`), 500 with one paragraph when the run fails. A client that disconnects stops
  its run.

Sampling fields (`temperature`, `max_tokens`...) are accepted and ignored: the scenario's agents have
their own models and settings.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._redact import redact_text
from ..errors import ScenarioError
from ..runtime._transcript import RunResult
from ._http import BadRequest, error, read_json, wait_or_disconnect
from ._runs import ServedRun, usage_json

__all__ = ["chat_completions", "list_models", "task_from_messages"]

_TOOL_RESULT_CHARS = 300


async def list_models(request: Request) -> JSONResponse:
    server = request.app.state.troupe
    data = []
    for offered in server.catalog:
        created = int(offered.path.stat().st_mtime) if offered.path.exists() else 0
        data.append(
            {
                "id": offered.name,
                "object": "model",
                "created": created,
                "owned_by": "autogen-troupe",
                "troupe": offered.summary(),
            }
        )
    return JSONResponse({"object": "list", "data": data})


def _text_of(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for i, part in enumerate(content):
            if (
                not isinstance(part, dict)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise BadRequest(400, f"{where}.content[{i}]: only text parts are taken", param=where)
            parts.append(part["text"])
        return "\n".join(parts)
    raise BadRequest(400, f"{where}.content must be a string or a list of text parts", param=where)


def task_from_messages(messages: Any) -> str:
    """The task for the team: the last user message, with the messages before it as context."""
    if not isinstance(messages, list) or not messages:
        raise BadRequest(400, "`messages` must be a non-empty list", param="messages")
    lines: list[tuple[str, str]] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise BadRequest(400, f"messages[{i}] must be an object with a `role`", param=f"messages[{i}]")
        lines.append((m["role"], _text_of(m.get("content"), f"messages[{i}]")))
    last = max((i for i, (role, _) in enumerate(lines) if role == "user"), default=None)
    if last is None or not lines[last][1].strip():
        raise BadRequest(
            400, "no user message with text: the last user message is the team's task", param="messages"
        )
    before = [f"{role}: {text}" for role, text in lines[:last] if text.strip()]
    task = lines[last][1]
    if not before:
        return task
    return "Earlier in this conversation:\n" + "\n".join(before) + "\n\nNow: " + task


def _request_fields(body: dict[str, Any]) -> tuple[str, bool, bool]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest(
            400, "`model` must be the name of a served scenario (see GET /v1/models)", param="model"
        )
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest(400, "`stream` must be true or false", param="stream")
    n = body.get("n", 1)
    if n not in (1, None):
        raise BadRequest(400, "`n` must be 1: a team gives one answer", param="n")
    opts = body.get("stream_options") or {}
    usage_chunk = bool(isinstance(opts, dict) and opts.get("include_usage"))
    return model, stream, usage_chunk


async def chat_completions(request: Request) -> Response:
    server = request.app.state.troupe
    body = await read_json(request)
    model, stream, usage_chunk = _request_fields(body)
    task = task_from_messages(body.get("messages"))
    if model not in server.catalog:
        known = ", ".join(server.catalog.names()) or "none"
        raise BadRequest(
            404,
            f"no scenario named {model!r} is served (served: {known})",
            code="model_not_found",
            param="model",
        )
    if server.runs.full:
        return server.busy()
    try:
        run = server.runs.start(model, task, origin="openai")
    except ScenarioError as e:
        return error(500, f"the scenario {model!r} cannot run: {e}", code="scenario_error")
    headers = {"x-troupe-run-id": run.id}
    if stream:
        return EventSourceResponse(
            _stream(run, usage_chunk), sep="\n", ping=15, headers=headers, send_timeout=60
        )
    if not await wait_or_disconnect(request, run.wait()):
        run.cancel()  # the client went away: nobody will read the answer
        return Response(status_code=499)
    if run.status != "done" or run.result is None:
        return error(500, run.error or f"the run {run.status}", code="run_failed", headers=headers)
    return JSONResponse(_completion(run, run.result), headers=headers)


def _completion(run: ServedRun, result: RunResult) -> dict[str, Any]:
    messages = [
        {"agent": m.source, "content": redact_text(m.content)} for m in result.messages if m.source != "user"
    ]
    return {
        "id": f"chatcmpl-{run.id}",
        "object": "chat.completion",
        "created": int(run.started_at),
        "model": run.scenario,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": redact_text(result.final_message)},
                "finish_reason": _finish(run),
                "logprobs": None,
            }
        ],
        "usage": usage_json(result.usage),
        "troupe": {**_ending(run), "messages": messages},
    }


def _finish(run: ServedRun) -> str:
    """`stop` when the team stopped on its rule, `length` when a cap (limits) stopped it."""
    return "length" if run.result is not None and run.result.stopped_by == "limit" else "stop"


def _ending(run: ServedRun) -> dict[str, Any]:
    s = run.summary()
    keys = ("stop_reason", "stopped_by", "final_message", "transcript", "status")
    return {"run_id": run.id, "event": "done", **{k: s.get(k) for k in keys}}


class _Chunks:
    """Builds the chunks of one streamed completion, keeping track of who is speaking."""

    def __init__(self, run: ServedRun) -> None:
        self.run = run
        self.speaker: str | None = None  # whose streamed text is going out
        self.started = False

    def chunk(self, delta: dict[str, Any], troupe: dict[str, Any], finish: str | None = None) -> str:
        data = {
            "id": f"chatcmpl-{self.run.id}",
            "object": "chat.completion.chunk",
            "created": int(self.run.started_at),
            "model": self.run.scenario,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            "troupe": {"run_id": self.run.id, **troupe},
        }
        return json.dumps(data, ensure_ascii=False)

    def said(self, agent: str, text: str, troupe: dict[str, Any], *, new: bool = True) -> str:
        """Text from `agent`, under a `**agent**:` line when a new message starts."""
        head = ""
        if new:
            head = ("\n\n" if self.started else "") + f"**{agent}**: "
        self.started = True
        return self.chunk({"content": head + text}, {"agent": agent, **troupe})

    def of(self, record: dict[str, Any]) -> str | None:
        """The chunk for one run event (None: nothing to send)."""
        event, data = record["event"], record["data"]
        if event == "chunk":
            new = self.speaker != data["source"]
            self.speaker = data["source"]
            return self.said(data["source"], data["content"], {"event": "chunk"}, new=new)
        if event == "input":
            text = (
                f"(waiting for your answer: POST /api/runs/{self.run.id}/input within "
                f"{data['timeout_s']:g} s, else it answers {data['default_answer']!r})"
            )
            return self.said(data["agent"], text, {"event": "input", "input": data})
        if event != "entry":
            return None
        return self._entry(data)

    def _entry(self, e: dict[str, Any]) -> str | None:
        source, kind = e["source"], e["kind"]
        meta = {"event": kind, "elapsed_s": e.get("elapsed_s"), "usage": e.get("usage")}
        streamed = self.speaker == source and kind == "text"
        self.speaker = None
        if kind == "text" and source == "user" and not self.started and e["content"] == self.run.task:
            return None  # the task itself: the client sent it
        if streamed:  # its text went out chunk by chunk: only its details now
            return self.chunk({}, {"agent": source, **meta})
        if kind in ("text", "handoff"):
            target = f" → {e['target']}" if kind == "handoff" else ""
            return self.said(source, f"{target}{e['content']}".lstrip(" "), meta)
        if kind == "tool_call":
            calls = "; ".join(f"→ {c['name']}({c['arguments']})" for c in e["calls"])
            return self.said(source, calls, {**meta, "calls": e["calls"]})
        if kind == "tool_result":
            shown = "; ".join(f"← {r['name']}: {_clip(r['content'])}" for r in e["results"])
            return self.said(source, shown, {**meta, "results": e["results"]})
        return self.chunk({}, {"agent": source, **meta, "type": e.get("type"), "content": e.get("content")})


def _clip(text: str) -> str:
    return text if len(text) <= _TOOL_RESULT_CHARS else text[:_TOOL_RESULT_CHARS] + "…"


async def _stream(run: ServedRun, usage_chunk: bool) -> AsyncIterator[dict[str, Any]]:
    """The SSE body; when the client disconnects this generator is cancelled, and so is the run."""
    chunks = _Chunks(run)
    try:
        yield {"data": chunks.chunk({"role": "assistant", "content": ""}, {"event": "start"})}
        async for record in run.watch():
            if record["event"] == "done":
                break
            out = chunks.of(record)
            if out is not None:
                yield {"data": out}
        if run.status != "done" or run.result is None:
            body = json.loads(bytes(error(500, run.error or f"the run {run.status}", code="run_failed").body))
            yield {"data": json.dumps(body)}
            return
        last = json.loads(chunks.chunk({}, _ending(run), finish=_finish(run)))
        last["usage"] = usage_json(run.result.usage)
        yield {"data": json.dumps(last, ensure_ascii=False)}
        if usage_chunk:
            tail = json.loads(chunks.chunk({}, {"event": "usage"}))
            tail["choices"], tail["usage"] = [], usage_json(run.result.usage)
            yield {"data": json.dumps(tail)}
        yield {"data": "[DONE]"}
    finally:
        run.cancel()  # a no-op once it ended; a disconnect mid-run stops it
