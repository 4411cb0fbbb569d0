"""Run hooks: the typed ways record, replay and tests change how a run reaches its models and tools.

`ClientSource` is where a run's agents get their model clients (the live `models.ClientPool`, a recording
or replaying pool, a test's `ScriptedClient`). `RunHooks` gathers the rest that record and replay change:
seeing (or answering) tool calls and MCP workbenches. The AutoGen adapters those hooks build on are here too,
made on first use, so importing this module imports no AutoGen code.

`guarded(client, errors)` keeps the run's typed errors: AutoGen's group chat turns an agent's exception into
a `RuntimeError` holding only its text, so the runner notes our errors where our clients raise them.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import TroupeError

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient
    from autogen_core.tools import BaseTool, Workbench

    from ..models._resolved import ResolvedModel
    from ..scenario import McpPrompt, McpUse
    from ..tools._mcp_client import McpNote

__all__ = [
    "ClientSource",
    "OneClient",
    "Resolve",
    "RunHooks",
    "ToolText",
    "delegating_client",
    "delegating_workbench",
    "guarded",
    "stacked",
    "wrapped_tool",
]


Answer = Callable[[Any], Awaitable[str]]
"""A user agent's answer to a question (runtime._human's `Answer`); record and replay wrap it."""


class Resolve(Protocol):
    """Resolves one agent's model as the scenario and the run's settings say; `offline` needs no key and
    no variables (replay), `overrides` go under the run's own (a recording's)."""

    def __call__(self, *, offline: bool = False, overrides: Any = None) -> ResolvedModel: ...


class ClientSource(Protocol):
    """Where a run's agents get their model clients; the runner asks once per agent (and the selector)."""

    def spec_for(self, agent: str, resolve: Resolve) -> ResolvedModel | None:
        """The agent's resolved model (a live source calls `resolve()`; a replaying one resolves offline);
        None when the source does not know it (one client for every agent)."""
        ...

    def get(self, spec: ResolvedModel | None, agent: str) -> ChatCompletionClient:
        """The client for `agent` using `spec`."""
        ...

    async def prepare(self) -> None:
        """Finish setting clients up before the first message (load an engine, discover a model id)."""
        ...

    async def aclose(self) -> None:
        """Close every client this source made."""
        ...


@dataclass(frozen=True)
class RunHooks:
    """What record and replay change about a run, in one place (each is optional).

    `clients`: where the agents' model clients come from (default: a live `ClientPool`, closed with the run).
    `wrap_workbench(agent, workbench)` and `wrap_tool(python_tool)` see every tool call.
    `replace_mcp(agent, mcp_use)` answers an agent's MCP tools itself; then no MCP server is started, and
    `replace_prompt(mcp_prompt)` gives the text of the MCP prompts the scenario uses.
    `on_mcp_note(note)` hears what servers ask and say; `on_prompt(mcp_prompt, text)` each prompt fetched.
    `wrap_human(agent, answer)` sees (record) or gives (replay) every answer of a user agent.
    """

    clients: ClientSource | None = None
    wrap_workbench: Callable[[str, Workbench], Workbench] | None = None
    wrap_tool: Callable[[BaseTool[Any, Any]], BaseTool[Any, Any]] | None = None
    replace_mcp: Callable[[str, McpUse], Workbench] | None = None
    replace_prompt: Callable[[McpPrompt], str] | None = None
    on_mcp_note: Callable[[McpNote], None] | None = None
    on_prompt: Callable[[McpPrompt, str], None] | None = None
    wrap_human: Callable[[str, Answer], Answer] | None = None


def stacked(outer: RunHooks, inner: RunHooks) -> RunHooks:
    """Both hooks at once: each call goes through `outer`'s wrappers, then `inner`'s (clients: `outer`'s)."""

    def chain(o: Any, i: Any, two: bool) -> Any:
        if o is None or i is None:
            return o or i
        return (lambda a, b: o(a, i(a, b))) if two else (lambda a: o(i(a)))

    return RunHooks(
        clients=outer.clients or inner.clients,
        wrap_workbench=chain(outer.wrap_workbench, inner.wrap_workbench, True),
        wrap_tool=chain(outer.wrap_tool, inner.wrap_tool, False),
        replace_mcp=outer.replace_mcp or inner.replace_mcp,
        replace_prompt=outer.replace_prompt or inner.replace_prompt,
        on_mcp_note=outer.on_mcp_note or inner.on_mcp_note,
        on_prompt=outer.on_prompt or inner.on_prompt,
        wrap_human=chain(outer.wrap_human, inner.wrap_human, True),
    )


@dataclass(frozen=True)
class ToolText:
    """A tool's result given as its text (a replayed result): `wrapped_tool` shows it as it is."""

    text: str


class OneClient:
    """A client source giving every agent the same client (`run_scenario(model_client=...)`); the caller
    closes it."""

    def __init__(self, client: ChatCompletionClient) -> None:
        self._client = client

    def spec_for(self, agent: str, resolve: Resolve) -> ResolvedModel | None:
        return None

    def get(self, spec: ResolvedModel | None, agent: str) -> ChatCompletionClient:
        return self._client

    async def prepare(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def delegating_client(impl: Any) -> ChatCompletionClient:
    """A ChatCompletionClient that passes every call to `impl`, a plain object (AutoGen checks the type)."""
    return _client_class()(impl)


def guarded(
    client: ChatCompletionClient, errors: list[TroupeError], *, agent: str | None = None
) -> ChatCompletionClient:
    """`client`, noting in `errors` every error of ours it raises (before AutoGen turns it into text), and
    reporting each call of `agent`'s as a `waiting` status until its answer (models._status)."""
    return delegating_client(_Guard(client, errors, agent))


class _Guard:
    def __init__(self, inner: Any, errors: list[TroupeError], agent: str | None = None) -> None:
        self._inner = inner
        self._errors = errors
        self._agent = agent

    def _waiting(self, what: str) -> None:
        if self._agent is not None:
            from ..models._status import ModelStatus, report_status

            report_status(ModelStatus("waiting", f"{self._agent}: waiting for {what}", agent=self._agent))

    async def create(self, messages: Any, **kw: Any) -> Any:
        self._waiting("the answer")
        try:
            return await self._inner.create(messages, **kw)
        except TroupeError as e:
            self._errors.append(e)
            raise

    async def create_stream(self, messages: Any, **kw: Any) -> AsyncGenerator[Any, None]:
        self._waiting("the first token")
        try:
            async for item in self._inner.create_stream(messages, **kw):
                yield item
        except TroupeError as e:
            self._errors.append(e)
            raise

    async def close(self) -> None:
        return None  # the client source closes the client it made

    def __getattr__(self, name: str) -> Any:  # usage counters, model_info, count_tokens...
        return getattr(self._inner, name)


def wrapped_tool(inner: Any, run_json: Callable[..., Any]) -> Any:
    """`inner` (a Python tool) with its calls going through `run_json(inner, args, token, call_id)`."""
    return _tool_class()(inner, run_json)


def delegating_workbench(
    list_tools: Callable[[], Any],
    call_tool: Callable[..., Any],
    *,
    inner: Any = None,
    state: Mapping[str, Any] | None = None,
) -> Workbench:
    """A Workbench whose listing and calls are the given functions; the rest goes to `inner`, if any."""
    return _workbench_class()(list_tools, call_tool, inner=inner, state=state)


# --------------------------------------------------------------------------- the AutoGen classes


@functools.cache
def _client_class() -> type:
    """A ChatCompletionClient subclass that delegates to a plain object (AutoGen checks the type).

    Built on first use, so importing this module imports no AutoGen code.
    """
    from autogen_core.models import ChatCompletionClient

    class DelegatingClient(ChatCompletionClient):
        def __init__(self, impl: Any) -> None:
            self._impl = impl

        async def create(self, messages: Any, **kw: Any) -> Any:
            return await self._impl.create(messages, **kw)

        def create_stream(self, messages: Any, **kw: Any) -> Any:
            return self._impl.create_stream(messages, **kw)

        async def close(self) -> None:
            close = getattr(self._impl, "close", None)
            if close is not None:
                await close()

        def actual_usage(self) -> Any:
            return self._impl.actual_usage()

        def total_usage(self) -> Any:
            return self._impl.total_usage()

        def count_tokens(self, messages: Any, *, tools: Any = ()) -> int:
            return self._impl.count_tokens(messages, tools=tools)

        def remaining_tokens(self, messages: Any, *, tools: Any = ()) -> int:
            return self._impl.remaining_tokens(messages, tools=tools)

        @property
        def capabilities(self) -> Any:  # deprecated in AutoGen, still abstract
            return self._impl.model_info

        @property
        def model_info(self) -> Any:
            return self._impl.model_info

    return DelegatingClient


@functools.cache
def _tool_class() -> type:
    from autogen_core.tools import BaseTool

    class WrappedTool(BaseTool[Any, Any]):
        """A Python tool seen through record/replay: same name, description and schema."""

        def __init__(self, inner: Any, run_json: Callable[..., Any]) -> None:
            strict = getattr(inner, "_strict", False)
            super().__init__(inner.args_type(), inner.return_type(), inner.name, inner.description, strict)
            self._inner = inner
            self._run_json = run_json

        @property
        def schema(self) -> Any:
            return self._inner.schema

        async def run(self, args: Any, cancellation_token: Any) -> Any:  # run_json does the work
            raise NotImplementedError

        async def run_json(
            self, args: Mapping[str, Any], cancellation_token: Any, call_id: str | None = None
        ) -> Any:
            return await self._run_json(self._inner, args, cancellation_token, call_id)

        def return_value_as_string(self, value: Any) -> str:
            if isinstance(value, ToolText):
                return value.text
            return self._inner.return_value_as_string(value)

    return WrappedTool


@functools.cache
def _workbench_class() -> type:
    from autogen_core.tools import Workbench

    class DelegatingWorkbench(Workbench):
        """A workbench whose listing and calls are given functions; the rest goes to `inner`, if any."""

        def __init__(
            self,
            list_tools: Callable[[], Any],
            call_tool: Callable[..., Any],
            *,
            inner: Any = None,
            state: Mapping[str, Any] | None = None,
        ) -> None:
            self._list_tools = list_tools
            self._call_tool = call_tool
            self._inner = inner
            self._state = dict(state or {})

        async def list_tools(self) -> list[Any]:
            return await self._list_tools()

        async def call_tool(
            self,
            name: str,
            arguments: Mapping[str, Any] | None = None,
            cancellation_token: Any = None,
            call_id: str | None = None,
        ) -> Any:
            return await self._call_tool(name, arguments, cancellation_token, call_id)

        async def start(self) -> None:
            if self._inner is not None:
                await self._inner.start()

        async def stop(self) -> None:
            if self._inner is not None:
                await self._inner.stop()

        async def reset(self) -> None:
            if self._inner is not None:
                await self._inner.reset()

        async def save_state(self) -> Mapping[str, Any]:
            return await self._inner.save_state() if self._inner is not None else dict(self._state)

        async def load_state(self, state: Mapping[str, Any]) -> None:
            if self._inner is not None:
                await self._inner.load_state(state)

    return DelegatingWorkbench
