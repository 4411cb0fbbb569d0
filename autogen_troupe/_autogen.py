"""AutoGen's private names that troupe depends on, gathered in one place.

AutoGen 0.7 exposes no public way to do a few things we must: move a selector team on when its model names
nobody, rebuild an OpenAI client after unpickling, quiet its runtime's messaging spans, and cancel a team's
own message handlers on a stop. Each private name used for that is listed here with why, and looked up only
through `private(...)`, so an AutoGen release that moves one fails in one place with a message that names
it. `tests/test_autogen_private.py` resolves every name (module attributes, and the instance attributes on
real objects) so such a release fails the suite loudly instead of a run quietly.

Checked against the versions in `CHECKED_WITH` (the 0.7 line is in maintenance: 0.7.5 is the newest).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from .errors import UsageError

__all__ = [
    "CHECKED_WITH",
    "INSTANCE_ATTRIBUTES",
    "PRIVATE_NAMES",
    "AutoGenMoved",
    "PrivateName",
    "instance_attribute",
    "private",
]

CHECKED_WITH = {"autogen-agentchat": "0.7.5", "autogen-core": "0.7.5", "autogen-ext": "0.7.5"}


@dataclass(frozen=True)
class PrivateName:
    """`attribute` (dotted: `Class.method`) of `module`, and what troupe needs it for."""

    module: str
    attribute: str
    why: str


PRIVATE_NAMES: dict[str, PrivateName] = {
    "SelectorGroupChatManager": PrivateName(
        "autogen_agentchat.teams._group_chat._selector_group_chat",
        "SelectorGroupChatManager",
        "agents/_selector.py: the selector's manager, subclassed to move on when the model names nobody",
    ),
    "SelectorGroupChatManager._select_speaker": PrivateName(
        "autogen_agentchat.teams._group_chat._selector_group_chat",
        "SelectorGroupChatManager._select_speaker",
        "agents/_selector.py: the method the subclass wraps",
    ),
    "SelectorGroupChat._create_group_chat_manager_factory": PrivateName(
        "autogen_agentchat.teams",
        "SelectorGroupChat._create_group_chat_manager_factory",
        "agents/_selector.py: where the team makes its manager",
    ),
    "GraphFlowManager": PrivateName(
        "autogen_agentchat.teams._group_chat._graph._digraph_group_chat",
        "GraphFlowManager",
        "agents/_graph_flow.py: GraphFlow's manager, subclassed so our router picks the next nodes (it uses "
        "the manager's _output_message_queue, _termination_condition, _current_turn and _name)",
    ),
    "GraphFlow._create_group_chat_manager_factory": PrivateName(
        "autogen_agentchat.teams",
        "GraphFlow._create_group_chat_manager_factory",
        "agents/_graph_flow.py: where the graph team makes its manager",
    ),
    "ChatAgentContainer": PrivateName(
        "autogen_agentchat.teams._group_chat._chat_agent_container",
        "ChatAgentContainer",
        "agents/_graph_flow.py: a graph node's container, subclassed to hand its agent the messages of "
        "nodes that ran side by side in node order, not in the order they happened to finish",
    ),
    "GroupChatRequestPublish": PrivateName(
        "autogen_agentchat.teams._group_chat._events",
        "GroupChatRequestPublish",
        "agents/_graph_flow.py: the request the subclassed container handles",
    ),
    "GraphFlow._create_participant_factory": PrivateName(
        "autogen_agentchat.teams",
        "GraphFlow._create_participant_factory",
        "agents/_graph_flow.py: where the graph team makes its nodes' containers",
    ),
    "BaseGroupChatManager": PrivateName(
        "autogen_agentchat.teams._group_chat._base_group_chat_manager",
        "BaseGroupChatManager",
        "agents/_graph_flow.py: the base whose thread update and termination check the graph manager "
        "calls past GraphFlow's own",
    ),
    "BaseGroupChatManager._apply_termination_condition": PrivateName(
        "autogen_agentchat.teams._group_chat._base_group_chat_manager",
        "BaseGroupChatManager._apply_termination_condition",
        "agents/_graph_flow.py: the scenario's termination rules, checked while the graph has nodes to run",
    ),
    "BaseGroupChatManager._signal_termination": PrivateName(
        "autogen_agentchat.teams._group_chat._base_group_chat_manager",
        "BaseGroupChatManager._signal_termination",
        "agents/_graph_flow.py: ends the run when no node is left",
    ),
    "_openai_client_from_config": PrivateName(
        "autogen_ext.models.openai._openai_client",
        "_openai_client_from_config",
        "models/openai/_client.py: rebuilds the SDK client after unpickling (Ray workers)",
    ),
    "single_threaded_agent_runtime": PrivateName(
        "autogen_core",
        "_single_threaded_agent_runtime",
        "runtime/_autogen_spans.py: the runtime module whose messaging spans are quieted in traced runs",
    ),
    "get_telemetry_envelope_metadata": PrivateName(
        "autogen_core._single_threaded_agent_runtime",
        "get_telemetry_envelope_metadata",
        "runtime/_autogen_spans.py: trace context put in every message envelope",
    ),
    "SingleThreadedAgentRuntime._create_otel_attributes": PrivateName(
        "autogen_core._single_threaded_agent_runtime",
        "SingleThreadedAgentRuntime._create_otel_attributes",
        "runtime/_autogen_spans.py: a JSON dump of every message, made for each messaging span",
    ),
    "EnvelopeMetadata": PrivateName(
        "autogen_core._telemetry", "EnvelopeMetadata", "runtime/_autogen_spans.py: an empty envelope"
    ),
    "TraceHelper": PrivateName(
        "autogen_core._telemetry._tracing", "TraceHelper", "runtime/_autogen_spans.py: the messaging spans"
    ),
    "TraceHelper.trace_block": PrivateName(
        "autogen_core._telemetry._tracing", "TraceHelper.trace_block", "runtime/_autogen_spans.py"
    ),
    "trace_invoke_agent_span@container": PrivateName(
        "autogen_agentchat.teams._group_chat._chat_agent_container",
        "trace_invoke_agent_span",
        "runtime/_autogen_spans.py: one agent's turn in a team becomes our invoke_agent span",
    ),
    "trace_invoke_agent_span@agent": PrivateName(
        "autogen_agentchat.agents._base_chat_agent",
        "trace_invoke_agent_span",
        "runtime/_autogen_spans.py: an agent's turn run on its own",
    ),
    "trace_create_agent_span@agent": PrivateName(
        "autogen_agentchat.agents._base_chat_agent",
        "trace_create_agent_span",
        "runtime/_autogen_spans.py: quieted inside a run",
    ),
    "trace_tool_span@tools": PrivateName(
        "autogen_core.tools._base", "trace_tool_span", "runtime/_autogen_spans.py: our execute_tool span"
    ),
}

# Attributes of AutoGen objects read by name (no public accessor exists): which class has them, and why.
# The test builds a real team and checks each is there.
INSTANCE_ATTRIBUTES: dict[str, tuple[str, str]] = {
    "_previous_speaker": ("SelectorGroupChatManager", "agents/_selector.py: who spoke last"),
    "_participant_names": ("SelectorGroupChatManager", "agents/_selector.py: the team's order"),
    "_model_client": ("SelectorGroupChatManager", "agents/_selector.py: constrained for one selection"),
    "_embedded_runtime": ("BaseGroupChat", "runtime/_runner.py: whether the team owns its runtime"),
    "_runtime": ("BaseGroupChat", "runtime/_runner.py: the team's runtime"),
    "_background_tasks": ("SingleThreadedAgentRuntime", "runtime/_runner.py: handlers cancelled on a stop"),
    "_termination_condition": ("BaseGroupChat", "agents/_stop.py: which condition stopped the team"),
}


class AutoGenMoved(UsageError):
    """A private AutoGen name troupe relies on is not where the checked versions had it."""


def private(key: str) -> Any:
    """The object `PRIVATE_NAMES[key]` names, imported on first use; `AutoGenMoved` when it is gone."""
    name = PRIVATE_NAMES[key]
    try:
        value: Any = importlib.import_module(name.module)
        for part in name.attribute.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as e:
        checked = ", ".join(f"{dist} {version}" for dist, version in CHECKED_WITH.items())
        raise AutoGenMoved(
            f"AutoGen's private {name.module}.{name.attribute} is gone ({type(e).__name__}: {e}); troupe "
            f"uses it for {name.why}, and was checked with {checked}. Install those versions, or update "
            "autogen_troupe/_autogen.py."
        ) from e
    return value


def instance_attribute(obj: Any, name: str, default: Any = None) -> Any:
    """`obj.name` for a name listed in `INSTANCE_ATTRIBUTES`, or `default` where the object has none."""
    if name not in INSTANCE_ATTRIBUTES:
        raise KeyError(f"{name} is not a listed AutoGen attribute (add it to INSTANCE_ATTRIBUTES)")
    return getattr(obj, name, default)
