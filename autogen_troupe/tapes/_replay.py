"""Replaying a cassette offline, and the AutoGen adapters that recording (`_record`) shares.

Replay answers every model call from the cassette, matched by agent and request fingerprint, and returns
the recorded tool results without starting any MCP server.

Strict replay (the default) raises `ReplayMismatch` with a diff when a request matches nothing recorded;
lenient replay hands the agent its next recorded answer and warns.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ReplayMismatch
from ..telemetry import note_replayed
from ..tools._mcp_client import replay_notes
from ._cassette import (
    SCRUBBED,
    Cassette,
    ModelCall,
    ModelResponse,
    RecordedCall,
    TokenCount,
    ToolRecord,
    diff_requests,
    fingerprint,
    normalise_arguments,
    request_of_call,
)
from ._hooks import RunHooks, ToolText, delegating_client, delegating_workbench, wrapped_tool
from ._replay_provider import PROVIDER as REPLAY

if TYPE_CHECKING:
    from ..models._resolved import ReplayModel, ResolvedModel

__all__ = [
    "ReplaySession",
    "ReplayWarning",
    "create_client",
]

_CHUNK_CHARS = 1000  # few pieces: each one is a message through the AutoGen runtime


class ReplayWarning(UserWarning):
    """Lenient replay answered a request that did not match its recording."""


# --------------------------------------------------------------------------- shared pieces


def _create_result(response: ModelResponse, *, cached: bool) -> Any:
    from autogen_core import FunctionCall
    from autogen_core.models import CreateResult, RequestUsage

    content: Any = (
        [FunctionCall(id=c.id, name=c.name, arguments=c.arguments) for c in response.tool_calls]
        if response.tool_calls
        else (response.content or "")
    )
    finish = response.finish_reason
    if finish not in ("stop", "length", "function_calls", "content_filter", "unknown"):
        finish = "unknown"
    return CreateResult(
        finish_reason=finish,  # type: ignore[arg-type]  # one of FinishReasons: checked above
        content=content,
        usage=RequestUsage(
            prompt_tokens=response.usage.prompt_tokens, completion_tokens=response.usage.completion_tokens
        ),
        cached=cached,
        thought=response.thought,
    )


def _response_from(result: Any) -> ModelResponse:
    content = result.content
    calls: tuple[RecordedCall, ...] = ()
    text: str | None = None
    if isinstance(content, str):
        text = content
    else:
        calls = tuple(RecordedCall(id=str(c.id), name=c.name, arguments=c.arguments) for c in content)
    usage = getattr(result, "usage", None)
    return ModelResponse(
        finish_reason=str(result.finish_reason),
        content=text,
        tool_calls=calls,
        thought=result.thought,
        usage=TokenCount(
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        ),
    )


def _chunks(text: str) -> list[str]:
    """The text cut at whitespace into pieces of about `_CHUNK_CHARS`, which join back to it exactly."""
    out: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + _CHUNK_CHARS)
        if end < len(text):
            cut = text.rfind(" ", start + 1, end)
            end = cut + 1 if cut > start else end
        out.append(text[start:end])
        start = end
    return out


def _visible(use: Any, offered: Sequence[str]) -> list[tuple[str, str]]:
    """(server's tool name, name the agent sees) for each tool `use` lets the agent call."""
    return [
        (n, use.rename.get(n, n))
        for n in offered
        if (use.allow is None or n in use.allow) and n not in use.deny
    ]


class _ReplayedToolError(Exception):
    """A Python tool failed when recording; raising it again makes AutoGen report the same error text."""


# --------------------------------------------------------------------------- replaying


@dataclass
class ReplaySession:
    """One replay of a cassette: which recorded calls were played, and what did not match.

    `strict=False` answers an unmatched request with the agent's next recorded answer and warns.
    """

    cassette: Cassette
    name: str = "cassette"
    strict: bool = True
    _played: list[bool] = field(default_factory=list)
    _tools_played: list[bool] = field(default_factory=list)
    _answers_played: list[bool] = field(default_factory=list)
    _call_agents: dict[str, str] = field(default_factory=dict)
    _requests: int = 0
    warnings: list[str] = field(default_factory=list)
    mismatch: ReplayMismatch | None = None

    def __post_init__(self) -> None:
        self._played = [False] * len(self.cassette.model_calls)
        self._tools_played = [False] * len(self.cassette.tool_calls)
        self._answers_played = [False] * len(self.cassette.user_answers)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, strict: bool = True) -> ReplaySession:
        return cls(Cassette.load(path), name=str(path), strict=strict)

    # -------------------------------------------------------------- seams for the runner

    def clients(self) -> Any:
        """A client pool whose every client answers from this cassette."""
        return _ReplayPool(self)

    def hooks(self) -> RunHooks:
        """Everything a run needs to be replayed: clients, Python tools and MCP tools answered from this
        cassette (no MCP server is started)."""
        return RunHooks(
            clients=self.clients(),
            wrap_tool=self.wrap_tool,
            replace_mcp=self.replace_mcp,
            replace_prompt=self.replace_prompt,
            wrap_human=self.wrap_human,
        )

    def client(self, agent: str | None, settings: Mapping[str, Any] | None = None) -> Any:
        """A ChatCompletionClient for one agent (None: any agent's recorded calls). `settings` are the
        request settings a live run would use now, compared with each recorded call's; None takes them as
        recorded."""
        return delegating_client(_ReplayClient(self, agent, settings))

    def replace_mcp(self, agent: str, use: Any) -> Any:
        """The agent's MCP workbench, answered from the cassette; no server is started."""
        return _replay_workbench(self, agent, use)

    def replace_prompt(self, ref: Any) -> str:
        """The recorded text of an MCP prompt (system message or task); no server is asked."""
        for p in self.cassette.mcp_prompts:
            if p.server == ref.server and p.name == ref.name and p.arguments == dict(ref.arguments):
                return p.text
        recorded = [f"{p.server}/{p.name}{p.arguments}" for p in self.cassette.mcp_prompts]
        raise self._fail(
            f"MCP prompt {ref.name!r} of server {ref.server!r} with arguments {dict(ref.arguments)} was not "
            f"recorded (recorded prompts: {', '.join(recorded) or 'none'})"
        )

    def wrap_tool(self, tool: Any) -> Any:
        """A Python tool whose calls return the recorded results (the function is not called)."""

        async def run_json(inner: Any, args: Mapping[str, Any], token: Any, call_id: str | None) -> Any:
            agent = self._call_agents.get(call_id or "") or getattr(inner, "agent", None)  # a2a: its own
            rec = self._tool_result(agent, None, inner.name, args)
            if rec.is_error:
                raise _ReplayedToolError(rec.result)
            return ToolText(rec.result)

        return wrapped_tool(tool, run_json)

    def wrap_human(self, agent: str, answer: Any) -> Any:
        """A user agent answered from the cassette, in order; nobody is asked."""

        async def replayed(question: Any) -> str:
            return self._user_answer(agent, question)

        return replayed

    # -------------------------------------------------------------- answering

    def _fail(self, diff: str) -> ReplayMismatch:
        err = ReplayMismatch(self.name, self._requests, diff)
        if self.mismatch is None:
            self.mismatch = err
        return err

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        warnings.warn(message, ReplayWarning, stacklevel=3)

    def answer(
        self, agent: str | None, request: dict[str, Any], *, settings_as_recorded: bool = False
    ) -> ModelCall:
        """The recorded call that answers `request` from `agent`; marks it played. With
        `settings_as_recorded`, each recorded call's own request settings stand in for the request's."""
        self._requests += 1
        calls = self.cassette.model_calls

        def with_settings(i: int) -> dict[str, Any]:
            if not settings_as_recorded:
                return request
            recorded = calls[i].request.get("settings")
            rest = {k: v for k, v in request.items() if k != "settings"}
            return rest if recorded is None else {**rest, "settings": recorded}

        open_ = [
            i for i, c in enumerate(calls) if not self._played[i] and (agent is None or c.agent == agent)
        ]
        hit = next((i for i in open_ if calls[i].fingerprint == fingerprint(with_settings(i))), None)
        if hit is not None:
            return self._take(hit)
        who = f"agent {agent!r}" if agent is not None else "the model"
        mine = [i for i, c in enumerate(calls) if agent is None or c.agent == agent]
        nth = len(mine) - len(open_)  # how many of this agent's calls were already played
        if not open_:
            diff = f"{who} made model call {nth + 1}, but the cassette holds only {len(mine)} for it" + (
                " (the conversation went on longer than when it was recorded)" if mine else ""
            )
            raise self._fail(diff)
        expected = open_[0]
        diff = (
            f"{who}, its model call {nth + 1} (cassette entry #{expected}), differs from the recording:\n"
            + diff_requests(calls[expected].request, with_settings(expected))
        )
        if self.strict:
            raise self._fail(diff)
        self._warn(f"{self.name}: lenient replay used the next recorded answer for {who}:\n{diff}")
        return self._take(expected)

    def _take(self, i: int) -> ModelCall:
        self._played[i] = True
        call = self.cassette.model_calls[i]
        for c in call.response.tool_calls:
            self._call_agents[c.id] = call.agent
        return call

    def _tool_result(self, agent: str | None, server: str | None, tool: str, args: Any) -> ToolRecord:
        want = normalise_arguments(dict(args or {}))
        recs = self.cassette.tool_calls
        open_ = [
            i
            for i, r in enumerate(recs)
            if not self._tools_played[i] and r.tool == tool and r.server == server
        ]
        same = [i for i in open_ if _same_arguments(recs[i].arguments, want)]
        pick = next((i for i in same if recs[i].agent == agent), same[0] if same else None)
        where = f"MCP server {server!r}" if server else "Python tool"
        if pick is None:
            recorded = [recs[i].arguments for i in open_]
            diff = (
                f"tool call {tool}({_short(want)}) by agent {agent!r} ({where}) was not recorded; "
                f"unplayed recorded calls of {tool!r}: {recorded or 'none'}"
            )
            if self.strict or not open_:
                # Returned to the model as the tool's error; the run then fails on the next model call.
                raise self._fail(diff)
            self._warn(f"{self.name}: lenient replay used the next recorded result:\n{diff}")
            pick = next((i for i in open_ if recs[i].agent == agent), open_[0])
        self._tools_played[pick] = True
        note_replayed(duration_s=recs[pick].duration_s)  # for the tool call's span, if traced
        return recs[pick]

    def _user_answer(self, agent: str, question: Any) -> str:
        recs = self.cassette.user_answers
        pick = next((i for i, r in enumerate(recs) if not self._answers_played[i] and r.agent == agent), None)
        if pick is None:
            given = sum(1 for i, r in enumerate(recs) if r.agent == agent)
            diff = f"user agent {agent!r} was asked for answer {given + 1}, but the cassette holds {given}"
            if self.strict:
                raise self._fail(diff)
            self._warn(f"{self.name}: lenient replay answered {question.default_answer!r}:\n{diff}")
            return str(question.default_answer)
        self._answers_played[pick] = True
        return recs[pick].answer

    # -------------------------------------------------------------- after the run

    def unplayed(self) -> list[str]:
        """Recorded calls the run never asked for, one line each."""
        out = []
        for i, c in enumerate(self.cassette.model_calls):
            if not self._played[i]:
                said = c.response.content or ", ".join(f"{t.name}()" for t in c.response.tool_calls)
                out.append(f"model call #{i} of {c.agent!r}: {_short(said)}")
        for i, r in enumerate(self.cassette.tool_calls):
            if not self._tools_played[i]:
                out.append(f"tool call #{i} {r.tool}({_short(r.arguments)}) by {r.agent!r}")
        for i, a in enumerate(self.cassette.user_answers):
            if not self._answers_played[i]:
                out.append(f"answer #{i} of user agent {a.agent!r}: {_short(a.answer)}")
        return out


def _same_arguments(recorded: Any, now: Any) -> bool:
    """Equal, except that a value scrubbed from the cassette matches whatever is given now."""
    if recorded == SCRUBBED:
        return True
    if isinstance(recorded, dict) and isinstance(now, dict):
        return recorded.keys() == now.keys() and all(_same_arguments(recorded[k], now[k]) for k in recorded)
    if isinstance(recorded, list) and isinstance(now, list):
        return len(recorded) == len(now) and all(
            _same_arguments(a, b) for a, b in zip(recorded, now, strict=True)
        )
    return recorded == now


def _short(v: Any, n: int = 60) -> str:
    import json

    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


class _ReplayClient:
    def __init__(self, session: ReplaySession, agent: str | None, settings: Mapping[str, Any] | None) -> None:
        self._session = session
        self._agent = agent
        self._settings = settings
        self._usage = (0, 0)
        self._last = (0, 0)
        rec = session.cassette.agents.get(agent or "") if agent else None
        self.model_info = REPLAY.model_info(rec.model if rec else None, given=rec.model_info if rec else None)
        self._provider = rec.provider if rec else None

    def _answer(self, messages: Sequence[Any], kw: Mapping[str, Any]) -> Any:
        request = request_of_call(messages, kw, self._settings)
        call = self._session.answer(self._agent, request, settings_as_recorded=self._settings is None)
        note_replayed(duration_s=call.duration_s, provider=self._provider)  # for the chat span, if traced
        u = call.response.usage
        self._last = (u.prompt_tokens, u.completion_tokens)
        self._usage = (self._usage[0] + u.prompt_tokens, self._usage[1] + u.completion_tokens)
        return call.response

    async def create(self, messages: Sequence[Any], **kw: Any) -> Any:
        return _create_result(self._answer(messages, kw), cached=True)

    async def create_stream(self, messages: Sequence[Any], **kw: Any) -> AsyncGenerator[Any, None]:
        response = self._answer(messages, kw)
        if response.content and not response.tool_calls:
            for piece in _chunks(response.content):
                yield piece
        yield _create_result(response, cached=True)

    def actual_usage(self) -> Any:
        from autogen_core.models import RequestUsage

        return RequestUsage(*self._last)

    def total_usage(self) -> Any:
        from autogen_core.models import RequestUsage

        return RequestUsage(*self._usage)

    def count_tokens(self, messages: Any, *, tools: Any = ()) -> int:
        return sum(len(str(getattr(m, "content", ""))) for m in messages) // 4

    def remaining_tokens(self, messages: Any, *, tools: Any = ()) -> int:
        return max(0, 1_000_000 - self.count_tokens(messages, tools=tools))

    async def close(self) -> None:
        return None


class _ReplayPool:
    def __init__(self, session: ReplaySession) -> None:
        self._session = session

    def spec_for(self, agent: str, resolve: Callable[..., ResolvedModel]) -> ReplayModel:
        """Every agent's model is the cassette; its request settings and context length are what a live
        run would use now, resolved offline (no key is needed) under the recording's overrides, so a
        changed setting shows as a mismatch. A model that cannot be resolved here (a profile only the
        recording machine has) keeps the recorded settings."""
        from ..errors import ProfileError
        from ..models._capabilities import capabilities_of
        from ..models._endpoints import Overrides
        from ..models._facts import context_length_of
        from ..models._resolved import ReplayModel, RequestSettings

        cassette = self._session.cassette
        rec = cassette.agents.get(agent)
        try:
            # merged() takes the recorded strings as it takes command-line flags (typed as such)
            recorded = Overrides().merged(**cassette.overrides)
            live: ResolvedModel | None = resolve(offline=True, overrides=recorded)
        except ProfileError:
            live = None
        capabilities = None  # the live model's, so a decision is constrained as it was when recorded
        if live is not None:
            settings, context_length = live.settings, context_length_of(live)
            capabilities = capabilities_of(live)
        else:
            settings = RequestSettings.model_validate(rec.settings if rec else {})
            context_length = rec.context_length if rec else None
        return ReplayModel(
            cassette=self._session.name,
            model=rec.model if rec else None,
            context_length=context_length,
            settings=settings,
            capabilities=capabilities,
        )

    def get(self, spec: ResolvedModel, agent: str) -> Any:
        return self._session.client(agent, spec.settings.as_dict())

    async def prepare(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _replay_workbench(session: ReplaySession, agent: str, use: Any) -> Any:
    recorded = {t["name"]: t for t in session.cassette.mcp_tools.get(use.server, ())}
    back = {v: k for k, v in use.rename.items()}

    async def list_tools() -> list[Any]:
        return [{**recorded[orig], "name": shown} for orig, shown in _visible(use, list(recorded))]

    async def call_tool(name: str, arguments: Any, token: Any, call_id: str | None) -> Any:
        from autogen_core.tools import TextResultContent, ToolResult

        try:
            rec = session._tool_result(agent, use.server, back.get(name, name), arguments)
        except ReplayMismatch as e:  # the model reads it; the session keeps it to fail the replay
            return ToolResult(name=name, result=[TextResultContent(content=str(e))], is_error=True)
        replay_notes(use.server, rec.notes)
        return ToolResult(name=name, result=[TextResultContent(content=rec.result)], is_error=rec.is_error)

    state = {"type": "TroupeReplayWorkbenchState", "server": use.server}
    return delegating_workbench(list_tools, call_tool, state=state)


# --------------------------------------------------------------------------- provider and library API


def create_client(spec: ReplayModel, agent: str | None = None) -> Any:
    """The `replay` provider: a client answering from `spec.cassette` (strict).

    With `agent` it plays only that agent's recorded calls; without, any agent's, by fingerprint.
    Tool results are replayed only through `replay_scenario` / `troupe run --replay`.
    """
    from ..errors import ProfileError

    if not spec.cassette:
        raise ProfileError("provider 'replay' needs `cassette:` (the path of a recorded cassette)")
    return ReplaySession.open(spec.cassette).client(agent)
