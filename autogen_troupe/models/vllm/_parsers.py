"""A profile's tool-call and reasoning parser names, checked against vLLM's registries before the model loads.

vLLM itself learns of a misspelt parser only when a request first builds it (`KeyError` deep in serving),
or, for the reasoning parser given to the engine, after a model of several GiB has loaded. The names are
in vLLM's parser managers, which list them without importing a parser or loading a model.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from ...errors import ProfileError

__all__ = ["check_parsers", "registered_parsers"]


def check_parsers(
    model: str,
    tool_parser: str | None,
    reasoning_parser: str | None,
    *,
    tool_parsers: Collection[str],
    reasoning_parsers: Collection[str],
) -> None:
    """Raise a ProfileError naming the fix when a parser is not one vLLM has."""
    for what, name, known in (
        ("tool_parser", tool_parser, tool_parsers),
        ("reasoning_parser", reasoning_parser, reasoning_parsers),
    ):
        if name is None or name in known:
            continue
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ProfileError(
            f"model {model}: {what} {name!r} is not one of this vLLM's parsers; {hint}"
            f"it has: {', '.join(sorted(known))}"
        )


def registered_parsers() -> tuple[list[str], list[str]]:
    """vLLM's tool-call and reasoning parser names (imports vLLM: call after `_engine.import_vllm()`)."""
    try:
        from vllm.tool_parsers import ToolParserManager
    except ImportError:  # vLLM before 0.12 kept them with the OpenAI server
        from vllm.entrypoints.openai.tool_parsers import ToolParserManager  # type: ignore[no-redef,import-not-found,unused-ignore]
    from vllm.reasoning import ReasoningParserManager

    return _names(ToolParserManager, "tool_parsers"), _names(ReasoningParserManager, "reasoning_parsers")


def _names(manager: object, table: str) -> list[str]:
    listed = getattr(manager, "list_registered", None)
    if callable(listed):
        return list(listed())
    return list(getattr(manager, table, {}))  # older vLLM: the eager table only
