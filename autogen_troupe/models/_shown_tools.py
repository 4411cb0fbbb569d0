"""Tools as a model reads them: a long list of allowed values is said, not listed.

A narrowed argument (`arguments:` in a scenario, e.g. 418 time zones) would put thousands of tokens into
every prompt and, on a 4,096-token model, leave no room for the conversation. The model reads "one of N
allowed values" instead; the in-process engine still decodes under the whole list (its grammar is built
from the request's tools, the prompt from `chat_template_kwargs.tools`), and on any endpoint a value
outside the list is refused before the server sees it (tools/_narrowing.py), naming the closest ones.

One view for every client and for the context budget's estimate (agents/_context.py), so what is counted
is what is sent, live and in a replay alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

__all__ = ["SHOWN_ENUM", "shown_parameters", "shown_tool", "template_kwargs"]

SHOWN_ENUM = 24  # longer lists of allowed values are decoded under (or checked), not read out in the prompt

_Schema = TypeVar("_Schema", bound=Mapping[str, Any])


def shown_parameters(parameters: Mapping[str, Any]) -> dict[str, Any] | None:
    """The parameters with each top-level list of over `SHOWN_ENUM` values said in its description;
    None when no list is that long (the schema is shown as it is)."""
    given = parameters.get("properties") or {}
    long = [name for name, prop in given.items() if _long_enum(prop)]
    if not long:
        return None
    properties = dict(given)
    for name in long:
        prop = given[name]
        said = str(prop.get("description") or "").strip()
        note = f"One of {len(prop['enum'])} allowed values."
        properties[name] = {k: v for k, v in prop.items() if k != "enum"}
        properties[name]["description"] = f"{said} {note}" if said else note
    return {**parameters, "properties": properties}


def shown_tool(schema: _Schema) -> _Schema:
    """A tool schema (AutoGen's ToolSchema, or an OpenAI `function` block) as the model reads it: the
    same object when nothing in it is long."""
    parameters = schema.get("parameters")
    shown = shown_parameters(parameters) if isinstance(parameters, Mapping) else None
    if shown is None:
        return schema
    return {**schema, "parameters": shown}  # type: ignore[return-value]


def template_kwargs(
    entries: Sequence[Mapping[str, Any]], given: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The `chat_template_kwargs` that make a vLLM chat template render `entries` (OpenAI tool entries,
    whose whole lists the grammar takes) as the model reads them; None when nothing in them is long, so
    the request stays what `vllm serve` would get. `tools` already in `given` wins."""
    shown = [{**e, "function": shown_tool(e["function"])} for e in entries]
    if all(s["function"] is e["function"] for s, e in zip(shown, entries, strict=True)):
        return None
    return {"tools": shown, **(given or {})}


def _long_enum(prop: Any) -> bool:
    values = prop.get("enum") if isinstance(prop, Mapping) else None
    return isinstance(values, list | tuple) and len(values) > SHOWN_ENUM
