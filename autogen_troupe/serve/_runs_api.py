"""The runs API, for the page and for programs; errors in the same shape as the OpenAI-compatible API.

GET  /api/scenarios                 the served scenarios
GET  /api/scenarios/{name}          one, with its file's text (secrets masked)
POST /api/runs                      {"scenario", "task"?, "model"?: {"profile"?, "model"?}} → 201, the run
GET  /api/runs                      runs in memory (newest first), then past transcripts in --out
GET  /api/runs/{id}                 one run with its entries so far (or a past run, by file stem)
GET  /api/runs/{id}/events          SSE: `entry` (a transcript entry), `chunk` (streamed text),
                                    `input` / `input_closed` (a user agent's question, or with
                                    `kind: mcp` an MCP server's: `mcp` holds its message and form
                                    schema, or the URL it asks to open), `status`, `model` (what a
                                    model is doing before it answers: `phase`, `message`, `agent`;
                                    not replayed), `done` (the summary); `id:` is the sequence
                                    number, so a client resumes with Last-Event-ID (or ?after=N)
POST /api/runs/{id}/input           {"text", "question_id"?}: answer the waiting question; an MCP
                                    server's: {"action": accept|decline|cancel, "content"?: {...}}
POST /api/runs/{id}/cancel          stop the run (202)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import ScenarioError, UsageError
from ._http import BadRequest, error, offered_scenario, read_json
from ._past import list_past, read_past
from ._runs import ServedRun

__all__ = ["routes"]

_MAX_TASK_CHARS = 200_000
_MODEL_KEYS = ("profile", "model")


def _server(request: Request) -> Any:
    return request.app.state.troupe


async def scenarios(request: Request) -> JSONResponse:
    return JSONResponse({"scenarios": [o.summary() for o in _server(request).catalog]})


async def scenario(request: Request) -> JSONResponse:
    offered = offered_scenario(request)
    return JSONResponse({**offered.summary(), "source": offered.source()})


def _overrides(model: Any) -> Any:
    """Model overrides a client may give a run: a profile and a model id, never a base URL (the
    profile's key would be sent to it: set --base-url when starting the server)."""
    if model is None:
        return None
    if not isinstance(model, dict):
        raise BadRequest(400, "`model` must be an object with `profile` and/or `model`", param="model")
    if "base_url" in model:
        raise BadRequest(
            400,
            "`model.base_url` cannot be set over the API: the endpoint's key would be sent to it; start "
            "the server with --base-url instead",
            param="model.base_url",
        )
    unknown = sorted(set(model) - set(_MODEL_KEYS))
    if unknown or not all(isinstance(model.get(k), str | None) for k in _MODEL_KEYS):
        raise BadRequest(
            400, f"`model` takes `profile` and `model` (strings); got {sorted(model)}", param="model"
        )
    from ..models._endpoints import Overrides

    return Overrides(profile=model.get("profile"), model=model.get("model"))


async def start_run(request: Request) -> Response:
    server = _server(request)
    body = await read_json(request)
    name, task = body.get("scenario"), body.get("task")
    if not isinstance(name, str) or name not in server.catalog:
        known = ", ".join(server.catalog.names()) or "none"
        raise BadRequest(
            404, f"no scenario named {name!r} is served (served: {known})", code="scenario_not_found"
        )
    if task is not None and (not isinstance(task, str) or len(task) > _MAX_TASK_CHARS):
        raise BadRequest(
            400, f"`task` must be a string of at most {_MAX_TASK_CHARS} characters", param="task"
        )
    overrides = _overrides(body.get("model"))
    if server.runs.full:
        return server.busy()
    try:
        run = server.runs.start(name, task, origin="api", overrides=overrides)
    except ScenarioError as e:
        return error(400, f"the scenario {name!r} cannot run: {e}", code="scenario_error")
    return JSONResponse(run.summary(), status_code=201, headers={"location": f"/api/runs/{run.id}"})


async def list_runs(request: Request) -> JSONResponse:
    server = _server(request)
    live = [r.summary() for r in reversed(server.runs.runs.values())]
    past = list_past(server.config.out_dir, skip_run_ids=set(server.runs.runs))
    return JSONResponse({"runs": live + past})


def _live(request: Request) -> ServedRun:
    run = _server(request).runs.get(request.path_params["run_id"])
    if run is None:
        raise BadRequest(
            404, f"no run {request.path_params['run_id']!r} is going or kept", code="run_not_found"
        )
    return run


async def get_run(request: Request) -> JSONResponse:
    server = _server(request)
    run_id = request.path_params["run_id"]
    run = server.runs.get(run_id)
    if run is not None:
        return JSONResponse(run.detail())
    past = read_past(server.config.out_dir, run_id)
    if past is None:
        raise BadRequest(404, f"no run {run_id!r}, going or in {server.config.out_dir}", code="run_not_found")
    return JSONResponse(past)


def _after(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "-1"
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(400, f"Last-Event-ID / after must be a number, not {raw[:20]!r}") from None


async def events(request: Request) -> Response:
    server = _server(request)
    run_id = request.path_params["run_id"]
    after = _after(request)
    run = server.runs.get(run_id)
    if run is not None:
        return EventSourceResponse(_live_events(run, after), ping=15, send_timeout=60)
    past = read_past(server.config.out_dir, run_id)
    if past is None:
        raise BadRequest(404, f"no run {run_id!r}, going or in {server.config.out_dir}", code="run_not_found")
    return EventSourceResponse(_past_events(past, after), ping=15, send_timeout=60)


def _sse(record: dict[str, Any]) -> ServerSentEvent:
    seq = record.get("seq")
    data = json.dumps(record["data"], ensure_ascii=False)
    return ServerSentEvent(data=data, event=record["event"], id=str(seq) if seq is not None else None)


async def _live_events(run: ServedRun, after: int) -> AsyncIterator[ServerSentEvent]:
    async for record in run.watch(after):
        yield _sse(record)


async def _past_events(past: dict[str, Any], after: int) -> AsyncIterator[ServerSentEvent]:
    entries = past.pop("entries")
    for seq, entry in enumerate(entries):
        if seq > after:
            yield _sse({"event": "entry", "data": entry, "seq": seq})
    yield _sse({"event": "done", "data": past, "seq": len(entries)})


async def answer(request: Request) -> JSONResponse:
    run = _live(request)
    body = await read_json(request)
    text, question = body.get("text"), body.get("question_id")
    if question is not None and not isinstance(question, str):
        raise BadRequest(400, "`question_id` must be a string", param="question_id")
    if run.pending is not None and run.pending.mcp is not None:
        given: Any = _mcp_answer(body)
    elif not isinstance(text, str) or len(text) > _MAX_TASK_CHARS:
        raise BadRequest(400, "`text` must be a string (the answer)", param="text")
    else:
        given = text
    if not run.answer(given, question):
        waiting = "a question " + repr(run.pending.id) if run.pending else "no question"
        raise BadRequest(409, f"run {run.id} is waiting for {waiting}", code="no_question")
    return JSONResponse({"ok": True})


def _mcp_answer(body: dict[str, Any]) -> Any:
    """An MCP server's question is answered with `action` (accept, decline or cancel) and, to accept a
    form, `content` (an object of the fields)."""
    from ..tools._mcp_client import Answer

    action, content = body.get("action"), body.get("content")
    if action not in ("accept", "decline", "cancel"):
        raise BadRequest(
            400, "`action` must be accept, decline or cancel (an MCP server asks)", param="action"
        )
    if content is not None and (not isinstance(content, dict) or len(json.dumps(content)) > _MAX_TASK_CHARS):
        raise BadRequest(400, "`content` must be an object of the form's fields", param="content")
    return Answer(action, content if action == "accept" else None)


async def cancel(request: Request) -> JSONResponse:
    run = _live(request)
    if not run.cancel():
        raise BadRequest(409, f"run {run.id} has ended ({run.status})", code="run_ended")
    return JSONResponse(run.summary(), status_code=202)


async def resume(request: Request) -> Response:
    """Continue a run cut by a restart (or a failure) from its transcript's tape: POST /api/runs/ID/resume
    with the id the listing gives (the transcript's name)."""
    server = _server(request)
    if server.runs.full:
        return server.busy()
    try:
        run = server.runs.resume(request.path_params["run_id"])
    except ScenarioError as e:
        return error(400, f"the run cannot be resumed: {e}", code="scenario_error")
    except UsageError as e:
        return error(409, str(e), code="not_resumable")
    return JSONResponse(run.summary(), status_code=201, headers={"location": f"/api/runs/{run.id}"})


routes = [
    Route("/api/scenarios", scenarios, methods=["GET"]),
    Route("/api/scenarios/{name}", scenario, methods=["GET"]),
    Route("/api/runs", list_runs, methods=["GET"]),
    Route("/api/runs", start_run, methods=["POST"]),
    Route("/api/runs/{run_id}", get_run, methods=["GET"]),
    Route("/api/runs/{run_id}/events", events, methods=["GET"]),
    Route("/api/runs/{run_id}/input", answer, methods=["POST"]),
    Route("/api/runs/{run_id}/cancel", cancel, methods=["POST"]),
    Route("/api/runs/{run_id}/resume", resume, methods=["POST"]),
]
