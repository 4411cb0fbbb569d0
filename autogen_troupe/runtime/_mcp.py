"""The run's side of what MCP servers may ask of our client: per-server options from the scenario, the
sampler that answers with the calling agent's own model client, server notes as transcript entries, and
MCP prompts turned into the text of system messages and the task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ToolCallError
from ..scenario._schema import McpPrompt, PromptPart, PromptText, Scenario, prompt_parts
from ..tools._mcp_client import (
    Ask,
    McpClientOptions,
    McpNote,
    SampleReply,
    SampleRequest,
    SamplingLimits,
)
from ._transcript import McpEvent, Usage

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient

    from ..tapes._hooks import RunHooks

__all__ = [
    "client_options",
    "has_prompts",
    "note_entry",
    "note_sinks",
    "prompt_source",
    "resolve_prompts",
    "text_preview",
]

FetchPrompt = Callable[[McpPrompt], Awaitable[str]]


def note_entry(note: McpNote, elapsed_s: float) -> McpEvent:
    """A server's note as a transcript entry, with the sampling's usage counted in the run's."""
    usage = None
    if note.kind == "sampling" and "completion_tokens" in note.data:
        usage = Usage(
            prompt_tokens=int(note.data.get("prompt_tokens") or 0),
            completion_tokens=int(note.data.get("completion_tokens") or 0),
        )
    return McpEvent(
        source=note.agent or f"mcp:{note.server}",
        elapsed_s=round(elapsed_s, 3),
        usage=usage,
        server=note.server,
        what=note.kind,
        content=note.text,
        tool=note.tool,
        call_id=note.call_id,
        data=dict(note.data),
    )


def client_options(
    scenario: Scenario,
    *,
    ask: Ask | None,
    clients: Mapping[str, ChatCompletionClient],
    models: Mapping[str, Any] | None = None,
    on_note: Callable[[McpNote], None] | None,
    confirm: Any = None,
) -> dict[str, McpClientOptions]:
    """How our client treats each of the scenario's servers: its elicitation policy (with `ask`, the
    person at the console, when there is one), sampling through the agents' clients (filled in as the
    team is built), its roots (relative to the scenario's folder), where its notes go, and who approves
    its tool calls (`confirm`, tools._approvals)."""
    base = scenario.source.parent if scenario.source is not None else Path.cwd()
    out: dict[str, McpClientOptions] = {}
    for name, server in scenario.mcp_servers.items():
        users = [a.name for a in scenario.team.agents if any(u.server == name for u in a.mcp)]
        limits = None
        if server.sampling is not None:
            s = server.sampling
            limits = SamplingLimits(s.max_calls, s.max_tokens, s.max_tokens_per_call)
        out[name] = McpClientOptions(
            server=name,
            elicitation=server.elicitation,
            ask=ask,
            sampling=limits,
            sampler=_Sampler(clients, users, models if models is not None else {}) if limits else None,
            roots=tuple(r if r.startswith("file://") else str((base / r).resolve()) for r in server.roots),
            on_note=on_note,
            log_level=server.log_level,
            confirm=confirm,
        )
    return out


class _Sampler:
    """Answers a server's sampling request with the model client of the agent whose tool call caused it
    (on older protocols: of the newest running call, see `RunningCalls`); with none known, the first
    agent that uses the server."""

    def __init__(
        self, clients: Mapping[str, ChatCompletionClient], users: list[str], models: Mapping[str, Any]
    ) -> None:
        self._clients = clients
        self._models = models  # agent -> ResolvedModel, to name the model in the reply
        self._users = users

    async def __call__(self, request: SampleRequest) -> SampleReply:
        from autogen_core.models import AssistantMessage, LLMMessage, SystemMessage, UserMessage

        agent = request.agent if request.agent in self._clients else None
        agent = agent or next((u for u in self._users if u in self._clients), None)
        if agent is None:
            raise ToolCallError(f"no agent's model can answer MCP server {request.server!r}")
        messages: list[LLMMessage] = []
        if request.system_prompt:
            messages.append(SystemMessage(content=request.system_prompt))
        for role, text in request.messages:
            if role == "assistant":
                messages.append(AssistantMessage(content=text, source=agent))
            else:
                messages.append(UserMessage(content=text, source=f"mcp_{request.server}"))
        args: dict[str, Any] = {"max_tokens": request.max_tokens}
        if request.temperature is not None:
            args["temperature"] = request.temperature
        if request.stop:
            args["stop"] = list(request.stop)
        client = self._clients[agent]
        result = await client.create(messages, extra_create_args=args)
        text = result.content if isinstance(result.content, str) else str(result.content)
        spec = self._models.get(agent)
        model = str(getattr(spec, "model", None) or client.model_info.get("family") or "model")
        return SampleReply(
            text=text,
            model=model,
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            stop_reason="maxTokens" if result.finish_reason == "length" else "endTurn",
        )


# --------------------------------------------------------------------------- prompts as text


def has_prompts(scenario: Scenario) -> bool:
    """Whether the task or a system message comes from an MCP prompt."""
    return bool(prompt_parts(scenario.task)) or any(
        prompt_parts(a.system_message) for a in scenario.team.agents
    )


async def _text(text: PromptText, fetch: FetchPrompt) -> str:
    if isinstance(text, str):
        return text
    parts = (text,) if isinstance(text, PromptPart) else text
    return "\n\n".join([p if isinstance(p, str) else await fetch(p.mcp_prompt) for p in parts])


async def resolve_prompts(scenario: Scenario, fetch: FetchPrompt) -> Scenario:
    """The scenario with every MCP prompt fetched: plain-text system messages and task."""
    agents = []
    for a in scenario.team.agents:
        if prompt_parts(a.system_message):
            assert a.system_message is not None
            a = a.model_copy(update={"system_message": await _text(a.system_message, fetch)})
        agents.append(a)
    update: dict[str, Any] = {"team": scenario.team.model_copy(update={"agents": tuple(agents)})}
    if scenario.task is not None and prompt_parts(scenario.task):
        update["task"] = await _text(scenario.task, fetch)
    resolved = scenario.model_copy(update=update)
    resolved._source = scenario.source
    return resolved


def text_preview(text: PromptText | None) -> str:
    """A text as a line before its prompts are fetched (a run that fails to start still names its task)."""
    if text is None or isinstance(text, str):
        return text or ""
    parts = (text,) if isinstance(text, PromptPart) else text
    return " ".join(
        p if isinstance(p, str) else f"<MCP prompt {p.mcp_prompt.name!r} of {p.mcp_prompt.server!r}>"
        for p in parts
    )


def note_sinks(*sinks: Callable[[McpNote], None] | None) -> Callable[[McpNote], None] | None:
    """One listener calling each given one (the run's transcript, a recording)."""
    given = [s for s in sinks if s is not None]
    if not given:
        return None

    def note(n: McpNote) -> None:
        for s in given:
            s(n)

    return note


def prompt_source(mcp: Any, hooks: RunHooks) -> Callable[[Any], Any]:
    """Where MCP prompts' text comes from: the replay's cassette, else the running server (noted for a
    recording)."""
    replace, seen = hooks.replace_prompt, hooks.on_prompt

    async def fetch(ref: Any) -> str:
        if replace is not None:
            return replace(ref)
        text: str = await mcp.prompt(ref)
        if seen is not None:
            seen(ref, text)
        return text

    return fetch
