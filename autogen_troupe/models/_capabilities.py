"""Endpoint capabilities: what a model's endpoint can do, and the constrained decisions that follow.

Wherever the framework itself needs a decision from a model (who speaks next, which tool with which
arguments, what score), a model that can answer anything may answer nothing valid: a small model names
no agent, writes a tool call as prose, forgets the score. An endpoint that decodes under a grammar
cannot: the answer is one of the choices, or JSON under the schema.

Where "the endpoint supports it" comes from:
- the in-process engine: always (vLLM's structured outputs, required and named tool choice);
- an OpenAI-compatible endpoint: its profile's `capabilities:` (pinned by hand or by `troupe probe
  --save`), over what its built-in preset knows (the `vllm` preset: a vLLM server);
- anything else (a scripted or recorded client, an unknown endpoint): nothing is known, and the request
  stays exactly as it was without capabilities.

The constraints go out as `extra_create_args={"extra_body": {...}}`, which both our clients put into the
request body: vLLM's server and our in-process engine read the same `structured_outputs` and
`response_format` fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..scenario._capabilities import CAPABILITY_NAMES, Capabilities
from ._resolved import ResolvedModel

__all__ = [
    "CAPABILITY_NAMES",
    "IN_PROCESS",
    "UNKNOWN",
    "Capabilities",
    "capabilities_of",
    "choice_args",
    "forces_tool_choice",
    "json_args",
    "score_schema",
]

UNKNOWN = Capabilities()
IN_PROCESS = Capabilities(
    tool_calls=True,
    tool_required=True,
    tool_named=True,
    parallel_tool_calls=True,
    json_schema=True,
    choice=True,
    stream_usage=True,
    template_tools=True,
)
_MAX_ENUM = 21  # a score scale this short is written as an enum (every grammar engine takes one)


def capabilities_of(spec: ResolvedModel | None) -> Capabilities:
    """What the model's endpoint can do, as its provider knows it (UNKNOWN for no spec)."""
    if spec is None:
        return UNKNOWN
    from ._registry import get_provider

    return get_provider(spec.provider).capabilities(spec)


def choice_args(caps: Capabilities, names: Sequence[str]) -> dict[str, Any] | None:
    """Request arguments that make the answer exactly one of `names`; None when the endpoint cannot."""
    if not names:
        return None
    if caps.choice:
        return {"extra_body": {"structured_outputs": {"choice": list(names)}}}
    if caps.json_schema:  # the answer is then the name in quotes, which a mention search still finds
        schema = {"type": "string", "enum": list(names)}
        return {"extra_body": {"response_format": _schema_format("choice", schema)}}
    return None


def json_args(caps: Capabilities, schema: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    """Request arguments that make the answer JSON under `schema`; None when the endpoint cannot."""
    if caps.json_schema:
        return {"extra_body": {"response_format": _schema_format(name, schema)}}
    if caps.choice:  # vLLM's own field, when only that was measured
        return {"extra_body": {"structured_outputs": {"json": dict(schema)}}}
    return None


def score_schema(low: int, high: int, *, reason_chars: int = 300) -> dict[str, Any]:
    """A judge's answer as JSON: the score first (a cut answer still holds it), then a short reason."""
    score: dict[str, Any] = {"type": "integer"}
    if high - low < _MAX_ENUM:
        score["enum"] = list(range(low, high + 1))
    else:
        score.update(minimum=low, maximum=high)
    return {
        "type": "object",
        "properties": {"score": score, "reason": {"type": "string", "maxLength": reason_chars}},
        "required": ["score", "reason"],
        "additionalProperties": False,
    }


def forces_tool_choice(
    caps: Capabilities, force: bool | None, messages: Sequence[Any], tools: Sequence[Any], choice: Any
) -> bool:
    """Whether a call's tool_choice "auto" becomes "required": the profile asks for it (`force_tool_choice`,
    for models too small to decide), the endpoint honours "required", the call has tools, and the
    conversation's last message is not a tool result already (the agent may then answer with it)."""
    from autogen_core.models import FunctionExecutionResultMessage

    return bool(
        force
        and caps.tool_required
        and tools
        and choice == "auto"
        and not (messages and isinstance(messages[-1], FunctionExecutionResultMessage))
    )


def _schema_format(name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": dict(schema), "strict": True}}
