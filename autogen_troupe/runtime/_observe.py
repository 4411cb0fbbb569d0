"""Where a run meets its telemetry: the model clients, workbenches and Python tools of a traced run are
wrapped here, so live, recorded and replayed runs make the same spans (see `telemetry/_spans`).

Only a run with telemetry on is wrapped (`telemetry.enabled()`); otherwise nothing here is called.
Message contents go on spans only when the run captures them, always through `_redact` first.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncGenerator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._redact import redact_data, redact_text
from ..tapes._hooks import delegating_client, delegating_workbench, wrapped_tool

if TYPE_CHECKING:
    from ..telemetry import ChatFacts, RunTelemetry, ToolFacts

__all__ = [
    "TeamObserver",
    "chat_facts",
    "observed_client",
    "observed_tool",
    "observed_workbench",
    "observing",
    "tool_facts",
]

_FINISH = {"function_calls": "tool_calls"}  # AutoGen's name for what the wire calls tool_calls


def chat_facts(spec: Any, client: Any = None) -> ChatFacts:
    """What a model call's span says from the agent's resolved model (None: a client given as it is)."""
    from ..models._registry import get_provider
    from ..models._resolved import as_resolved
    from ..telemetry._facts import ChatFacts

    if spec is None:
        return ChatFacts(provider=_provider_of(client), request_model=getattr(client, "model", None))
    try:
        model = as_resolved(spec)
    except Exception:  # a spec we cannot type: name what we can
        return ChatFacts(provider=getattr(spec, "provider", None), request_model=getattr(spec, "model", None))
    return get_provider(model.provider).chat_facts(model)


def _provider_of(client: Any) -> str:
    """The provider of a client given as it is (`model_client=`): OpenAI's clients, else `_OTHER`."""
    names = {cls.__name__ for cls in type(client).__mro__}
    if "AzureOpenAIChatCompletionClient" in names:
        return "azure.ai.openai"
    return "openai" if "BaseOpenAIChatCompletionClient" in names else "_OTHER"


def tool_facts(server: str, config: Any) -> ToolFacts:
    """What an MCP tool call's span says: the server's name, and its transport and address."""
    from ..scenario._schema import HttpServer
    from ..telemetry._facts import ToolFacts, host_port

    if isinstance(config, HttpServer):
        host, port = host_port(str(config.url))
        return ToolFacts(mcp_server=server, transport="tcp", server_address=host, server_port=port)
    return ToolFacts(mcp_server=server, transport="pipe")


def _error_type(e: BaseException) -> str:
    return type(e).__name__


def _error_message(e: BaseException) -> str:
    return redact_text(f"{type(e).__name__}: {e}")[:500]


# --------------------------------------------------------------------------- model calls


def observed_client(client: Any, facts: ChatFacts, run: RunTelemetry) -> Any:
    """`client`, with a `chat {model}` span around every call it makes."""
    return delegating_client(_ObservedChat(client, facts, run))


class _ObservedChat:
    def __init__(self, inner: Any, facts: ChatFacts, run: RunTelemetry) -> None:
        from ..telemetry._spans import ChatCall

        self._inner = inner
        self._facts = facts
        self._run = run
        self._chat = ChatCall

    def _call(self, *, stream: bool) -> Any:
        facts = self._facts
        if facts.request_model is None and (model := getattr(self._inner, "model", None)):
            facts = self._facts = dataclasses.replace(facts, request_model=model)  # discovered from /models
        return self._chat(self._run, facts, stream=stream)

    async def create(self, messages: Any, **kw: Any) -> Any:
        call = self._call(stream=False)
        try:
            with call.attached():
                result = await self._inner.create(messages, **kw)
        except BaseException as e:
            call.finish(error_type=_error_type(e), error_message=_error_message(e))
            raise
        _finish(call, messages, result)
        return result

    async def create_stream(self, messages: Any, **kw: Any) -> AsyncGenerator[Any, None]:
        # The span is current only while the inner stream works (each step), never across a yield: the
        # consumer may leave the stream from another context, where a context attached here could not
        # be detached.
        call = self._call(stream=True)
        result = None
        stream = self._inner.create_stream(messages, **kw)
        try:
            while True:
                with call.attached():
                    try:
                        item = await stream.__anext__()
                    except StopAsyncIteration:
                        break
                if not isinstance(item, str):
                    result = item
                yield item
        except GeneratorExit:  # the consumer left early: the call ended without an answer for it
            call.finish()
            await stream.aclose()
            raise
        except BaseException as e:
            call.finish(error_type=_error_type(e), error_message=_error_message(e))
            await stream.aclose()
            raise
        _finish(call, messages, result)

    async def close(self) -> None:
        return None  # the pool closes the client it made

    def __getattr__(self, name: str) -> Any:  # usage counters, model_info, count_tokens...
        return getattr(self._inner, name)


def _finish(call: Any, messages: Any, result: Any) -> None:
    usage = getattr(result, "usage", None)
    reason = getattr(result, "finish_reason", None)
    if call._run.capture and result is not None:
        call.content(input_messages=_dumps(_inputs(messages)), output_messages=_dumps(_outputs(result)))
    call.finish(
        input_tokens=getattr(usage, "prompt_tokens", None),
        output_tokens=getattr(usage, "completion_tokens", None),
        finish_reason=_FINISH.get(str(reason), str(reason)) if reason else None,
    )


# --------------------------------------------------------------------------- message contents


def _dumps(data: Any) -> str:
    """JSON of `data`, every secret masked (what the conventions' message schemas hold)."""
    return json.dumps(redact_data(data), ensure_ascii=False)


def _text_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for item in content or ():
        if isinstance(item, str):
            parts.append({"type": "text", "content": item})
        elif hasattr(item, "arguments") and hasattr(item, "name"):  # a FunctionCall
            parts.append({"type": "tool_call", "id": item.id, "name": item.name, "arguments": _args(item)})
        elif hasattr(item, "call_id"):  # a FunctionExecutionResult
            parts.append({"type": "tool_call_response", "id": item.call_id, "result": str(item.content)})
        else:
            parts.append({"type": type(item).__name__.lower()})  # an image: its kind, not its bytes
    return parts


def _args(call: Any) -> Any:
    try:
        return json.loads(call.arguments)
    except (TypeError, ValueError):
        return call.arguments


_ROLES = {
    "SystemMessage": "system",
    "UserMessage": "user",
    "AssistantMessage": "assistant",
    "FunctionExecutionResultMessage": "tool",
}


def _inputs(messages: Any) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        message: dict[str, Any] = {"role": _ROLES.get(type(m).__name__, "user"), "parts": []}
        if getattr(m, "thought", None):
            message["parts"].append({"type": "reasoning", "content": m.thought})
        message["parts"] += _text_parts(getattr(m, "content", ""))
        if isinstance(getattr(m, "source", None), str):
            message["name"] = m.source
        out.append(message)
    return out


def _outputs(result: Any) -> list[dict[str, Any]]:
    parts = [{"type": "reasoning", "content": result.thought}] if getattr(result, "thought", None) else []
    reason = str(getattr(result, "finish_reason", "") or "")
    return [
        {
            "role": "assistant",
            "parts": parts + _text_parts(result.content),
            "finish_reason": _FINISH.get(reason, reason),
        }
    ]


# --------------------------------------------------------------------------- tool calls


def observed_workbench(workbench: Any, facts: ToolFacts, run: RunTelemetry) -> Any:
    """`workbench` (an agent's MCP view, or what record/replay put there), with an `execute_tool` span
    around every call."""

    from ..telemetry._spans import ToolCall

    async def call_tool(name: str, arguments: Any, token: Any, call_id: str | None) -> Any:
        call = ToolCall(run, name, call_id, facts, None)
        try:
            with call.attached():
                result = await workbench.call_tool(name, arguments, token, call_id)
        except BaseException as e:
            call.finish(error_type=_error_type(e), error_message=_error_message(e))
            raise
        if run.capture:
            call.content(arguments=_dumps(dict(arguments or {})), result=_dumps(result.to_text()))
        if result.is_error:
            call.finish(error_type="tool_error", error_message=redact_text(result.to_text())[:500])
        else:
            call.finish()
        return result

    return delegating_workbench(workbench.list_tools, call_tool, inner=workbench)


def observed_tool(tool: Any, run: RunTelemetry) -> Any:
    """A Python tool with an `execute_tool` span around every call; a failure is a `tool_error`."""
    from ..telemetry._facts import ToolFacts
    from ..telemetry._spans import ToolCall

    facts = ToolFacts()
    description = redact_text(tool.description or "") or None

    async def run_json(inner: Any, args: Mapping[str, Any], token: Any, call_id: str | None) -> Any:
        call = ToolCall(run, inner.name, call_id, facts, description)
        try:
            with call.attached():
                value = await inner.run_json(args, token, call_id=call_id)
        except BaseException as e:
            call.finish(error_type="tool_error", error_message=_error_message(e))
            raise
        if run.capture:
            call.content(arguments=_dumps(dict(args)), result=_dumps(inner.return_value_as_string(value)))
        call.finish()
        return value

    return wrapped_tool(tool, run_json)


# --------------------------------------------------------------------------- a team's observer


class TeamObserver:
    """Puts spans around a team's model clients, MCP workbenches and Python tools when telemetry is on;
    hands them back untouched when it is off (`run` None)."""

    def __init__(self, run: RunTelemetry | None) -> None:
        self.run = run

    def client(self, client: Any, spec: Any, agent: str) -> Any:
        if self.run is None:
            return client
        facts = chat_facts(spec, client)
        self.run.agents[agent] = facts
        return observed_client(client, facts, self.run)

    def workbench(self, workbench: Any, server: str, config: Any) -> Any:
        if self.run is None:
            return workbench
        return observed_workbench(workbench, tool_facts(server, config), self.run)

    def tool(self, tool: Any) -> Any:
        return tool if self.run is None else observed_tool(tool, self.run)


@contextlib.contextmanager
def observing(env: Mapping[str, str] | None = None) -> Iterator[TeamObserver]:
    """The observer of a team being opened: the running troupe run's telemetry, or (for `open_team` used
    on its own) telemetry of its own without a run span; an observer that wraps nothing when off."""
    from ..telemetry._state import current_run, enabled

    if not enabled():
        yield TeamObserver(None)
        return
    from ..telemetry._spans import RunTelemetry
    from ._autogen_spans import install

    install()
    run = current_run()
    if run is not None:
        yield TeamObserver(run)
        return
    run = RunTelemetry(env=env)
    with run.active():
        yield TeamObserver(run)
