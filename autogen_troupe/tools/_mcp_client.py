"""What our MCP client offers a server besides calling its tools: answering its questions (elicitation),
lending it a model (sampling), naming roots, and hearing its progress and log notifications.

`McpClientOptions` says how, for one server; `client_kwargs(options)` turns it into the callbacks the SDK's
`mcp.Client(...)` (or `ClientSession(...)`) takes, and `progress_callback(options, tool)` is the one a tool
call takes. Everything a server asks or says is also handed to `options.on_note` as an `McpNote`, which the
runner shows in the console and keeps in the transcript, and the recorder keeps in the cassette.

Only what is really offered is declared: no sampling callback unless sampling is allowed, no roots
callback unless roots are given. Elicitation is always answered (declined when nobody can answer), so a
server never waits for a question nobody sees. The SDK is imported inside the functions, so importing this
module stays cheap (the CLI's `--elicitation` option is parsed before any server starts).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .._redact import redact_data, redact_text

if TYPE_CHECKING:
    import mcp_types
    from mcp.client.session import ClientRequestContext
    from mcp.shared.dispatcher import ProgressFnT

    from ._approvals import Confirm

__all__ = [
    "CALLER",
    "CALL_ID",
    "ELICITATION_POLICIES",
    "NOTES",
    "SAMPLING",
    "Answer",
    "Ask",
    "ElicitationPolicy",
    "McpClientOptions",
    "McpNote",
    "NoteKind",
    "Question",
    "RunningCalls",
    "SampleReply",
    "SampleRequest",
    "Sampler",
    "SamplingLimits",
    "accept_defaults",
    "client_kwargs",
    "effective_policy",
    "progress_callback",
    "replay_notes",
    "scripted_ask",
    "terminal_ask",
]

logger = logging.getLogger(__name__)

ElicitationPolicy = Literal["ask", "decline", "accept_defaults"]
ELICITATION_POLICIES: tuple[str, ...] = ("ask", "decline", "accept_defaults")
NoteKind = Literal["progress", "log", "elicitation", "sampling", "roots", "approval"]

CALLER: contextvars.ContextVar[str | None] = contextvars.ContextVar("troupe_mcp_caller", default=None)
"""The agent whose tool call is running (set by the workbench around each call); a sampling request that
arrives within the call (protocol 2026-07-28 and later) is answered with that agent's model."""

CALL_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("troupe_mcp_call_id", default=None)
"""The id of the model's tool call that is running (set with CALLER): a note is kept with its call."""

NOTES: contextvars.ContextVar[Callable[[McpNote], None] | None] = contextvars.ContextVar(
    "troupe_mcp_notes", default=None
)
"""Where the running run takes server notes that come from elsewhere than a live server (a replay)."""

SAMPLING: contextvars.ContextVar[str | None] = contextvars.ContextVar("troupe_mcp_sampling", default=None)
"""Set (to the server's name) while a model call answers a server's sampling request: a recording keeps
such calls with the tool call that caused them, not among the agent's own model calls."""


# --------------------------------------------------------------------------- what a server says or asks


@dataclass(frozen=True)
class McpNote:
    """Something a server asked or said, for the console, the transcript and the cassette.

    `text` is one redacted line for people; `data` holds the details (the question and the answer, the
    sampling request and reply, the progress numbers, the log record).
    """

    server: str
    kind: NoteKind
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)
    tool: str | None = None  # the tool call it belongs to, when known (progress)
    agent: str | None = None  # the agent whose tool call it belongs to, when known (CALLER)
    call_id: str | None = None  # that tool call's id, when known (CALL_ID)


@dataclass(frozen=True)
class Question:
    """An elicitation: what the server wants to know (form mode: `schema`) or where to send the person
    (URL mode: `url`)."""

    server: str
    message: str
    schema: Mapping[str, Any] | None = None
    url: str | None = None


@dataclass(frozen=True)
class Answer:
    """The answer to a Question; `content` only with `accept` in form mode."""

    action: Literal["accept", "decline", "cancel"]
    content: Mapping[str, Any] | None = None


Ask = Callable[[Question], Awaitable[Answer]]
"""Puts a question to a person (the console prompt) or a script (tests) and returns the answer."""


@dataclass(frozen=True)
class SampleRequest:
    """A server's `sampling/createMessage`, as plain text messages."""

    server: str
    messages: tuple[tuple[str, str], ...]  # (role, text), role "user" or "assistant"
    system_prompt: str | None
    max_tokens: int
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    agent: str | None = None  # whose tool call caused it, when known (CALLER)


@dataclass(frozen=True)
class SampleReply:
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    stop_reason: str | None = "endTurn"


class Sampler(Protocol):
    """Answers a sampling request with a model (the runner: the calling agent's own model client)."""

    async def __call__(self, request: SampleRequest) -> SampleReply: ...


@dataclass
class _Budget:
    calls: int = 0
    tokens: int = 0


@dataclass(frozen=True)
class SamplingLimits:
    """Bounds on one server's sampling over a run: calls, tokens in all (prompt and answer), and the
    answer's length per call (the server's own `maxTokens` is honoured when smaller)."""

    max_calls: int = 5
    max_tokens: int = 4000
    max_tokens_per_call: int = 512


# --------------------------------------------------------------------------- the options


@dataclass(frozen=True)
class McpClientOptions:
    """How our client treats one server beyond its tools. Every field is optional.

    - `elicitation`: `ask` puts the question to `ask` (declined when `ask` is None: nobody can answer);
      `decline` declines every question; `accept_defaults` accepts with the schema's defaults (declined
      when a required field has none). None: `ask` when `ask` is given, else `decline`.
    - `sampling` with `sampler`: the server may ask our model to write, within the limits; otherwise
      sampling is not offered.
    - `roots`: directories (paths or file:// URIs) the server may work in; none: roots not offered.
    - `on_note`: hears every McpNote; `log_level`: the least severe log notification asked for.
    - `confirm`: asks the person whether a tool call that needs approval may run (`_approvals`); None:
      nobody can be asked, so such calls are refused.
    """

    server: str = "server"
    elicitation: ElicitationPolicy | None = None
    ask: Ask | None = None
    sampling: SamplingLimits | None = None
    sampler: Sampler | None = None
    roots: tuple[str, ...] = ()
    on_note: Callable[[McpNote], None] | None = None
    log_level: str | None = "info"
    confirm: Confirm | None = None
    _budget: _Budget = field(default_factory=_Budget, repr=False, compare=False)

    def note(
        self,
        kind: NoteKind,
        text: str,
        data: Mapping[str, Any] | None = None,
        tool: str | None = None,
        caller: tuple[str | None, str | None] | None = None,
    ) -> None:
        """Hand a note to `on_note` (a failing listener is logged, never breaks the session); `caller` is
        (agent, call id), by default the running call's."""
        if self.on_note is None:
            return
        agent, call_id = caller or (CALLER.get(), CALL_ID.get())
        try:
            details = redact_data(dict(data or {}))  # a server may echo a credential, a person type one
            self.on_note(McpNote(self.server, kind, redact_text(text), details, tool, agent, call_id))
        except Exception:
            logger.exception("MCP note listener failed")


class RunningCalls:
    """The tool calls running on one server, as (agent, call id), newest last. A note or a sampling
    request that arrives outside any call's task (a log line; questions on protocols before 2026-07-28)
    is taken to belong to the newest."""

    def __init__(self) -> None:
        self._calls: list[tuple[str | None, str | None]] = []

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Around one tool call (in its task, where CALLER and CALL_ID are set)."""
        caller = (CALLER.get(), CALL_ID.get())
        self._calls.append(caller)
        try:
            yield
        finally:
            self._calls.remove(caller)

    def attach(self, options: McpClientOptions) -> McpClientOptions:
        """`options` whose notes and sampling requests of no known call go with the newest running one."""
        listener, sampler = options.on_note, options.sampler

        def on_note(note: McpNote) -> None:
            if note.call_id is None and self._calls:
                agent, call_id = self._calls[-1]
                note = dataclasses.replace(note, agent=note.agent or agent, call_id=call_id)
            if listener is not None:
                listener(note)

        async def sample(request: SampleRequest) -> SampleReply:
            assert sampler is not None  # only installed with one
            if request.agent is None and self._calls:
                request = dataclasses.replace(request, agent=self._calls[-1][0])
            return await sampler(request)

        return dataclasses.replace(
            options, on_note=on_note if listener else None, sampler=sample if sampler else None
        )


def effective_policy(options: McpClientOptions) -> ElicitationPolicy:
    """The policy in force: the given one, else `ask` when someone can answer, else `decline`."""
    if options.elicitation is not None:
        return options.elicitation
    return "ask" if options.ask is not None else "decline"


def client_kwargs(options: McpClientOptions) -> dict[str, Any]:
    """Keyword arguments for `mcp.Client(...)` / `ClientSession(...)`: elicitation, sampling (when
    allowed), roots (when given) and logging callbacks. The caller keeps `message_handler` for itself."""
    kwargs: dict[str, Any] = {
        "elicitation_callback": _elicitation_callback(options),
        "logging_callback": _logging_callback(options),
    }
    if options.log_level is not None:
        kwargs["log_level"] = options.log_level
    if options.sampling is not None and options.sampler is not None:
        kwargs["sampling_callback"] = _sampling_callback(options)
    if options.roots:
        kwargs["list_roots_callback"] = _roots_callback(options)
    return kwargs


def progress_callback(options: McpClientOptions, tool: str) -> ProgressFnT:
    """The `progress_callback` for one call of `tool`: each update becomes a `progress` note (made in the
    call's task, so the note knows its call even when the update arrives in the session's)."""
    caller = (CALLER.get(), CALL_ID.get())

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        shown = f"{progress:g}/{total:g}" if total else f"{progress:g}"
        text = f"{tool}: {shown}" + (f" {message}" if message else "")
        data = {"progress": progress, "total": total, "message": message}
        options.note("progress", text, data, tool=tool, caller=caller)

    return on_progress


# --------------------------------------------------------------------------- elicitation


def accept_defaults(question: Question) -> Answer:
    """Accept with every field's default; decline when a required field has none (or for a URL)."""
    if question.schema is None:
        return Answer("decline")
    props = question.schema.get("properties") or {}
    content = {k: p["default"] for k, p in props.items() if isinstance(p, Mapping) and "default" in p}
    missing = [k for k in question.schema.get("required") or () if k not in content]
    return Answer("decline") if missing else Answer("accept", content)


def scripted_ask(answers: Sequence[Answer | Mapping[str, Any]]) -> Ask:
    """An Ask that gives `answers` in turn (a mapping means accept with it), then declines: for tests."""
    queue = [a if isinstance(a, Answer) else Answer("accept", dict(a)) for a in answers]

    async def ask(question: Question) -> Answer:
        return queue.pop(0) if queue else Answer("decline")

    return ask


def _question(server: str, params: Any) -> Question:
    url = getattr(params, "url", None)
    if url is not None:
        return Question(server, params.message, url=url)
    schema = params.requested_schema
    schema = (
        schema.model_dump(by_alias=True, exclude_none=True) if hasattr(schema, "model_dump") else dict(schema)
    )
    return Question(server, params.message, schema=schema)


def _elicitation_callback(options: McpClientOptions) -> Any:
    lock = asyncio.Lock()  # one question at a time on the console

    async def on_elicit(context: ClientRequestContext, params: Any) -> mcp_types.ElicitResult:
        import mcp_types

        question = _question(options.server, params)
        policy = effective_policy(options)
        async with lock:
            if policy == "accept_defaults":
                answer = accept_defaults(question)
            elif policy == "ask" and options.ask is not None:
                try:
                    answer = await options.ask(question)
                except (EOFError, KeyboardInterrupt):
                    answer = Answer("cancel")
            else:
                answer = Answer("decline")
        content = dict(answer.content) if answer.content is not None and answer.action == "accept" else None
        shown = f": {json.dumps(content, ensure_ascii=False)}" if content else ""
        options.note(
            "elicitation",
            f"asked {question.message!r} ({policy}) → {answer.action}{shown}",
            {
                "message": question.message,
                "schema": question.schema,
                "url": question.url,
                "policy": policy,
                "action": answer.action,
                "content": content,
            },
        )
        return mcp_types.ElicitResult(action=answer.action, content=content)

    return on_elicit


# --------------------------------------------------------------------------- sampling


def _text_of(content: Any) -> str:
    blocks = content if isinstance(content, list) else [content]
    return "\n".join(getattr(b, "text", None) or f"[{getattr(b, 'type', 'content')}]" for b in blocks)


def _sampling_callback(options: McpClientOptions) -> Any:
    limits, sampler, budget = options.sampling, options.sampler, options._budget
    assert limits is not None and sampler is not None  # client_kwargs checks both

    async def on_sample(context: ClientRequestContext, params: mcp_types.CreateMessageRequestParams) -> Any:
        import mcp_types

        refused = _over_budget(limits, budget)
        if refused:
            options.note("sampling", f"refused a sampling request: {refused}", {"refused": refused})
            return mcp_types.ErrorData(code=mcp_types.INVALID_REQUEST, message=f"Sampling refused: {refused}")
        request = SampleRequest(
            server=options.server,
            messages=tuple((m.role, _text_of(m.content)) for m in params.messages),
            system_prompt=params.system_prompt,
            max_tokens=max(1, min(params.max_tokens, limits.max_tokens_per_call)),
            temperature=params.temperature,
            stop=tuple(params.stop_sequences or ()),
            agent=CALLER.get(),
        )
        budget.calls += 1
        token = SAMPLING.set(options.server)
        try:
            reply = await sampler(request)
        except Exception as exc:
            options.note("sampling", f"sampling failed: {type(exc).__name__}: {exc}", {"error": str(exc)})
            return mcp_types.ErrorData(
                code=mcp_types.INTERNAL_ERROR, message=redact_text(f"Sampling failed: {exc}")
            )
        finally:
            SAMPLING.reset(token)
        budget.tokens += reply.prompt_tokens + reply.completion_tokens
        options.note(
            "sampling",
            f"wrote for the server ({reply.model}, {reply.prompt_tokens}+{reply.completion_tokens} tok): "
            f"{reply.text[:200]}",
            {
                "messages": [list(m) for m in request.messages],
                "system_prompt": request.system_prompt,
                "max_tokens": request.max_tokens,
                "text": reply.text,
                "model": reply.model,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
            },
        )
        return mcp_types.CreateMessageResult(
            role="assistant",
            content=mcp_types.TextContent(type="text", text=reply.text),
            model=reply.model,
            stop_reason=reply.stop_reason,
        )

    return on_sample


def _over_budget(limits: SamplingLimits, budget: _Budget) -> str | None:
    if budget.calls >= limits.max_calls:
        return f"the scenario allows this server {limits.max_calls} sampling call(s) per run"
    if budget.tokens >= limits.max_tokens:
        return f"the scenario allows this server {limits.max_tokens} sampling tokens per run"
    return None


# --------------------------------------------------------------------------- roots and logging


def root_uri(root: str) -> str:
    """A root as a file:// URI (a path is made absolute)."""
    return root if root.startswith("file://") else Path(root).expanduser().resolve().as_uri()


def _roots_callback(options: McpClientOptions) -> Any:
    uris = [root_uri(r) for r in options.roots]

    async def on_list_roots(context: ClientRequestContext) -> mcp_types.ListRootsResult:
        import mcp_types
        from pydantic import FileUrl

        options.note("roots", "listed roots: " + ", ".join(uris), {"roots": uris})
        return mcp_types.ListRootsResult(
            roots=[mcp_types.Root(uri=FileUrl(u), name=Path(u[7:]).name or u) for u in uris]
        )

    return on_list_roots


_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


def _logging_callback(options: McpClientOptions) -> Any:
    least = _LEVELS.index(options.log_level) if options.log_level in _LEVELS else 0

    async def on_log(params: mcp_types.LoggingMessageNotificationParams) -> None:
        if params.level in _LEVELS and _LEVELS.index(params.level) < least:
            return  # older protocols send every level unless asked with logging/setLevel
        data = (
            params.data
            if isinstance(params.data, str)
            else json.dumps(params.data, ensure_ascii=False, default=str)
        )
        who = f" {params.logger}" if params.logger else ""
        options.note(
            "log",
            f"[{params.level}{who}] {data}",
            {"level": params.level, "logger": params.logger, "data": params.data},
        )

    return on_log


def replay_notes(server: str, notes: Sequence[Mapping[str, Any]]) -> None:
    """Hand notes a recording kept (dicts with kind, text, data, tool, agent, call_id) to the running
    run's listener (`NOTES`): a replay shows them again without asking anyone or calling a model."""
    sink = NOTES.get()
    if sink is None:
        return
    for n in notes:
        data = dict(n.get("data") or {})
        sink(McpNote(server, n["kind"], n["text"], data, n.get("tool"), n.get("agent"), n.get("call_id")))


# --------------------------------------------------------------------------- the console prompt


def terminal_ask(console: Any = None, read_line: Any = None) -> Ask | None:
    """An Ask that puts questions on the terminal (see `_mcp_prompt.terminal_ask`); None when standard
    input is not a terminal, so that the default policy declines."""
    from ._mcp_prompt import terminal_ask as make

    return make(console, read_line)
