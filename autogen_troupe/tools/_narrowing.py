"""A scenario's narrower argument schemas (`arguments:`, scenario/_tool_arguments.py) applied to an MCP
server's tools: merged into the schema the model gets (so a constraining endpoint decodes only allowed
values), checked against the server's own schema when the run starts, and enforced on every call (so an
endpoint that does not constrain gets a refusal the model can act on, and the server never sees the value).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from autogen_core.tools import ParametersSchema

from ..scenario._tool_arguments import ArgumentRule

__all__ = ["argument_problems", "narrowed", "refusal"]

_SHOWN_CHOICES = 5  # the closest allowed values a refusal names


def narrowed(params: ParametersSchema, rules: Mapping[str, ArgumentRule]) -> ParametersSchema:
    """The tool's parameters with each rule's keywords merged into its argument's schema."""
    if not rules:
        return params
    properties = dict(params.get("properties") or {})
    for name, rule in rules.items():
        properties[name] = {**properties.get(name, {}), **rule.json_schema()}
    return ParametersSchema(**{**params, "properties": properties})


def argument_problems(
    server: str, tools: Mapping[str, dict[str, Any]], arguments: Mapping[str, Any]
) -> list[str]:
    """Sentences for each narrowing that names a tool or argument the server does not have, or allows a
    value the server's own schema refuses. `tools`: the server's tool name -> its (inlined) input schema."""
    from jsonschema import Draft202012Validator, SchemaError  # type: ignore[import-untyped]

    out: list[str] = []
    for tool, rules in arguments.items():
        if tool not in tools:
            out.append(
                f"arguments names tool {tool!r}, which MCP server {server!r} does not offer "
                f"(it offers: {', '.join(tools) or 'no tools'})"
            )
            continue
        properties = tools[tool].get("properties") or {}
        for name, rule in rules.items():
            if name not in properties:
                out.append(
                    f"arguments names {tool}.{name}, but tool {tool!r} of MCP server {server!r} has no such "
                    f"argument (it has: {', '.join(properties) or 'none'})"
                )
                continue
            try:
                check = Draft202012Validator(properties[name])
                misfit = next((v for v in rule.enum or () if not check.is_valid(v)), None)
            except SchemaError:  # the server's schema is its own business; the call will tell
                continue
            if misfit is not None:
                out.append(
                    f"arguments allows {misfit!r} for {tool}.{name}, which the server's schema refuses "
                    f"({_schema_summary(properties[name])})"
                )
    return out


def refusal(tool: str, arguments: Mapping[str, Any], rules: Mapping[str, ArgumentRule]) -> str | None:
    """None when every narrowed argument is allowed; else what is wrong, for the model to try again."""
    for name, rule in rules.items():
        if name not in arguments:
            continue  # missing arguments are the server's to refuse, as they were before narrowing
        value = arguments[name]
        where = f"Argument {name!r} of {tool!r}"
        if rule.enum is not None and not _listed(value, rule.enum):
            return f"{where}: {_short(value)} is not allowed. {_closest(value, rule.enum)}"
        if rule.pattern is not None and not (isinstance(value, str) and re.search(rule.pattern, value)):
            return f"{where}: {_short(value)} does not match the pattern {rule.pattern!r}."
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if rule.minimum is not None and not (number and value >= rule.minimum):
            return f"{where}: {_short(value)} is not a number of at least {rule.minimum:g}."
        if rule.maximum is not None and not (number and value <= rule.maximum):
            return f"{where}: {_short(value)} is not a number of at most {rule.maximum:g}."
    return None


def _listed(value: Any, allowed: tuple[Any, ...]) -> bool:
    """Whether the value is one of the allowed ones as JSON sees it: `true` is not 1 (as Python has it)."""
    return any(v == value and isinstance(v, bool) == isinstance(value, bool) for v in allowed)


def _closest(value: Any, allowed: tuple[Any, ...]) -> str:
    if len(allowed) <= _SHOWN_CHOICES * 2:
        return "Allowed: " + ", ".join(repr(v) for v in allowed) + "."
    words = [str(v) for v in allowed]
    said = str(value)
    near = difflib.get_close_matches(said, words, n=_SHOWN_CHOICES, cutoff=0.3) if len(said) <= 200 else []
    if not near:
        return f"It must be one of {len(allowed)} allowed values (see the tool's schema)."
    return f"The closest of the {len(allowed)} allowed values: " + ", ".join(repr(v) for v in near) + "."


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _schema_summary(schema: Mapping[str, Any]) -> str:
    keys = {k: schema[k] for k in ("type", "enum", "pattern", "minimum", "maximum") if k in schema}
    return ", ".join(f"{k} {_short(v)}" for k, v in keys.items()) or "its schema"
