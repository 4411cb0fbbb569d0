"""Recording a run into a cassette: every agent's model calls, MCP tool calls and Python tool calls.

The runner asks the client pool for each agent's model client, so a recording pool wraps each one and
knows whose call it sees. MCP workbenches and Python tools are wrapped through the runner's
`wrap_workbench` and `wrap_tool` seams; a Python tool call is attributed to the agent whose model asked
for it (by call id).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any

from ..models._facts import context_length_of, request_settings
from ..models._resolved import ResolvedModel, spec_secrets
from ..scenario._schema import Scenario
from ..tools._mcp_client import SAMPLING, McpNote
from ._cassette import (
    AgentRecord,
    Cassette,
    ModelCall,
    PromptRecord,
    ToolRecord,
    UserAnswer,
    _canonical,
    fingerprint,
    normalise_arguments,
    normalise_request,
)
from ._hooks import RunHooks, delegating_client, delegating_workbench, wrapped_tool
from ._replay import _response_from
from ._tape import McpTools, Record, Tape, TapeAnswer, TapeModelCall, TapePrompt, TapeToolCall, ToolStart

__all__ = ["Recorder"]


def _spec_secrets(spec: ResolvedModel | None, env: Mapping[str, str] | None = None) -> set[str]:
    """The credential strings a model spec carries: its key, its key's variable, credential headers."""
    return set() if spec is None else spec_secrets(spec, env)


def _plain(task: Any) -> str | None:
    """The scenario's task when it is text (an MCP prompt's text is known only once the run fetched it)."""
    return task if isinstance(task, str) or task is None else None


def _recorded_overrides(overrides: Any) -> dict[str, str]:
    """The model overrides a replay must apply to resolve the same settings (never the API key)."""
    if overrides is None:
        return {}
    out = {k: getattr(overrides, k) for k in ("profile", "base_url", "model") if getattr(overrides, k, None)}
    if "base_url" in out:
        from .._redact import redact_url

        out["base_url"] = redact_url(out["base_url"])
    return out


# --------------------------------------------------------------------------- recording


class _RecordingClient:
    """Passes every call to the real client and notes request and answer in the recorder."""

    def __init__(self, inner: Any, agent: str, recorder: Recorder, settings: Mapping[str, Any]) -> None:
        self._inner = inner
        self._agent = agent
        self._recorder = recorder
        self._settings = settings

    async def create(
        self,
        messages: Sequence[Any],
        *,
        tools: Sequence[Any] = (),
        tool_choice: Any = "auto",
        json_output: Any = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: Any = None,
    ) -> Any:
        request = normalise_request(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            settings=self._settings,
        )
        started = time.monotonic()
        result = await self._inner.create(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        )
        if SAMPLING.get() is None:  # a server's sampling is kept with the tool call that caused it
            self._recorder._model_call(self._agent, request, result, stream=False, started=started)
        return result

    async def create_stream(
        self,
        messages: Sequence[Any],
        *,
        tools: Sequence[Any] = (),
        tool_choice: Any = "auto",
        json_output: Any = None,
        extra_create_args: Mapping[str, Any] = {},
        cancellation_token: Any = None,
    ) -> AsyncGenerator[Any, None]:
        request = normalise_request(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            settings=self._settings,
        )
        started = time.monotonic()
        async for item in self._inner.create_stream(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            json_output=json_output,
            extra_create_args=extra_create_args,
            cancellation_token=cancellation_token,
        ):
            if not isinstance(item, str) and SAMPLING.get() is None:
                self._recorder._model_call(self._agent, request, item, stream=True, started=started)
            yield item

    def __getattr__(self, name: str) -> Any:  # usage counters, model_info, count_tokens, close...
        return getattr(self._inner, name)


class _RecordingPool:
    def __init__(self, inner: Any, recorder: Recorder) -> None:
        self._inner = inner
        self._recorder = recorder

    def spec_for(self, agent: str, resolve: Any) -> ResolvedModel | None:
        return self._inner.spec_for(agent, resolve)

    def get(self, spec: ResolvedModel | None, agent: str) -> Any:
        client = self._inner.get(spec, agent)
        self._recorder._agent(agent, spec, client)
        settings = request_settings(spec) if spec is not None else {}
        return delegating_client(_RecordingClient(client, agent, self._recorder, settings))

    async def prepare(self) -> None:
        await self._inner.prepare()

    async def aclose(self) -> None:
        await self._inner.aclose()


class Recorder:
    """Collects a run's model and tool calls; `cassette()` turns them into a Cassette.

    Give `recorder.clients(pool)`, `recorder.wrap_workbench` and `recorder.wrap_tool` to `run_scenario`.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        env: Mapping[str, str] | None = None,
        overrides: Any = None,
        keep: bool = True,
    ) -> None:
        """`keep=False`: the calls only go to the tape (`attach`), not into memory for `cassette()` (a live
        run's recorder: its requests grow with the conversation)."""
        self.scenario = scenario
        self._keep = keep
        self._sink: Callable[[Record], None] | None = None
        self._pending: list[Record] = []  # what was noted before a tape was attached
        self._skip: dict[str, int] = {}  # records of each kind already on the tape (a resumed run's)
        self._env = env
        self._overrides = _recorded_overrides(overrides)
        self._agents: dict[str, AgentRecord] = {}
        self._calls: list[ModelCall] = []
        self._tools: list[ToolRecord] = []
        self._answers: list[UserAnswer] = []
        self._mcp_tools: dict[str, dict[str, dict[str, Any]]] = {}
        self._call_agents: dict[str, str] = {}
        self._workbench_count: dict[str, int] = {}
        self._secrets: set[str] = set()
        self._in_flight: dict[str, list[list[dict[str, Any]]]] = {}  # per server, notes of running calls
        self._prompts: dict[tuple[str, str, str], PromptRecord] = {}

    # -------------------------------------------------------------- the tape

    def attach(self, sink: Callable[[Record], None]) -> None:
        """Write every call from now on through `sink` (a run's tape), after those noted before."""
        self._sink = sink
        pending, self._pending = self._pending, []
        for record in pending:
            sink(record)

    def continuing(self, tape: Tape) -> None:
        """Record a resumed run onto `tape`: the records it holds are not written again when the replay
        makes the same calls (the replay makes them in the same order), and its MCP tool lists are known."""
        for r in tape.records:
            kind = getattr(r, "record", None)
            if kind in ("model_call", "tool_start", "tool_call", "user_answer", "prompt"):
                self._skip[kind] = self._skip.get(kind, 0) + 1
            if isinstance(r, McpTools):
                seen = self._mcp_tools.setdefault(r.server, {})
                for schema in r.tools:
                    seen.setdefault(str(schema.get("name")), dict(schema))

    def _emit(self, record: Record) -> None:
        kind = getattr(record, "record", "")
        if self._skip.get(kind, 0) > 0:
            self._skip[kind] -= 1
            return
        if self._sink is not None:
            self._sink(record)
        else:
            self._pending.append(record)

    @property
    def agents(self) -> dict[str, AgentRecord]:
        """How each agent's model was reached (for the tape's `models` record)."""
        return dict(sorted(self._agents.items()))

    @property
    def overrides(self) -> dict[str, str]:
        """The model overrides a replay must apply (never the key)."""
        return dict(self._overrides)

    # -------------------------------------------------------------- seams for the runner

    def clients(self, inner: Any = None) -> Any:
        """A client pool that records; `inner` is the real pool (default: a new ClientPool)."""
        if inner is None:
            from ..models._registry import ClientPool

            inner = ClientPool()
        return _RecordingPool(inner, self)

    def hooks(self, inner: Any = None) -> RunHooks:
        """Everything a run needs to be recorded: clients through `inner` (default: a new ClientPool), and
        every tool call seen."""
        return RunHooks(
            clients=self.clients(inner),
            wrap_workbench=self.wrap_workbench,
            wrap_tool=self.wrap_tool,
            on_mcp_note=self._note,
            on_prompt=self._prompt,
            wrap_human=self.wrap_human,
        )

    def wrap_workbench(self, agent: str, workbench: Any) -> Any:
        """The agent's MCP workbench, recording what it lists and every call through it."""
        k = self._workbench_count.get(agent, 0)
        self._workbench_count[agent] = k + 1
        uses = next((a.mcp for a in self.scenario.team.agents if a.name == agent), ())
        use = uses[k] if k < len(uses) else None
        server = use.server if use is not None else getattr(workbench, "server", f"workbench{k}")
        return _recording_workbench(workbench, agent, server, use, self)

    def wrap_tool(self, tool: Any) -> Any:
        """A Python tool that records its calls (the agent is found from the call id)."""

        async def run_json(inner: Any, args: Mapping[str, Any], token: Any, call_id: str | None) -> Any:
            agent = self._call_agents.get(call_id or "") or str(getattr(inner, "agent", "?"))  # a2a: its own
            self._tool_start(agent, None, inner.name, args, call_id)
            started = time.monotonic()
            try:
                value = await inner.run_json(args, token, call_id=call_id)
            except Exception as e:
                self._tool_call(agent, None, inner.name, args, str(e), True, started=started, call_id=call_id)
                raise
            result = inner.return_value_as_string(value)
            self._tool_call(agent, None, inner.name, args, result, False, started=started, call_id=call_id)
            return value

        return wrapped_tool(tool, run_json)

    def wrap_human(self, agent: str, answer: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """A user agent's answers (the person's, or the default), recorded as they are given."""

        async def recorded(question: Any) -> str:
            text = await answer(question)
            if self._keep:
                self._answers.append(UserAnswer(agent=agent, answer=text))
            self._emit(TapeAnswer(agent=agent, answer=text))
            return text

        return recorded

    # -------------------------------------------------------------- notes taken during the run

    def _agent(self, agent: str, spec: ResolvedModel | None, client: Any) -> None:
        try:
            info = _canonical(dict(client.model_info))
        except Exception:  # a client without model_info: replay uses the defaults
            info = {}
        if spec is None:  # one client for every agent, given by the caller: nothing resolved
            self._agents[agent] = AgentRecord(model_info=info)
            return
        self._agents[agent] = AgentRecord(
            provider=spec.provider,
            model=spec.model,
            model_info=info,
            settings=_canonical(request_settings(spec)),
            context_length=context_length_of(spec),
        )
        self._secrets |= _spec_secrets(spec, self._env)

    def _model_call(
        self, agent: str, request: dict[str, Any], result: Any, *, stream: bool, started: float
    ) -> None:
        response = _response_from(result)
        for c in response.tool_calls:
            self._call_agents[c.id] = agent
        call = ModelCall(
            agent=agent,
            fingerprint=fingerprint(request),
            stream=stream,
            request=request,
            response=response,
            duration_s=_since(started),
        )
        if self._keep:
            self._calls.append(call)
        self._emit(TapeModelCall(**dict(call)))

    def _tool_start(
        self,
        agent: str,
        server: str | None,
        tool: str,
        args: Any,
        call_id: str | None,
        *,
        idempotent: bool = False,
    ) -> None:
        self._emit(
            ToolStart(
                agent=agent,
                server=server,
                tool=tool,
                arguments=normalise_arguments(dict(args or {})),
                call_id=call_id,
                idempotent=idempotent,
            )
        )

    def _tool_call(
        self,
        agent: str,
        server: str | None,
        tool: str,
        args: Any,
        result: str,
        is_error: bool,
        notes: Sequence[dict[str, Any]] = (),
        *,
        started: float,
        call_id: str | None = None,
    ) -> None:
        record = ToolRecord(
            agent=agent,
            server=server,
            tool=tool,
            arguments=normalise_arguments(dict(args or {})),
            result=result,
            is_error=is_error,
            notes=tuple(notes),
            duration_s=_since(started),
        )
        if self._keep:
            self._tools.append(record)
        self._emit(TapeToolCall(**dict(record), call_id=call_id))

    def _note(self, note: McpNote) -> None:
        """A server's note goes with its latest running call (notes outside calls are not replayed)."""
        running = self._in_flight.get(note.server)
        if running:
            running[-1].append(
                {
                    "kind": note.kind,
                    "text": note.text,
                    "tool": note.tool,
                    "agent": note.agent,
                    "call_id": note.call_id,
                    "data": _canonical(dict(note.data)),
                }
            )

    def _prompt(self, ref: Any, text: str) -> None:
        key = (ref.server, ref.name, repr(sorted(ref.arguments.items())))
        self._prompts[key] = PromptRecord(
            server=ref.server, name=ref.name, arguments=dict(ref.arguments), text=text
        )
        self._emit(TapePrompt(**dict(self._prompts[key])))

    def _listed(self, server: str, use: Any, tools: Sequence[Any]) -> None:
        back = {v: k for k, v in (use.rename.items() if use is not None else ())}
        seen = self._mcp_tools.setdefault(server, {})
        new = []
        for t in tools:
            schema = _canonical(dict(t))
            schema["name"] = back.get(schema["name"], schema["name"])
            if schema["name"] not in seen:
                seen[schema["name"]] = schema
                new.append(schema)
        if new:
            self._emit(McpTools(server=server, tools=tuple(new)))

    # -------------------------------------------------------------- result

    @property
    def secrets(self) -> frozenset[str]:
        """Credential strings the run's model specs held; scrubbed from the cassette when saved."""
        return frozenset(self._secrets)

    def cassette(self, task: str | None = None) -> Cassette:
        return Cassette(
            scenario=self.scenario.name,
            task=task if task is not None else _plain(self.scenario.task),
            agents=dict(sorted(self._agents.items())),
            overrides=self._overrides,
            mcp_tools={s: tuple(t.values()) for s, t in sorted(self._mcp_tools.items())},
            model_calls=tuple(self._calls),
            tool_calls=tuple(self._tools),
            mcp_prompts=tuple(self._prompts.values()),
            user_answers=tuple(self._answers),
        )


def _since(started: float) -> float:
    """Seconds since `started` (time.monotonic()), to the millisecond: what a cassette keeps."""
    return round(time.monotonic() - started, 3)


def _recording_workbench(inner: Any, agent: str, server: str, use: Any, recorder: Recorder) -> Any:
    back = {v: k for k, v in use.rename.items()} if use is not None else {}

    async def list_tools() -> list[Any]:
        tools = await inner.list_tools()
        recorder._listed(server, use, tools)
        return tools

    async def call_tool(name: str, arguments: Any, token: Any, call_id: str | None) -> Any:
        notes: list[dict[str, Any]] = []
        hints = getattr(inner, "idempotent", None)  # an MCP workbench of ours knows the server's hints
        idempotent = bool(hints(name)) if callable(hints) else False
        recorder._tool_start(agent, server, back.get(name, name), arguments, call_id, idempotent=idempotent)
        running = recorder._in_flight.setdefault(server, [])
        running.append(notes)
        started = time.monotonic()
        try:
            result = await inner.call_tool(name, arguments, token, call_id)
        finally:
            running.remove(notes)
        recorder._tool_call(
            agent,
            server,
            back.get(name, name),
            arguments,
            result.to_text(),
            bool(result.is_error),
            notes,
            started=started,
            call_id=call_id,
        )
        return result

    return delegating_workbench(list_tools, call_tool, inner=inner)
