"""The AG-UI endpoint: a front end that speaks AG-UI (CopilotKit and others) shows a team run live.

POST /agui/{scenario}   an AG-UI `RunAgentInput` → `text/event-stream` of AG-UI events

A new run on a thread: the last user message is the team's task, the messages before it (and the input's
`context`) are given as context, as the OpenAI-compatible API does. It is a served run like any other
(listed in the runs API, its transcript under `--out`, stopped when the client hangs up).

A person in the team: when a user agent (or an MCP server) asks, the AG-UI run ends with the question as
the last message and `RUN_FINISHED` with an `interrupt` outcome (its id, the prompt, an answer schema,
`expiresAt`); the team keeps waiting. The next `RunAgentInput` on the same thread continues that team
run: with `resume: [{interruptId, status: "resolved", payload: "the answer"}]` (`cancelled` gives the
agent's default answer), or with a new last user message as the answer. The stream goes on from where the
previous one stopped.

The input's `tools` (front-end tools) and `state` are not given to the team: its agents have their own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sse_starlette.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import ScenarioError
from ._http import BadRequest, error, one_paragraph, read_json
from ._openai_api import task_from_messages
from ._runs import ServedRun

__all__ = ["AguiThreads", "routes"]

_KEEP_THREADS = 1000  # threads remembered (a thread's next input continues its run); the oldest go first


@dataclass
class _Thread:
    run: ServedRun
    after: int = -1  # the last event (sequence number) an AG-UI run of this thread has shown
    paused: bool = False  # the last AG-UI run ended on the team's question: the next one continues it
    answered_by: str | None = None  # the id of the user message that answered (not taken twice)


class AguiThreads:
    """Which served run each AG-UI thread (per scenario) is on, in memory: the newest `_KEEP_THREADS`."""

    def __init__(self) -> None:
        self.threads: OrderedDict[tuple[str, str], _Thread] = OrderedDict()

    def get(self, scenario: str, thread_id: str) -> _Thread | None:
        return self.threads.get((scenario, thread_id))

    def put(self, scenario: str, thread_id: str, thread: _Thread) -> None:
        self.threads[(scenario, thread_id)] = thread
        self.threads.move_to_end((scenario, thread_id))
        while len(self.threads) > _KEEP_THREADS:
            self.threads.popitem(last=False)


def _input(body: dict[str, Any]) -> Any:
    """The body as AG-UI's `RunAgentInput`; a field that does not fit is a 400 naming it."""
    from ag_ui.core import RunAgentInput
    from pydantic import ValidationError

    try:
        return RunAgentInput.model_validate(body)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in e.errors()[:5]
        )
        raise BadRequest(400, f"not an AG-UI RunAgentInput: {one_paragraph(problems)}") from None


def _as_chat(message: Any) -> dict[str, Any]:
    """An AG-UI message as the OpenAI shape `task_from_messages` reads (text parts only)."""
    content = getattr(message, "content", None)
    if isinstance(content, list):
        content = [p.model_dump(by_alias=True) for p in content]
    return {"role": message.role, "content": content}


def _task(given: Any) -> str:
    task = task_from_messages([_as_chat(m) for m in given.messages])
    context = [f"{c.description}: {c.value}" for c in given.context or []]
    return task if not context else "Context:\n" + "\n".join(context) + "\n\n" + task


def _last_user(given: Any) -> tuple[str | None, str | None]:
    """The id and text of the input's last message when it is the user's."""
    if not given.messages or given.messages[-1].role != "user":
        return None, None
    last = given.messages[-1]
    chat = task_from_messages([_as_chat(last)])
    return last.id, chat


def _answer_of(thread: _Thread, given: Any) -> Any:
    """The answer the input gives the team's waiting question (None: it gives none)."""
    pending = thread.run.pending
    if pending is None:
        return None
    for entry in given.resume or []:
        if entry.interrupt_id != pending.id:
            continue
        if pending.mcp is not None:
            from ..tools._mcp_client import Answer

            if entry.status == "cancelled":
                return Answer("cancel")
            payload = entry.payload if isinstance(entry.payload, dict) else {}
            action = payload.get("action", "accept")
            if action not in ("accept", "decline", "cancel"):
                raise BadRequest(400, "an MCP server's question takes `action`: accept, decline or cancel")
            content = payload.get("content") if "action" in payload else payload
            return Answer(action, content if action == "accept" and isinstance(content, dict) else None)
        if entry.status == "cancelled":
            return pending.default_answer
        payload = entry.payload
        if isinstance(payload, dict) and isinstance(payload.get("text"), str):
            payload = payload["text"]
        if not isinstance(payload, str):
            raise BadRequest(400, f"the answer to {pending.id!r} must be a string (resume[].payload)")
        return payload
    if given.resume:
        ids = [e.interrupt_id for e in given.resume]
        raise BadRequest(
            409, f"the team waits on question {pending.id!r}, not {ids}", code="no_question", param="resume"
        )
    if pending.mcp is not None:
        raise BadRequest(
            409,
            f"MCP server {pending.mcp.get('server')!r} asks ({pending.prompt[:200]}): answer question "
            f"{pending.id!r} with `resume`, its payload "
            '{"action": "accept" | "decline" | "cancel", "content": {...}}',
            code="question_waiting",
        )
    message_id, text = _last_user(given)
    if message_id is None or message_id == thread.answered_by:
        raise BadRequest(
            409,
            f"the team waits on question {pending.id!r} ({pending.prompt[:200]}): answer it with `resume` "
            "or a new user message",
            code="question_waiting",
        )
    thread.answered_by = message_id
    return text


async def agui_run(request: Request) -> Response:
    server = request.app.state.troupe
    threads: AguiThreads = request.app.state.troupe_agui
    name = request.path_params["scenario"]
    if name not in server.catalog:
        known = ", ".join(server.catalog.names()) or "none"
        raise BadRequest(
            404, f"no scenario named {name!r} is served (served: {known})", code="scenario_not_found"
        )
    given = _input(await read_json(request))
    thread = threads.get(name, given.thread_id)
    answer: Any = None
    if thread is not None and thread.paused:  # this input continues the team run that asked
        answer = _answer_of(thread, given)
    elif thread is not None and not thread.run.done:
        raise BadRequest(409, f"a run is going on thread {given.thread_id!r}", code="thread_busy")
    elif given.resume:  # an answer to a question nobody asks: a new run would drop it, unsaid
        raise BadRequest(
            409,
            f"no question waits on thread {given.thread_id!r}: `resume` answers the question a run ended "
            "on (its RUN_FINISHED interrupt); start a new run without it",
            code="no_question",
            param="resume",
        )
    else:
        task = _task(given)
        if server.runs.full:
            return server.busy()
        try:
            run = server.runs.start(name, task, origin="agui")
        except ScenarioError as e:
            return error(400, f"the scenario {name!r} cannot run: {e}", code="scenario_error")
        thread = _Thread(run=run, answered_by=_last_user(given)[0])
    thread.paused = False
    threads.put(name, given.thread_id, thread)
    stream = _stream(thread, given.thread_id, given.run_id, answer)
    headers = {"x-troupe-run-id": thread.run.id}
    return EventSourceResponse(stream, ping=15, headers=headers, send_timeout=60)


async def _stream(thread: _Thread, thread_id: str, run_id: str, answer: Any) -> AsyncIterator[bytes]:
    """The SSE body: AG-UI events, each encoded by the protocol's `EventEncoder`. A client that hangs
    up stops the team (unless it paused on a question: then the next input continues it)."""
    from ag_ui.encoder import EventEncoder

    from ._agui_events import AguiEvents

    run, encoder, events = thread.run, EventEncoder(), AguiEvents(thread.run, thread_id, run_id)
    watcher = run.watch(thread.after)
    first = asyncio.ensure_future(anext(watcher, None))
    await asyncio.sleep(0)  # the watcher is subscribed before the answer lets the team go on
    try:
        if answer is not None and run.pending is not None:
            run.answer(answer, run.pending.id)
        for e in events.started():
            yield encoder.encode(e).encode()
        record = await first
        while record is not None:
            thread.after = max(thread.after, record.get("seq", thread.after))
            if record["event"] == "done":
                break
            for e in events.of(record):
                yield encoder.encode(e).encode()
            if events.interrupted is not None:
                thread.paused = True
                break
            record = await anext(watcher, None)
        for e in events.finished():
            yield encoder.encode(e).encode()
    finally:
        if not first.done():
            first.cancel()
        with contextlib.suppress(BaseException):
            await watcher.aclose()  # type: ignore[attr-defined]  # an async generator
        if not thread.paused:
            run.cancel()  # a no-op once it ended; a client gone mid-run stops it


routes = [Route("/agui/{scenario}", agui_run, methods=["POST"])]
