"""Validated scenario → AutoGen agents, team and termination condition.

The only module that calls AutoGen's agent, team and condition constructors (pinned to 0.7.x). It knows
nothing of files: model clients, workbenches and Python tools come in through callables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autogen_agentchat.agents import AssistantAgent, UserProxyAgent
from autogen_agentchat.base import ChatAgent, TerminationCondition
from autogen_agentchat.base import Team as AutogenTeam
from autogen_agentchat.conditions import (
    HandoffTermination,
    MaxMessageTermination,
    SourceMatchTermination,
    TextMentionTermination,
    TimeoutTermination,
    TokenUsageTermination,
)
from autogen_agentchat.messages import StructuredMessage
from autogen_agentchat.teams import RoundRobinGroupChat, Swarm
from autogen_core.models import ChatCompletionClient
from autogen_core.tools import BaseTool, Workbench
from pydantic import BaseModel

from .._redact import safe_url
from ..errors import ProfileError, TroupeError, UsageError
from ..models._capabilities import Capabilities
from ..models._facts import ModelLimits
from ..scenario._guards import MaxToolCalls, RepeatedMessage, RepeatedToolCall
from ..scenario._schema import (
    Agent,
    AnyOf,
    HandoffRule,
    Limits,
    MaxMessages,
    McpUse,
    ModelContext,
    ModelRef,
    PythonToolUse,
    Scenario,
    SourceMatch,
    TermRule,
    TextMention,
    Timeout,
    TokenUsage,
)
from ._a2a import RemoteA2aAgent
from ._graph_flow import TroupeGraphFlow
from ._guards import RepeatedMessageGuard, RepeatedToolCallGuard, ToolCallBudget, limit_guards
from ._output import check_imported_outputs, output_type
from ._selector import TroupeSelectorGroupChat
from ._stop import StopWatch, named
from ._stop import named as _named

__all__ = [
    "CapabilitiesFor",
    "ClientFor",
    "HumanFor",
    "LimitsFor",
    "RemoteFor",
    "ToolFor",
    "WorkbenchFor",
    "assemble_agent",
    "assemble_team",
    "build_termination",
    "limit_conditions",
]

ClientFor = Callable[[str, ModelRef], ChatCompletionClient]
"""(agent name or 'selector', the model it asks for) → the client it talks to."""
WorkbenchFor = Callable[[str, McpUse], Workbench]
"""(agent name, its use of a server) → the workbench view it calls tools through."""
ToolFor = Callable[[PythonToolUse], BaseTool[Any, Any]]
LimitsFor = Callable[[str], "ModelLimits | None"]
"""(agent name or 'selector') → what sizes its model context (None: nothing known)."""
CapabilitiesFor = Callable[[str], Capabilities]
"""(agent name or 'selector') → what its model's endpoint can do (constrained decisions)."""
HumanFor = Callable[[Agent], Callable[..., Any]]
"""(a user agent) → its input function `(prompt, cancellation_token) -> answer` (see runtime._human)."""
RemoteFor = Callable[[Agent], BaseTool[Any, Any]]
"""(a `kind: a2a` agent) → the call that asks its remote agent (tools._a2a_call, perhaps recorded)."""


_SELECTOR_PROMPT = (  # the length of AutoGen 0.7.5's default selector prompt, less its {history}
    "You are in a role play game. The following roles are available: Read the following conversation. "
    "Then select the next role from to play. Only return the role."
)


def build_termination(rule: TermRule, *, names: bool = True) -> TerminationCondition:
    """One scenario termination rule (possibly nested any/all) as an AutoGen condition; each leaf carries
    its stable name (see `_stop`), so a run it stops says which rule it was; `names=False` (an export to
    plain AutoGen, which cannot load our wrapper) builds AutoGen's conditions bare."""

    def named(condition: TerminationCondition, name: str) -> TerminationCondition:
        return _named(condition, name) if names else condition

    if isinstance(rule, TextMention):
        return named(
            TextMentionTermination(rule.text_mention, sources=list(rule.sources) if rule.sources else None),
            "text_mention",
        )
    if isinstance(rule, MaxMessages):
        return named(MaxMessageTermination(rule.max_messages), "max_messages")
    if isinstance(rule, TokenUsage):
        return named(TokenUsageTermination(max_total_token=rule.token_usage), "token_usage")
    if isinstance(rule, Timeout):
        return named(TimeoutTermination(rule.timeout_s), "timeout")
    if isinstance(rule, HandoffRule):
        return named(HandoffTermination(rule.handoff), "handoff")
    if isinstance(rule, SourceMatch):
        return named(SourceMatchTermination(list(rule.source_match)), "source_match")
    if isinstance(rule, RepeatedToolCall):
        return named(RepeatedToolCallGuard(rule.repeated_tool_call), RepeatedToolCallGuard.name)
    if isinstance(rule, RepeatedMessage):
        guard = RepeatedMessageGuard(rule.repeated_message.times, rule.repeated_message.similarity)
        return named(guard, guard.name)
    if isinstance(rule, MaxToolCalls):
        budget = ToolCallBudget(rule.max_tool_calls, tool=rule.tool)
        return named(budget, budget.name)
    parts = [build_termination(r, names=names) for r in (rule.any if isinstance(rule, AnyOf) else rule.all)]
    combined = parts[0]
    for p in parts[1:]:
        combined = (combined | p) if isinstance(rule, AnyOf) else (combined & p)
    return combined


def limit_conditions(limits: Limits) -> TerminationCondition:
    """The caps every run gets on top of its own rule, so nothing runs forever: messages, time, and the
    guards `limits` sets (loop breakers on by default; budgets when given), each named as a `limit`."""
    caps = named(MaxMessageTermination(limits.max_messages), "max_messages", kind="limit") | named(
        TimeoutTermination(limits.timeout_s), "timeout", kind="limit"
    )
    for guard in limit_guards(limits):
        caps = caps | named(guard, guard.name, kind="limit")
    return caps


def _default_system_message() -> str:
    import inspect

    return str(inspect.signature(AssistantAgent.__init__).parameters["system_message"].default or "")


def model_context(
    choice: ModelContext | None,
    limits: ModelLimits | None,
    *,
    system_message: str = "",
    tools: Callable[[], Any] | None = None,
) -> Any:
    """The model context for an agent (or the selector): its scenario choice (else what its model works
    best with), kept within the model's context length when that is known."""
    from ._context import ContextBudget, TroupeModelContext

    budget = None
    if limits is not None and limits.context_length is not None:
        budget = ContextBudget(limits.context_length, limits.completion, system_message, tools)
    if choice is None and limits is not None:
        choice = limits.default_context
    return TroupeModelContext(choice, budget=budget)


def _tool_lister(tools: list[BaseTool[Any, Any]], workbenches: list[Workbench]) -> Callable[[], Any] | None:
    if not tools and not workbenches:
        return None

    async def schemas() -> list[Any]:
        listed: list[Any] = [t.schema for t in tools]
        for wb in workbenches:
            listed.extend(await wb.list_tools())
        return listed

    return schemas


def assemble_agent(
    agent: Agent,
    *,
    scenario_model: ModelRef,
    client_for: ClientFor,
    workbench_for: WorkbenchFor | None = None,
    tool_for: ToolFor | None = None,
    limits_for: LimitsFor | None = None,
    team_context: ModelContext | None = None,
    output: type[BaseModel] | None = None,
) -> AssistantAgent:
    """An AssistantAgent for one scenario agent, with its model, tools, MCP workbenches and model context;
    `output` is the model of its structured answers (default: from its `output_schema`)."""
    client = client_for(agent.name, agent.model if agent.model is not None else scenario_model)
    tools: list[BaseTool[Any, Any]] = []
    if agent.tools:
        if tool_for is None:
            raise UsageError(f"agent {agent.name!r} names Python tools but no tool loader was given")
        tools = [tool_for(t) for t in agent.tools]
    workbenches: list[Workbench] = []
    if agent.mcp:
        if workbench_for is None:
            raise UsageError(
                f"agent {agent.name!r} uses MCP servers; open the team with `open_team(...)` or "
                "`run_scenario(...)`, which start them"
            )
        workbenches = [workbench_for(agent.name, use) for use in agent.mcp]
    kwargs: dict[str, Any] = {}
    system_message = agent.system_message
    if system_message is not None and not isinstance(system_message, str):
        raise UsageError(
            f"agent {agent.name!r} takes its system message from an MCP prompt, which is fetched once its "
            "server runs: use `open_team(...)` or `run_scenario(...)`"
        )
    if system_message is not None:
        kwargs["system_message"] = system_message
    kwargs["model_context"] = model_context(
        agent.model_context or team_context,
        limits_for(agent.name) if limits_for is not None else None,
        system_message=system_message if system_message is not None else _default_system_message(),
        tools=_tool_lister(tools, workbenches),
    )
    if agent.handoffs:
        kwargs["handoffs"] = list(agent.handoffs)
    output = output or output_type(agent)
    if output is not None:
        kwargs["output_content_type"] = output
    if workbenches:
        # AutoGen takes either tools or workbenches; Python tools join as one more static workbench.
        if tools:
            from autogen_core.tools import StaticWorkbench

            workbenches.append(StaticWorkbench(tools))
            tools = []
        kwargs["workbench"] = workbenches if len(workbenches) > 1 else workbenches[0]
    elif tools:
        kwargs["tools"] = tools
    if (tools or workbenches or agent.handoffs) and client.model_info.get("function_calling") is False:
        raise ProfileError(  # AutoGen would say only "The model does not support function calling."
            f"agent {agent.name!r} uses tools or handoffs, but its model cannot call tools (model_info "
            "function_calling is false): give an in-process model a `tool_parser:` (one of vLLM's tool-call "
            "parsers) in its profile, or an endpoint `model_info: {function_calling: true}`"
        )
    return AssistantAgent(
        agent.name,
        model_client=client,
        description=agent.description,
        model_client_stream=agent.stream,
        reflect_on_tool_use=agent.reflect_on_tool_use,
        max_tool_iterations=agent.max_tool_iterations,
        **kwargs,
    )


def assemble_team(
    scenario: Scenario,
    *,
    client_for: ClientFor,
    workbench_for: WorkbenchFor | None = None,
    tool_for: ToolFor | None = None,
    extra_termination: TerminationCondition | None = None,
    limits_for: LimitsFor | None = None,
    human_for: HumanFor | None = None,
    remote_for: RemoteFor | None = None,
    on_error: Callable[[TroupeError], None] | None = None,
    capabilities_for: CapabilitiesFor | None = None,
) -> AutogenTeam:
    """The AutoGen team for a scenario; `extra_termination` is OR-ed with the scenario's rule (the caps).

    A user agent (`kind: user`) is a UserProxyAgent asking through `human_for(agent)` (None: AutoGen's
    own, the terminal's `input()`); a remote one (`kind: a2a`) asks through `remote_for(agent)`, noting
    its errors with `on_error`."""
    team = scenario.team

    def remote(a: Agent) -> ChatAgent:
        if remote_for is None:
            raise UsageError(f"agent {a.name!r} is a remote A2A agent: open the team with `open_team(...)`")
        return RemoteA2aAgent(
            a.name, a.description, call=remote_for(a), url=safe_url(a.url), on_error=on_error
        )

    search = (scenario.source.parent,) if scenario.source else ()
    outputs = [
        output_type(a, index=i, search_path=search, source=scenario.source) for i, a in enumerate(team.agents)
    ]
    agents: list[ChatAgent] = [
        UserProxyAgent(a.name, description=a.description, input_func=human_for(a) if human_for else None)
        if a.kind == "user"
        else remote(a)
        if a.kind == "a2a"
        else assemble_agent(
            a,
            scenario_model=scenario.model,
            client_for=client_for,
            workbench_for=workbench_for,
            tool_for=tool_for,
            limits_for=limits_for,
            team_context=team.model_context,
            output=out,
        )
        for a, out in zip(team.agents, outputs, strict=True)
    ]
    termination = build_termination(team.termination) if team.termination is not None else None
    if extra_termination is not None:
        termination = extra_termination if termination is None else (termination | extra_termination)
    watch = StopWatch(termination) if termination is not None else None  # which condition stopped it
    common: dict[str, Any] = {"termination_condition": watch, "max_turns": team.max_turns}
    # AutoGen's agent announces its structured answers as the bare StructuredMessage, so a team would
    # refuse StructuredMessage[Model] ("is not registered"): each agent's own is registered here.
    structured: list[Any] = [
        StructuredMessage[o]  # type: ignore[valid-type]  # a model class known at run time, as AutoGen does
        for o in dict.fromkeys(outputs)
        if o is not None
    ]
    if structured:
        common["custom_message_types"] = structured
    members: list[ChatAgent | AutogenTeam] = list(agents)  # what AutoGen's group chats are typed to take
    if team.kind in ("round_robin", "single"):
        if team.kind == "single" and team.max_turns is None:
            common["max_turns"] = 1  # a single agent answers the task once, as agent.run() would
        return RoundRobinGroupChat(members, **common)
    if team.kind == "graph":
        check_imported_outputs(team, outputs, scenario.source)
        return TroupeGraphFlow(agents, team, **common)
    if team.kind == "selector":
        selector_ref = team.selector_model if team.selector_model is not None else scenario.model
        kwargs: dict[str, Any] = {"allow_repeated_speaker": team.allow_repeated_speaker}
        if team.selector_prompt is not None:
            kwargs["selector_prompt"] = team.selector_prompt
        selector_client = client_for("selector", selector_ref)
        roles = "\n".join(f"{a.name}: {a.description}" for a in team.agents)
        kwargs["model_context"] = model_context(
            team.model_context,
            limits_for("selector") if limits_for is not None else None,
            system_message=(team.selector_prompt or _SELECTOR_PROMPT) + roles * 2,  # roles and participants
        )
        if capabilities_for is not None:
            kwargs["capabilities"] = capabilities_for("selector")
        return TroupeSelectorGroupChat(members, model_client=selector_client, **kwargs, **common)
    return Swarm(agents, **common)
