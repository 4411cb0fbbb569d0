"""The scenario file format: the schema (pydantic), located and bounded file reading, the loader.

Imports no other room and no AutoGen, openai, mcp or vLLM code, so `troupe check` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._changes import parse_change
    from ._graph_draw import mermaid, outline
    from ._judge import Judge
    from ._loader import bundled_scenarios, iter_scenario_files, load_scenario, resolve_scenario_path
    from ._located import expand_env
    from ._schema import (
        Agent,
        AllOf,
        AnyOf,
        Expect,
        HandoffRule,
        HttpServer,
        Limits,
        MaxMessages,
        McpClientSettings,
        McpPrompt,
        McpServer,
        McpUse,
        ModelContext,
        ModelInfoSpec,
        ModelRef,
        ModelSpec,
        PythonToolUse,
        Scenario,
        SourceMatch,
        StdioServer,
        Team,
        TermRule,
        TextMention,
        Timeout,
        TokenUsage,
        iter_rules,
    )
    from ._template import task_placeholders

__all__ = [
    "Agent",
    "AllOf",
    "AnyOf",
    "Expect",
    "HandoffRule",
    "HttpServer",
    "Judge",
    "Limits",
    "MaxMessages",
    "McpClientSettings",
    "McpPrompt",
    "McpServer",
    "McpUse",
    "ModelContext",
    "ModelInfoSpec",
    "ModelRef",
    "ModelSpec",
    "PythonToolUse",
    "Scenario",
    "SourceMatch",
    "StdioServer",
    "Team",
    "TermRule",
    "TextMention",
    "Timeout",
    "TokenUsage",
    "bundled_scenarios",
    "expand_env",
    "iter_rules",
    "iter_scenario_files",
    "load_scenario",
    "mermaid",
    "outline",
    "parse_change",
    "resolve_scenario_path",
    "task_placeholders",
]

_WHERE = {
    "Agent": "._schema",
    "AllOf": "._schema",
    "AnyOf": "._schema",
    "Expect": "._schema",
    "HandoffRule": "._schema",
    "HttpServer": "._schema",
    "Judge": "._judge",
    "Limits": "._schema",
    "MaxMessages": "._schema",
    "McpClientSettings": "._schema",
    "McpPrompt": "._schema",
    "McpServer": "._schema",
    "McpUse": "._schema",
    "ModelContext": "._schema",
    "ModelInfoSpec": "._schema",
    "ModelRef": "._schema",
    "ModelSpec": "._schema",
    "PythonToolUse": "._schema",
    "Scenario": "._schema",
    "SourceMatch": "._schema",
    "StdioServer": "._schema",
    "Team": "._schema",
    "TermRule": "._schema",
    "TextMention": "._schema",
    "Timeout": "._schema",
    "TokenUsage": "._schema",
    "bundled_scenarios": "._loader",
    "expand_env": "._located",
    "iter_rules": "._schema",
    "iter_scenario_files": "._loader",
    "load_scenario": "._loader",
    "parse_change": "._changes",
    "resolve_scenario_path": "._loader",
    "task_placeholders": "._template",
    "mermaid": "._graph_draw",
    "outline": "._graph_draw",
}
__getattr__ = lazy_exports(__name__, _WHERE)
